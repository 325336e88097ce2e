import InternProtocol
import Testing

/// The worked examples of docs/protocol.md ("Worked examples"). If these
/// change, the document must change with them.
@Suite("Golden bytes")
struct GoldenBytesTests {
    let codec = MessageCodec()

    static let hello = Message.hello(Hello(
        requestId: 1, workerId: "w1", incarnation: 300, hostname: "h",
        pid: 42, slots: 2, gpus: ["0"], labels: ["k": "v"], held: [9]))
    static let helloHex = "49 4e 06 01 01 02 77 31 ac 02 01 68 2a 02 01 01 30 01 01 6b 01 76 01 09"

    static let report = Message.report(Report(
        requestId: 7, workerId: "w1", incarnation: 300,
        frames: [LogFrame(attemptId: 5, stream: .stderr, seq: 1, rawLength: 3, data: [0xDE, 0xAD, 0xBE, 0xEF])],
        // One sample, loss = 0.5 at step -1, packed (docs/protocol.md, MetricBatch).
        metrics: [MetricBatch(
            attemptId: 5, firstSeq: 1, baseTime: 1_700_000_000_000,
            data: [0x01, 0x04, 0x6c, 0x6f, 0x73, 0x73, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, 0x00])],
        ends: []))
    static let reportHex = """
        49 4e 06 09 07 02 77 31 ac 02 01 05 02 01 03 04 de ad be ef 01 05 01 80 a0 ab fe f9 62 \
        12 01 04 6c 6f 73 73 01 00 01 00 00 00 00 00 00 e0 3f 00 00 00
        """

    @Test("Hello encodes to the documented bytes")
    func helloGolden() throws {
        #expect(hex(codec.encode(Self.hello)) == Self.helloHex)
        #expect(try codec.decode(bytes(hex: Self.helloHex)) == Self.hello)
    }

    @Test("Report with one log frame encodes to the documented bytes")
    func reportGolden() throws {
        #expect(hex(codec.encode(Self.report)) == Self.reportHex)
        #expect(try codec.decode(bytes(hex: Self.reportHex)) == Self.report)
    }
}
