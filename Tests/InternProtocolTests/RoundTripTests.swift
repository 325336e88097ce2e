import InternProtocol
import Testing

@Suite("Round trip")
struct RoundTripTests {
    let codec = MessageCodec()

    @Test("fixtures cover every message kind")
    func fixturesCoverEveryKind() {
        let kinds = Set(Fixtures.small.map(\.message.kind))
        #expect(kinds == Set(MessageKind.allCases))
    }

    @Test("every message kind decodes to an equal value", arguments: Fixtures.all)
    func decodeOfEncodeIsIdentity(_ fixture: Fixture) throws {
        let bytes = codec.encode(fixture.message)
        let decoded = try codec.decode(bytes)
        #expect(decoded == fixture.message)
        #expect(decoded.kind == fixture.message.kind)
        #expect(decoded.requestId == fixture.message.requestId)
    }

    @Test("encodedSize equals the encoded byte count", arguments: Fixtures.all)
    func encodedSizeIsExact(_ fixture: Fixture) {
        #expect(codec.encodedSize(of: fixture.message) == codec.encode(fixture.message).count)
    }

    @Test("per-record encodedSize sums to the Report body")
    func recordSizesAddUp() throws {
        guard case .report(let report) = Fixtures.small.first(where: { $0.name == "Report" })!.message else {
            Issue.record("fixture is not a report")
            return
        }
        let empty = Report(requestId: report.requestId, workerId: report.workerId, incarnation: report.incarnation)
        let frameBytes: Int = report.frames.map(\.encodedSize).reduce(0, +)
        let metricBytes: Int = report.metrics.map(\.encodedSize).reduce(0, +)
        let endBytes: Int = report.ends.map(\.encodedSize).reduce(0, +)
        let provenanceBytes: Int = report.provenance.map(\.encodedSize).reduce(0, +)
        let parts = frameBytes + metricBytes + endBytes + provenanceBytes
        // Each list count stays one byte (count 0 -> small count), so only the records add bytes.
        #expect(codec.encodedSize(of: .report(empty)) + parts == codec.encodedSize(of: .report(report)))
    }

    @Test("header carries magic, current version and kind", arguments: Fixtures.small)
    func headerLayout(_ fixture: Fixture) {
        let bytes = codec.encode(fixture.message)
        #expect(Array(bytes.prefix(4)) == [0x49, 0x4E, ProtocolVersion.current, fixture.message.kind.rawValue])
        #expect(ProtocolVersion.current == 6)
    }

    @Test("1 MiB frame data round-trips and encodes with one exact allocation")
    func bigFrame() throws {
        let bytes = codec.encode(Fixtures.bigReport)
        #expect(bytes.count == codec.encodedSize(of: Fixtures.bigReport))
        // Reserved up front: no geometric growth (which would leave ~1 MiB
        // spare); only allocator rounding may remain.
        #expect(bytes.capacity - bytes.count <= 8192)
        guard case .report(let r) = try codec.decode(bytes) else {
            Issue.record("decoded kind changed")
            return
        }
        #expect(r.frames.first?.data.count == 1 << 20)
    }

    @Test("StringPairs keeps order and resolves duplicates to the last entry")
    func stringPairsOrder() {
        let map: StringPairs = ["b": "1", "a": "2"]
        #expect(map.map(\.key) == ["b", "a"])
        var dup = StringPairs([("k", "1"), ("k", "2")])
        #expect(dup["k"] == "2")
        #expect(dup["missing"] == nil)
        dup.append("z", "3")
        #expect(dup.count == 3)
        #expect(dup[2] == KeyValue("z", "3"))
    }
}
