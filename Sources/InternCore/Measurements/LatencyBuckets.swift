/// A latency histogram with fixed bucket bounds, as Prometheus keeps one: a count per bucket (a
/// value falls in the first bucket whose upper bound is at least the value; the last bucket is
/// +Inf), the count of values and their sum. Its storage is made once, at `init`: recording a
/// value changes counts in place and never allocates, so a coordinator may record in its hot path.
public struct LatencyBuckets: Sendable, Equatable {
    /// The buckets' upper bounds in seconds, ascending; a last, +Inf bucket follows them.
    public let bounds: [Double]
    /// Values per bucket (not cumulative): `bounds.count + 1` of them, the last one +Inf's.
    public private(set) var counts: [UInt64]
    /// How many values were recorded, and their sum in seconds.
    public private(set) var count: UInt64 = 0
    public private(set) var sum: Double = 0

    /// An empty histogram with `bounds` (seconds, ascending, finite).
    public init(bounds: [Double]) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 } && bounds.allSatisfy(\.isFinite), "bounds must ascend and be finite")
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    /// Records one latency of `seconds` (a negative one counts as 0; so does NaN).
    public mutating func record(seconds: Double) {
        let value = seconds > 0 ? seconds : 0
        // A dozen or two bounds: a linear scan is as fast as a binary search, and simpler.
        var index = 0
        while index < bounds.count, value > bounds[index] { index += 1 }
        counts[index] += 1
        count += 1
        sum += value
    }

    /// Records one latency of `nanoseconds`.
    public mutating func record(nanoseconds: UInt64) {
        record(seconds: Double(nanoseconds) / 1e9)
    }

    /// The cumulative counts Prometheus's `_bucket` series expose, one per bound then +Inf's
    /// (which equals ``count``).
    public var cumulative: [UInt64] {
        var total: UInt64 = 0
        return counts.map { count in
            total += count
            return total
        }
    }

    /// The upper bound of the bucket that holds the `quantile` (0...1) of the values recorded:
    /// at most that many seconds; `.infinity` when it lies past the last bound; `nil` when
    /// nothing was recorded.
    public func bound(ofQuantile quantile: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = max(1, UInt64((Double(count) * min(max(quantile, 0), 1)).rounded(.up)))
        for (index, total) in cumulative.enumerated() where total >= rank {
            return index < bounds.count ? bounds[index] : .infinity
        }
        return .infinity
    }

    /// Bounds for the coordinator's commit of one report: 100 µs to 2.5 s.
    public static let reportCommitBounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    /// Bounds for a decision (an attempt's end stored to its slot's next assignment): 100 µs to
    /// 60 s (a slot waits for a trial as long as none may run: a pause, a stage waiting for another).
    public static let decisionBounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
}
