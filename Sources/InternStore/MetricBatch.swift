import InternCore

/// The packed form of consecutive metric points of one attempt, stored as one BLOB per report
/// (`metric_batches.data`): a row per point would cost the coordinator microseconds per point,
/// and a chatty job prints hundreds of thousands of them.
///
/// Layout (all integers unsigned LEB128 varints; signed ones zigzag-encoded first):
/// `nameCount`, then each name as `length, UTF-8 bytes`; then `pointCount`, then per point
/// `nameIndex, step (signed), value (8 bytes IEEE-754 little-endian), time − baseTime (signed)`,
/// where `baseTime` is the batch row's `base_time` column. Points are in `seq` order, from the
/// row's `first_seq` to `last_seq` without gaps.
enum MetricBatch {
    /// What a batch says about one metric: for the `metric_series` summary row.
    struct Summary {
        var name: String
        var count: Int
        var last: IncomingMetric
        /// NaN is never an extreme.
        var min: Double?
        var max: Double?
    }

    /// Packs points (consecutive seqs of one attempt) and summarises each metric, in one pass.
    /// Jobs print a handful of metric names, in the same order line after line, so a name is
    /// found by guessing the one after the previous point's, then by a linear scan: no hashing
    /// per point (a dictionary takes over past 32 names).
    static func pack(_ points: ArraySlice<IncomingMetric>, baseTime: Timestamp) -> (data: [UInt8], series: [Summary]) {
        var series: [Summary] = []
        var overflow: [String: Int] = [:]
        var indices: [Int] = []
        indices.reserveCapacity(points.count)
        var previous = -1
        for point in points {
            var index = -1
            let guess = previous + 1 < series.count ? previous + 1 : 0
            if !series.isEmpty, series[guess].name == point.name {
                index = guess
            } else if series.count <= 32 {
                index = series.firstIndex { $0.name == point.name } ?? -1
            } else {
                index = overflow[point.name] ?? -1
            }
            let value: Double? = point.value.isNaN ? nil : point.value
            if index < 0 {
                index = series.count
                series.append(Summary(name: point.name, count: 1, last: point, min: value, max: value))
                if series.count > 32 {
                    if overflow.isEmpty { for (i, entry) in series.enumerated() { overflow[entry.name] = i } } else { overflow[point.name] = index }
                }
            } else {
                series[index].count += 1
                series[index].last = point
                if let value {
                    series[index].min = Swift.min(series[index].min ?? value, value)
                    series[index].max = Swift.max(series[index].max ?? value, value)
                }
            }
            indices.append(index)
            previous = index
        }
        var out: [UInt8] = []
        out.reserveCapacity(16 + series.count * 16 + points.count * 14)
        writeVarint(UInt64(series.count), &out)
        for entry in series {
            let bytes = Array(entry.name.utf8)
            writeVarint(UInt64(bytes.count), &out)
            out += bytes
        }
        writeVarint(UInt64(points.count), &out)
        for (point, index) in zip(points, indices) {
            writeVarint(UInt64(index), &out)
            writeVarint(zigzag(point.step), &out)
            withUnsafeBytes(of: point.value.bitPattern.littleEndian) { out += $0 }
            writeVarint(zigzag(point.time &- baseTime), &out)
        }
        return (out, series)
    }

    /// Unpacks a batch written by `pack`; `nil` if the bytes are damaged.
    static func decode(_ bytes: [UInt8], attempt: AttemptID, firstSeq: UInt64, baseTime: Timestamp) -> [MetricPointRecord]? {
        var position = 0
        func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while position < bytes.count, shift < 64 {
                let byte = bytes[position]
                position += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }
        guard let nameCount = varint(), nameCount <= UInt64(bytes.count) else { return nil }
        var names: [String] = []
        for _ in 0..<nameCount {
            guard let length = varint(), length <= UInt64(bytes.count - position) else { return nil }
            names.append(String(decoding: bytes[position..<position + Int(length)], as: UTF8.self))
            position += Int(length)
        }
        guard let count = varint(), count <= UInt64(bytes.count) else { return nil }
        var points: [MetricPointRecord] = []
        points.reserveCapacity(Int(count))
        for offset in 0..<count {
            guard let nameIndex = varint(), nameIndex < UInt64(names.count), let step = varint(),
                  position + 8 <= bytes.count else { return nil }
            var bits: UInt64 = 0
            for i in 0..<8 { bits |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            guard let delta = varint() else { return nil }
            points.append(MetricPointRecord(
                attempt: attempt, seq: firstSeq &+ offset, name: names[Int(nameIndex)], step: unzigzag(step),
                value: Double(bitPattern: bits), time: baseTime &+ unzigzag(delta)))
        }
        return points
    }

    private static func writeVarint(_ value: UInt64, _ out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    private static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }
}
