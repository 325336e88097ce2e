import InternCore

/// Consecutive metric points of one attempt, packed (``PackedMetricPoints``) as a worker sends
/// them and as `metric_batches.data` keeps them: one row per batch, where a row per point would
/// cost the coordinator microseconds per point, and a chatty job prints hundreds of thousands.
public struct IncomingMetricBatch: Sendable {
    public var attempt: AttemptID
    /// The seq of the first point (1, 2, 3… per attempt); the rest follow without gaps.
    public var firstSeq: UInt64
    /// What the points' times are stored relative to.
    public var baseTime: Timestamp
    /// The packed points, stored verbatim.
    public var data: [UInt8]
    /// The bytes read through once on receipt: their count and each metric's summary.
    public var scan: PackedMetricPoints.Scan

    /// A batch already read through (`scan` of `data`).
    public init(attempt: AttemptID, firstSeq: UInt64, baseTime: Timestamp, data: [UInt8], scan: PackedMetricPoints.Scan) {
        self.attempt = attempt
        self.firstSeq = firstSeq
        self.baseTime = baseTime
        self.data = data
        self.scan = scan
    }

    /// A batch read through here; `nil` if the bytes are not one.
    public init?(attempt: AttemptID, firstSeq: UInt64, baseTime: Timestamp, data: [UInt8]) {
        guard let scan = PackedMetricPoints.scan(data, baseTime: baseTime) else { return nil }
        self.init(attempt: attempt, firstSeq: firstSeq, baseTime: baseTime, data: data, scan: scan)
    }

    /// The seq of the last point; `nil` for an empty batch, or one whose seqs would pass 2^64.
    public var lastSeq: UInt64? {
        guard scan.count > 0 else { return nil }
        let (last, overflow) = firstSeq.addingReportingOverflow(UInt64(scan.count - 1))
        return overflow ? nil : last
    }

    /// The same batch without its first `count` points (stored already: a report resent after
    /// its acknowledgement was lost), packed again.
    func dropping(first count: Int) -> IncomingMetricBatch? {
        guard let (names, points) = PackedMetricPoints.points(data, baseTime: baseTime, skip: count), let first = points.first else { return nil }
        var writer = PackedMetricPoints.Writer(baseTime: first.time)
        for point in points { writer.append(name: names[point.nameIndex], step: point.step, value: point.value, time: point.time) }
        return IncomingMetricBatch(attempt: attempt, firstSeq: firstSeq + UInt64(count), baseTime: first.time, data: writer.finish())
    }

    /// Points packed into batches: one per run of consecutive seqs of one attempt.
    public static func packing(_ points: [IncomingMetric]) -> [IncomingMetricBatch] {
        PackedMetricPoints.pack(points) { ($0.attempt, $0.seq, $0.name, $0.step, $0.value, $0.time) }.compactMap { run in
            IncomingMetricBatch(attempt: run.attempt, firstSeq: run.firstSeq, baseTime: run.baseTime, data: run.data)
        }
    }
}

/// Reading `metric_batches` rows back.
enum MetricBatch {
    /// The points of a stored batch; `nil` if the bytes are damaged.
    static func decode(_ bytes: [UInt8], attempt: AttemptID, firstSeq: UInt64, baseTime: Timestamp) -> [MetricPointRecord]? {
        guard let (names, points) = PackedMetricPoints.points(bytes, baseTime: baseTime) else { return nil }
        return points.map { point in
            MetricPointRecord(
                attempt: attempt, seq: firstSeq &+ UInt64(point.offset), name: names[point.nameIndex], step: point.step,
                value: point.value, time: point.time)
        }
    }
}
