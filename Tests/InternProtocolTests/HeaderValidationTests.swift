import InternProtocol
import Testing

@Suite("Header validation")
struct HeaderValidationTests {
    let codec = MessageCodec()
    var helloBytes: [UInt8] {
        codec.encode(.hello(Hello(requestId: 77, workerId: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1)))
    }

    @Test("wrong magic bytes are rejected as badMagic")
    func badMagic() {
        var bytes = helloBytes
        bytes[0] = UInt8(ascii: "X")
        #expect(decodeError(bytes)?.code == .badMagic)
        bytes = helloBytes
        bytes[1] = 0x00
        #expect(decodeError(bytes)?.code == .badMagic)
        #expect(decodeError([0x00])?.code == .badMagic)
        #expect(decodeError(Array("GET / HTTP/1.1\r\n".utf8))?.code == .badMagic)
    }

    @Test("empty input and a lone magic byte are truncated")
    func tooShortForHeader() {
        #expect(decodeError([])?.code == .truncated)
        #expect(decodeError([0x49])?.code == .truncated)
        #expect(decodeError([0x49, 0x4E])?.code == .truncated)
        #expect(decodeError([0x49, 0x4E, ProtocolVersion.current])?.code == .truncated)
    }

    @Test("major versions other than 4 are unsupportedVersion", arguments: [UInt8(0), 1, 2, 3, 255])
    func unsupportedVersion(_ version: UInt8) {
        var bytes = helloBytes
        bytes[2] = version
        let error = decodeError(bytes)
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.receivedVersion == version)
        #expect(error?.rejectCode == .unsupportedVersion)
        // Even a bare header of another version is reported as a version problem.
        #expect(decodeError([0x49, 0x4E, version])?.code == .unsupportedVersion)
    }

    @Test("unknown kind bytes are unknownKind", arguments: [UInt8(0), 13, 14, 127, 255])
    func unknownKind(_ kind: UInt8) {
        var bytes = helloBytes
        bytes[3] = kind
        let error = decodeError(bytes)
        #expect(error?.code == .unknownKind)
        #expect(error?.rejectCode == .malformed)
    }

    @Test("the requestId can be salvaged from undecodable input to answer Rejected")
    func salvageRequestId() {
        var bytes = helloBytes
        bytes[2] = 2 // future version
        #expect(codec.salvageRequestId(bytes) == 77)
        bytes = helloBytes
        bytes[3] = 200 // unknown kind
        #expect(codec.salvageRequestId(bytes) == 77)
        #expect(codec.salvageRequestId(Array(helloBytes.prefix(4))) == nil)
        #expect(codec.salvageRequestId([0x58, 0x58, 1, 1, 7]) == nil)
        #expect(codec.salvageRequestId([0x49, 0x4E, ProtocolVersion.current, 1, 0x80]) == nil)
        #expect(MessageCodec(maxMessageBytes: 4).salvageRequestId(helloBytes) == nil)
    }
}

@Suite("Field validation")
struct FieldValidationTests {
    let codec = MessageCodec()

    @Test("a bool byte other than 0 or 1 is malformed")
    func boolByteTwo() {
        var bytes = codec.encode(.heartbeatReply(HeartbeatReply(requestId: 1, cancel: [], drain: false, shutdown: false)))
        #expect(bytes.suffix(2) == [0, 0])
        bytes[bytes.count - 2] = 2
        let error = decodeError(bytes)
        #expect(error?.code == .malformed)
        #expect(error?.field == "HeartbeatReply.drain")
        bytes[bytes.count - 2] = 0
        bytes[bytes.count - 1] = 0xFF
        #expect(decodeError(bytes)?.field == "HeartbeatReply.shutdown")
    }

    @Test("an optional presence byte other than 0 or 1 is malformed")
    func optionalPresenceByte() {
        var bytes = codec.encode(.welcome(Welcome(
            requestId: 1, campaign: "c", coordinatorIncarnation: 1, heartbeatIntervalMs: 1,
            leaseTimeoutMs: 1, maxMessageBytes: 1, logFlushIntervalMs: 1, logFlushBytes: 1,
            compressionLevel: 3, metricPrefix: nil)))
        bytes[bytes.count - 1] = 2
        let error = decodeError(bytes)
        #expect(error?.code == .malformed)
        #expect(error?.field == "Welcome.metricPrefix")
    }

    @Test("invalid UTF-8 in a string is malformed", arguments: [
        [UInt8(0xFF)], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x61, 0xE2, 0x82],
    ])
    func invalidUTF8(_ bad: [UInt8]) {
        // Hello with hostname replaced by the bad bytes.
        let prefix = codec.encode(.hello(Hello(requestId: 1, workerId: "w", incarnation: 1, hostname: "", pid: 1, slots: 1)))
        let head = Array(prefix.prefix(8)) // header, requestId, workerId "w", incarnation
        let bytes = head + [UInt8(bad.count)] + bad + [1, 1, 0, 0]
        let error = decodeError(bytes)
        #expect(error?.code == .malformed)
        #expect(error?.field == "Hello.hostname")
    }

    @Test("a log stream other than 1 or 2 is malformed", arguments: [UInt64(0), 3, 200])
    func badStream(_ stream: UInt64) {
        // Report with one frame: attemptId 1, stream X, seq 1, rawLength 0, data empty.
        let frame: [UInt8] = [0x01] + varint(stream) + [0x01, 0x00, 0x00]
        let bytes: [UInt8] = [0x49, 0x4E, ProtocolVersion.current, 9, 1, 1, 0x77, 1, 1] + frame + [0, 0]
        let error = decodeError(bytes)
        #expect(error?.code == .malformed)
        #expect(error?.field == "Report.frames[0].stream")
        let ack: [UInt8] = [0x49, 0x4E, ProtocolVersion.current, 10, 1, 1, 5] + varint(stream) + [1, 0, 0, 0]
        #expect(decodeError(ack)?.field == "ReportAck.stored[0].stream")
    }

    @Test("closed enumerations reject unknown values")
    func closedEnumerations() {
        let noWork: [UInt8] = [0x49, 0x4E, ProtocolVersion.current, 6, 1, 3, 0]
        #expect(decodeError(noWork)?.field == "NoWork.reason")
        var end = MessageCodec().encode(.report(Report(requestId: 1, workerId: "", incarnation: 1, ends: [
            AttemptEnd(attemptId: 1, outcome: .cancelled, startedAtMs: 0, endedAtMs: 0, wallMs: 0),
        ])))
        // header(4) requestId(1) workerId(1) incarnation(1) frames(1) metrics(1) ends count(1) attemptId(1) outcome
        #expect(end[11] == 4)
        end[11] = 6  // the first outcome after 5 preempted
        #expect(decodeError(end)?.field == "Report.ends[0].outcome")
        #expect(decodeError(end)?.code == .malformed)
    }

    @Test("unknown reject codes are accepted and preserved")
    func openRejectCode() throws {
        let bytes: [UInt8] = [0x49, 0x4E, ProtocolVersion.current, 3, 1, 0x2A, 0]
        let decoded = try codec.decode(bytes)
        #expect(decoded == .rejected(Rejected(requestId: 1, code: RejectCode(rawValue: 42), reason: "")))
        #expect(RejectCode(rawValue: 42).description == "code(42)")
        #expect(RejectCode.unknownWorker.rawValue == 3)
    }

    @Test("overlong and overflowing varints are malformed", arguments: [
        [UInt8(0x80), 0x00],                                                     // 0 in two bytes
        [0xFF, 0x80, 0x00],                                                       // 127 in three bytes
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],             // ten bytes, last 0
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],             // 65 bits
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00],       // eleven bytes
    ])
    func badVarint(_ requestId: [UInt8]) {
        let bytes: [UInt8] = [0x49, 0x4E, ProtocolVersion.current, 6] + requestId + [0, 0]
        let error = decodeError(bytes)
        #expect(error?.code == .malformed)
        #expect(error?.field == "NoWork.requestId")
    }

    @Test("the largest ten-byte varint decodes to UInt64.max")
    func maxVarint() throws {
        let bytes: [UInt8] = [0x49, 0x4E, ProtocolVersion.current, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0, 0]
        #expect(try codec.decode(bytes) == .noWork(NoWork(requestId: .max, reason: .idle, retryAfterMs: 0)))
    }

    @Test("signed ints use zigzag")
    func zigzag() throws {
        // Welcome.compressionLevel is the only top-level int: -1 -> 1, 1 -> 2, -64 -> 127, 64 -> 0x80 0x01.
        for (level, wire) in [(Int64(-1), [UInt8(1)]), (1, [2]), (-64, [127]), (64, [0x80, 0x01]), (0, [0])] {
            let bytes = codec.encode(.welcome(Welcome(
                requestId: 0, campaign: "", coordinatorIncarnation: 0, heartbeatIntervalMs: 0,
                leaseTimeoutMs: 0, maxMessageBytes: 0, logFlushIntervalMs: 0, logFlushBytes: 0,
                compressionLevel: level)))
            #expect(Array(bytes[12..<(12 + wire.count)]) == wire, "level \(level)")
        }
    }
}

func varint(_ value: UInt64) -> [UInt8] {
    var v = value
    var out: [UInt8] = []
    while v >= 0x80 {
        out.append(UInt8(v & 0x7F) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
    return out
}
