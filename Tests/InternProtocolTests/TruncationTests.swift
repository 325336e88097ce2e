import InternProtocol
import Testing

@Suite("Truncated input")
struct TruncationTests {
    let codec = MessageCodec()

    @Test("every strict prefix of an encoding is rejected as truncated, but where an earlier revision's ended", arguments: Fixtures.small)
    func everyStrictPrefixIsTruncated(_ fixture: Fixture) throws {
        let bytes = codec.encode(fixture.message)
        let earlier = earlierRevisionEnding(of: fixture.message, encoded: bytes)
        for length in 0..<bytes.count {
            if let earlier, length == earlier.length {
                // The message as an earlier revision sent it: its appended fields read as absent.
                #expect(try codec.decode(Array(bytes.prefix(length))) == earlier.message)
                continue
            }
            let error = decodeError(Array(bytes.prefix(length)))
            #expect(error?.code == .truncated, "prefix of \(length)/\(bytes.count) bytes: \(String(describing: error))")
        }
    }

    @Test("strict prefixes of a 1 MiB report are rejected as truncated")
    func bigReportPrefixes() {
        let bytes = codec.encode(Fixtures.bigReport)
        for length in [0, 3, 4, 5, 20, 30, bytes.count / 2, bytes.count - 1] {
            #expect(decodeError(Array(bytes.prefix(length)))?.code == .truncated)
        }
    }

    @Test("truncation error names the list element being read")
    func truncationNamesField() {
        let message = Message.assignment(Assignment(
            requestId: 1, campaign: "c", trialId: 1, attemptId: 1, attemptNumber: 1,
            argv: ["a", "b", "zzzzzzzz"], workdir: "/"))
        let bytes = codec.encode(message)
        let start = bytes.firstIndex(of: UInt8(ascii: "z"))!
        let error = decodeError(Array(bytes.prefix(start + 3)))
        #expect(error?.code == .truncated)
        #expect(error?.message == "truncated while reading Assignment.argv[2]")
        #expect(error?.field == "Assignment.argv[2]")
    }

    @Test("truncation inside a nested record names the record field")
    func nestedFieldPath() {
        let message = Message.report(Report(
            requestId: 1, workerId: "w", incarnation: 1,
            frames: [
                LogFrame(attemptId: 1, stream: .stdout, seq: 1, rawLength: 1, data: [1]),
                LogFrame(attemptId: 1, stream: .stdout, seq: 2, rawLength: 1, data: [0xAA, 0xBB, 0xCC]),
            ]))
        let bytes = codec.encode(message)
        // The last bytes: the second frame's 3 data bytes, then empty metrics, ends and provenance.
        let error = decodeError(Array(bytes.dropLast(4)))
        #expect(error?.message == "truncated while reading Report.frames[1].data")
    }
}
