/// The packed form of consecutive metric points of one attempt: what a worker sends in a report
/// (a `MetricBatch`, docs/protocol.md) and what the store keeps verbatim (`metric_batches.data`),
/// so the coordinator neither decodes a point into a value of its own nor encodes it again.
///
/// Layout (all integers unsigned LEB128 varints; signed ones zigzag-encoded first):
/// `nameCount`, then each name as `length, UTF-8 bytes`; then `pointCount`, then per point
/// `nameIndex, step (signed), value (8 bytes IEEE-754 little-endian), time − baseTime (signed)`,
/// where `baseTime` travels (and is stored) beside the bytes. Points are in `seq` order, without
/// gaps, from the batch's first seq on.
public enum PackedMetricPoints {
    /// Packs points one by one. Jobs print a handful of metric names, in the same order line
    /// after line, so a name is found by guessing the one after the previous point's, then by a
    /// linear scan: no hashing per point (a dictionary takes over past 32 names).
    public struct Writer {
        public let baseTime: Int64
        private var names: [String] = []
        private var overflow: [String: Int] = [:]
        private var previous = -1
        private var body = RecordPacker()
        public private(set) var count = 0

        public init(baseTime: Int64) {
            self.baseTime = baseTime
        }

        public mutating func append(name: String, step: Int64, value: Double, time: Int64) {
            var index = -1
            let guess = previous + 1 < names.count ? previous + 1 : 0
            if !names.isEmpty, names[guess] == name {
                index = guess
            } else if names.count <= 32 {
                index = names.firstIndex(of: name) ?? -1
            } else {
                index = overflow[name] ?? -1
            }
            if index < 0 {
                index = names.count
                names.append(name)
                if names.count > 32 {
                    if overflow.isEmpty { for (i, entry) in names.enumerated() { overflow[entry] = i } } else { overflow[name] = index }
                }
            }
            previous = index
            body.write(UInt64(index))
            body.write(step)
            body.write(value)
            body.write(time &- baseTime)
            count += 1
        }

        /// The packed bytes: the names, the count, the points.
        public func finish() -> [UInt8] {
            var header = RecordPacker()
            header.write(UInt64(names.count))
            for name in names { header.write(name) }
            header.write(UInt64(count))
            return header.bytes + body.bytes
        }
    }

    /// One batch of ``pack(_:_:)``: an attempt's run of consecutive seqs.
    public struct Run: Sendable {
        public var attempt: UInt64
        public var firstSeq: UInt64
        /// The first point's time.
        public var baseTime: Int64
        public var data: [UInt8]
    }

    /// The fields of one point to pack.
    public typealias Fields = (attempt: UInt64, seq: UInt64, name: String, step: Int64, value: Double, time: Int64)

    /// Points (each attempt's in seq order) packed into batches: one per run of consecutive seqs
    /// of one attempt.
    public static func pack<Item>(_ items: [Item], _ fields: (Item) -> Fields) -> [Run] {
        var runs: [Run] = []
        var writer: Writer?
        var current: (attempt: UInt64, firstSeq: UInt64, nextSeq: UInt64) = (0, 0, 0)
        for item in items {
            let point = fields(item)
            if let open = writer, point.attempt != current.attempt || point.seq != current.nextSeq {
                runs.append(Run(attempt: current.attempt, firstSeq: current.firstSeq, baseTime: open.baseTime, data: open.finish()))
                writer = nil
            }
            if writer == nil {
                writer = Writer(baseTime: point.time)
                current = (point.attempt, point.seq, point.seq)
            }
            writer!.append(name: point.name, step: point.step, value: point.value, time: point.time)
            current.nextSeq = point.seq &+ 1
        }
        if let open = writer {
            runs.append(Run(attempt: current.attempt, firstSeq: current.firstSeq, baseTime: open.baseTime, data: open.finish()))
        }
        return runs
    }

    /// What a batch says about one metric (for the `metric_series` summary row).
    public struct Series: Sendable, Equatable {
        public var name: String
        public var count: Int
        public var lastStep: Int64
        public var lastValue: Double
        public var lastTime: Int64
        /// NaN is never an extreme.
        public var min: Double?
        public var max: Double?
    }

    /// A batch read through: its names, its points' count, and each metric's summary.
    public struct Scan: Sendable {
        public var names: [String]
        /// Points in the batch (those skipped included).
        public var count: Int
        /// Each metric's summary over the points read (from `skip` on), in order of first appearance.
        public var series: [Series]
    }

    /// One point, as ``scan(_:baseTime:skip:watching:visit:)`` hands it over.
    public struct Point: Sendable {
        /// Its place in the batch: seq − the batch's first seq.
        public var offset: Int
        public var nameIndex: Int
        public var step: Int64
        public var value: Double
        public var time: Int64
    }

    /// Reads a batch once: every point from `skip` on is summarised, and those of a metric for
    /// which `watching` (asked once per name) says yes are handed to `visit`. `nil` if the bytes
    /// are not a batch: a count or length past the end, a name not UTF-8, a name index out of
    /// range, a varint too long, or bytes left over.
    public static func scan(
        _ bytes: [UInt8], baseTime: Int64, skip: Int = 0, watching: (String) -> Bool = { _ in false },
        visit: (Point) -> Void = { _ in }
    ) -> Scan? {
        bytes.withUnsafeBufferPointer { buffer -> Scan? in
            var reader = Reader(buffer: buffer)
            guard let nameCount = reader.varint(), nameCount <= UInt64(buffer.count) else { return nil }
            var names: [String] = []
            var watched: [Bool] = []
            var seriesIndex: [Int] = []
            for _ in 0..<nameCount {
                guard let length = reader.varint(), length <= UInt64(buffer.count - reader.position) else { return nil }
                let region = UnsafeBufferPointer(rebasing: buffer[reader.position..<reader.position + Int(length)])
                guard let name = String(validating: region, as: UTF8.self) else { return nil }
                reader.position += Int(length)
                names.append(name)
                watched.append(watching(name))
                seriesIndex.append(-1)
            }
            // Every point takes at least 11 bytes: a count past that is not this batch's.
            guard let count = reader.varint(), count <= UInt64(buffer.count - reader.position) / 11 else { return nil }
            var series: [Series] = []
            for offset in 0..<Int(count) {
                guard let nameIndex = reader.varint(), nameIndex < UInt64(names.count), let step = reader.varint(),
                      reader.position + 8 <= buffer.count else { return nil }
                var bits: UInt64 = 0
                for i in 0..<8 { bits |= UInt64(buffer[reader.position + i]) << (8 * UInt64(i)) }
                reader.position += 8
                guard let delta = reader.varint() else { return nil }
                guard offset >= skip else { continue }
                let index = Int(nameIndex)
                let value = Double(bitPattern: bits)
                let point = Point(offset: offset, nameIndex: index, step: Reader.signed(step), value: value, time: baseTime &+ Reader.signed(delta))
                let extreme: Double? = value.isNaN ? nil : value
                if seriesIndex[index] < 0 {
                    seriesIndex[index] = series.count
                    series.append(Series(
                        name: names[index], count: 1, lastStep: point.step, lastValue: value, lastTime: point.time,
                        min: extreme, max: extreme))
                } else {
                    let s = seriesIndex[index]
                    series[s].count += 1
                    series[s].lastStep = point.step
                    series[s].lastValue = value
                    series[s].lastTime = point.time
                    if let extreme {
                        series[s].min = Swift.min(series[s].min ?? extreme, extreme)
                        series[s].max = Swift.max(series[s].max ?? extreme, extreme)
                    }
                }
                if watched[index] { visit(point) }
            }
            guard reader.position == buffer.count else { return nil }
            return Scan(names: names, count: Int(count), series: series)
        }
    }

    /// Every point of a batch, with its metric's name; `nil` if the bytes are not a batch.
    public static func points(_ bytes: [UInt8], baseTime: Int64, skip: Int = 0) -> (names: [String], points: [Point])? {
        var points: [Point] = []
        guard let scan = scan(bytes, baseTime: baseTime, skip: skip, watching: { _ in true }, visit: { points.append($0) }) else { return nil }
        return (scan.names, points)
    }

    private struct Reader {
        let buffer: UnsafeBufferPointer<UInt8>
        var position = 0

        mutating func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while position < buffer.count, shift < 64 {
                let byte = buffer[position]
                position += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }

        /// A zigzagged varint's value.
        static func signed(_ raw: UInt64) -> Int64 { Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))) }
    }
}
