import InternProtocol
import Testing

@Suite("Resource limits")
struct ResourceLimitTests {
    let codec = MessageCodec()

    static let hostileCounts: [(String, [UInt8])] = [
        // Heartbeat: requestId 1, workerId "w", incarnation 1, running count 2^62.
        ("Heartbeat.running", [0x49, 0x4E, ProtocolVersion.current, 7, 1, 1, 0x77, 1] + varint(1 << 62)),
        // Report: frames count 2^62.
        ("Report.frames", [0x49, 0x4E, ProtocolVersion.current, 9, 1, 1, 0x77, 1] + varint(1 << 62)),
        // Assignment: argv count UInt64.max.
        ("Assignment.argv", [0x49, 0x4E, ProtocolVersion.current, 5, 1, 0, 1, 1, 1] + varint(.max)),
        // Hello: workerId length 2^62.
        ("Hello.workerId", [0x49, 0x4E, ProtocolVersion.current, 1, 1] + varint(1 << 62)),
        // Hello: labels count 2^62.
        ("Hello.labels", [0x49, 0x4E, ProtocolVersion.current, 1, 1, 0, 1, 0, 1, 1, 0] + varint(1 << 62)),
        // Report frame data length UInt64.max.
        ("Report.frames[0].data", [0x49, 0x4E, ProtocolVersion.current, 9, 1, 0, 1, 1, 1, 1, 1, 1] + varint(.max)),
    ]

    @Test("huge declared lengths and counts are rejected quickly without allocating",
          arguments: hostileCounts.map(\.0))
    func hugeCount(_ name: String) {
        var bytes = Self.hostileCounts.first { $0.0 == name }!.1
        while bytes.count < 20 { bytes.append(0) }
        #expect(bytes.count <= 22)
        let clock = ContinuousClock()
        var error: ProtocolError?
        let elapsed = clock.measure { error = decodeError(bytes) }
        #expect(error?.code == .truncated)
        #expect(error?.field == name)
        #expect(elapsed < .milliseconds(100))
    }

    @Test("a count is bounded by the minimum element size")
    func countBoundedByElementSize() {
        // ReportAck.stored: count 3 with only 6 bytes left; a cursor needs 3 bytes, so 3 is too many.
        let bytes: [UInt8] = [0x49, 0x4E, ProtocolVersion.current, 10, 1, 3, 1, 1, 1, 1, 1, 1]
        #expect(decodeError(bytes)?.code == .truncated)
        #expect(decodeError(bytes)?.field == "ReportAck.stored")
    }

    @Test("messages larger than maxMessageBytes are tooLarge")
    func tooLarge() throws {
        let message = Message.hello(Hello(
            requestId: 1, workerId: "w", incarnation: 1,
            hostname: String(repeating: "h", count: 200), pid: 1, slots: 1))
        let bytes = codec.encode(message)
        let exact = MessageCodec(maxMessageBytes: bytes.count)
        #expect(try exact.decode(bytes) == message)
        let small = MessageCodec(maxMessageBytes: bytes.count - 1)
        #expect(decodeError(bytes, codec: small)?.code == .tooLarge)
        // Even garbage is classified as tooLarge first, before any parsing.
        #expect(decodeError([UInt8](repeating: 0, count: 65), codec: MessageCodec(maxMessageBytes: 64))?.code == .tooLarge)
    }

    @Test("the default maximum is 16 MiB")
    func defaultLimit() {
        #expect(MessageCodec().maxMessageBytes == 16 * 1024 * 1024)
        #expect(MessageCodec.defaultMaxMessageBytes == 16 * 1024 * 1024)
    }
}
