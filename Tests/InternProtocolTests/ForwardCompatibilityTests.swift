import InternProtocol
import Testing

@Suite("Forward compatibility")
struct ForwardCompatibilityTests {
    let codec = MessageCodec()

    /// The fixtures whose encoding ends with the last field this version knows: a `HeartbeatReply`
    /// with no new intervals ends before them (the bytes after it are read as the intervals).
    static let endingWithTheLastField = Fixtures.small.filter {
        guard case .heartbeatReply(let reply) = $0.message else { return true }
        return reply.logFlushIntervalMs != 0 || reply.heartbeatIntervalMs != 0
    }

    @Test("bytes after the last known field are ignored", arguments: endingWithTheLastField)
    func trailingBytesIgnored(_ fixture: Fixture) throws {
        let bytes = codec.encode(fixture.message)
        for extra: [UInt8] in [[0x00], [0xFF], [0x05, 0x68, 0x65, 0x6C, 0x6C, 0x6F], [UInt8](repeating: 0x80, count: 40)] {
            #expect(try codec.decode(bytes + extra) == fixture.message)
        }
    }

    @Test("a HeartbeatReply without the appended intervals reads them as 0 (unchanged)")
    func heartbeatReplyOfAnEarlierRevision() throws {
        let paced = HeartbeatReply(requestId: 4, cancel: [7], drain: false, shutdown: true, logFlushIntervalMs: 1_000, heartbeatIntervalMs: 2_000)
        let bytes = codec.encode(.heartbeatReply(paced))
        // 1,000 and 2,000 are two-byte varints: without them, the message as a coordinator before the fields sent it.
        var earlier = paced
        earlier.logFlushIntervalMs = 0
        earlier.heartbeatIntervalMs = 0
        #expect(try codec.decode(Array(bytes.dropLast(4))) == .heartbeatReply(earlier))
        #expect(try codec.decode(bytes) == .heartbeatReply(paced))
        // With nothing to change they are not sent; what follows `shutdown` is read as them.
        let unchanged = codec.encode(.heartbeatReply(earlier))
        #expect(unchanged == Array(bytes.dropLast(4)))
        #expect(try codec.decode(unchanged + [0xE8, 0x07, 0xD0, 0x0F, 0xFF]) == .heartbeatReply(paced))
        #expect(decodeError(unchanged + [0xE8, 0x07])?.field == "HeartbeatReply.heartbeatIntervalMs")
        #expect(decodeError(unchanged + [0xFF])?.field == "HeartbeatReply.logFlushIntervalMs")
        // One of the two set: both are sent.
        let heartbeatOnly = HeartbeatReply(requestId: 4, heartbeatIntervalMs: 2_000)
        #expect(codec.encode(.heartbeatReply(heartbeatOnly)).suffix(3) == [0x00, 0xD0, 0x0F])
        #expect(try codec.decode(codec.encode(.heartbeatReply(heartbeatOnly))) == .heartbeatReply(heartbeatOnly))
    }

    @Test("a newer revision's appended Hello field is skipped")
    func appendedFieldSkipped() throws {
        let hello = Hello(requestId: 1, workerId: "w1", incarnation: 300, hostname: "h", pid: 42, slots: 2)
        // A hypothetical v1 revision appends `cpuModel: string` to Hello.
        let newer = codec.encode(.hello(hello)) + [0x04] + Array("Xeon".utf8)
        #expect(try codec.decode(newer) == .hello(hello))
    }
}
