import InternCore
import Testing

/// The packed form of a run of metric points: what a worker sends and the store keeps verbatim.
@Suite struct PackedMetricPointsTests {
    typealias Fields = PackedMetricPoints.Fields

    /// Every value reads back bit for bit: names (empty, non-ASCII, more than 32 of them), the
    /// steps' and times' extremes, infinities, -0 and NaN payloads.
    @Test func pointsReadBackExactly() throws {
        let nans = [Double.nan, Double(bitPattern: 0x7FF0_0000_0000_0001), Double(bitPattern: 0xFFF8_0000_0000_1234)]
        var points: [(String, Int64, Double, Int64)] = [
            ("loss", -1, 0.25, -1), ("acc/τ", .max, -.infinity, .min), ("", .min, .infinity, .max), ("neg0", 0, -0.0, 0),
        ]
        points += nans.map { ("nan", 7, $0, 3) }
        points += (0..<40).map { ("m\($0)", Int64($0), Double($0), 1_700_000_000_000) }
        points += [("loss", 2, 0.5, 5), ("m39", 1, 1, 1)]
        var writer = PackedMetricPoints.Writer(baseTime: 1_700_000_000_000)
        for (name, step, value, time) in points { writer.append(name: name, step: step, value: value, time: time) }
        #expect(writer.count == points.count)
        let read = try #require(PackedMetricPoints.points(writer.finish(), baseTime: 1_700_000_000_000))
        #expect(read.points.count == points.count)
        for ((name, step, value, time), point) in zip(points, read.points) {
            #expect(read.names[point.nameIndex] == name)
            #expect(point.step == step && point.time == time)
            #expect(point.value.bitPattern == value.bitPattern)
        }
        #expect(read.points.map(\.offset) == Array(0..<points.count))
        // A name is written once, however often its points come.
        #expect(read.names.count == Set(points.map(\.0)).count)
    }

    /// Each metric's summary: its count and last point from `skip` on, its extremes without NaN;
    /// only the watched metrics' points are handed over, each name asked about once.
    @Test func aScanSummarisesEachMetricAndHandsOverTheWatchedPoints() throws {
        var writer = PackedMetricPoints.Writer(baseTime: 100)
        let values: [(String, Double)] = [("loss", 3), ("lr", 0.1), ("loss", .nan), ("loss", 1), ("lr", 0.2), ("loss", 2), ("loss", .nan)]
        for (step, (name, value)) in values.enumerated() { writer.append(name: name, step: Int64(step), value: value, time: 100 + Int64(step)) }
        let data = writer.finish()
        var asked: [String] = []
        var visited: [PackedMetricPoints.Point] = []
        let scan = try #require(PackedMetricPoints.scan(
            data, baseTime: 100, watching: { asked.append($0); return $0 == "loss" }, visit: { visited.append($0) }))
        #expect(asked == ["loss", "lr"])
        #expect(scan.count == 7)
        #expect(visited.map(\.offset) == [0, 2, 3, 5, 6])
        let loss = try #require(scan.series.first { $0.name == "loss" })
        #expect(loss.count == 5 && loss.lastStep == 6 && loss.lastValue.isNaN && loss.lastTime == 106)
        #expect(loss.min == 1 && loss.max == 3)
        let lr = try #require(scan.series.first { $0.name == "lr" })
        #expect(lr.count == 2 && lr.lastValue == 0.2 && lr.min == 0.1 && lr.max == 0.2)
        // From the fourth point on: the first three are neither summarised nor visited.
        visited = []
        let tail = try #require(PackedMetricPoints.scan(data, baseTime: 100, skip: 3, watching: { $0 == "loss" }, visit: { visited.append($0) }))
        #expect(tail.count == 7)
        #expect(visited.map(\.offset) == [3, 5, 6])
        #expect(tail.series.first { $0.name == "loss" }?.count == 3)
        #expect(tail.series.first { $0.name == "lr" }?.min == 0.2)
    }

    /// Bytes that are not a batch read as `nil`, never as points, whatever they are: every
    /// prefix of a good batch, a byte more, names not UTF-8, a name index or a count past what
    /// is there, and random bytes.
    @Test func damagedBytesAreNotABatch() {
        var writer = PackedMetricPoints.Writer(baseTime: 0)
        writer.append(name: "loss", step: 1, value: 0.5, time: 10)
        writer.append(name: "acc", step: 1, value: 0.9, time: 11)
        let good = writer.finish()
        #expect(PackedMetricPoints.scan(good, baseTime: 0) != nil)
        for length in 0..<good.count {
            #expect(PackedMetricPoints.scan(Array(good.prefix(length)), baseTime: 0) == nil, "prefix of \(length) bytes")
        }
        #expect(PackedMetricPoints.scan(good + [0], baseTime: 0) == nil)
        var badName = good
        badName[2] = 0xFF
        #expect(PackedMetricPoints.scan(badName, baseTime: 0) == nil)
        // names: 1 ("x"), count 1, a point naming index 1.
        #expect(PackedMetricPoints.scan([1, 1, 0x78, 1, 1, 2] + [UInt8](repeating: 0, count: 8) + [0], baseTime: 0) == nil)
        #expect(PackedMetricPoints.scan([1, 1, 0x78, 1, 0, 2] + [UInt8](repeating: 0, count: 8) + [0], baseTime: 0)?.count == 1)
        #expect(PackedMetricPoints.scan([0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], baseTime: 0) == nil)
        #expect(PackedMetricPoints.scan([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], baseTime: 0) == nil)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if let scan = PackedMetricPoints.scan(bytes, baseTime: 0) { #expect(scan.count * 11 <= bytes.count) }
        }
    }

    /// Points become one batch per run of an attempt's consecutive seqs: a new attempt or a gap
    /// in the seqs starts the next, each with its first point's time as its base.
    @Test func packingMakesABatchPerRunOfConsecutiveSeqs() throws {
        let fields: [Fields] = [
            (1, 1, "loss", 1, 0.5, 10), (1, 2, "loss", 2, 0.4, 11), (2, 1, "loss", 1, 0.9, 12),
            (2, 2, "acc", 1, 0.1, 13), (2, 4, "loss", 2, 0.8, 14), (1, 3, "loss", 3, 0.3, 15),
        ]
        let runs = PackedMetricPoints.pack(fields) { $0 }
        #expect(runs.map(\.attempt) == [1, 2, 2, 1])
        #expect(runs.map(\.firstSeq) == [1, 1, 4, 3])
        #expect(runs.map(\.baseTime) == [10, 12, 14, 15])
        let counts = try runs.map { try #require(PackedMetricPoints.scan($0.data, baseTime: $0.baseTime)).count }
        #expect(counts == [2, 2, 1, 1])
        #expect(PackedMetricPoints.pack([Fields]()) { $0 }.isEmpty)
    }
}
