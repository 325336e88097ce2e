import InternProtocol
import Testing

@Suite("Forward compatibility")
struct ForwardCompatibilityTests {
    let codec = MessageCodec()

    @Test("bytes after the last known field are ignored", arguments: Fixtures.small)
    func trailingBytesIgnored(_ fixture: Fixture) throws {
        let bytes = codec.encode(fixture.message)
        for extra: [UInt8] in [[0x00], [0xFF], [0x05, 0x68, 0x65, 0x6C, 0x6C, 0x6F], [UInt8](repeating: 0x80, count: 40)] {
            #expect(try codec.decode(bytes + extra) == fixture.message)
        }
    }

    @Test("a newer revision's appended Hello field is skipped")
    func appendedFieldSkipped() throws {
        let hello = Hello(requestId: 1, workerId: "w1", incarnation: 300, hostname: "h", pid: 42, slots: 2)
        // A hypothetical v1 revision appends `cpuModel: string` to Hello.
        let newer = codec.encode(.hello(hello)) + [0x04] + Array("Xeon".utf8)
        #expect(try codec.decode(newer) == .hello(hello))
    }
}
