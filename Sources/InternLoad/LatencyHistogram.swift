/// Latencies in microseconds, kept as a log-linear histogram (64 buckets per power of two above
/// 128 µs, one per microsecond below): constant memory however many samples a run records, and
/// any percentile within 1.6 % of the exact one (exact below 128 µs). Min, max, count and sum
/// are exact. A value type: merge the histograms of several recorders with ``merge(_:)``.
public struct LatencyHistogram: Sendable, Equatable {
    /// Buckets below this value hold one microsecond each.
    static let linearLimit: UInt64 = 128
    static let subBuckets: UInt64 = 64

    private(set) var counts: [UInt64]
    /// Number of samples.
    public private(set) var count: UInt64 = 0
    /// Sum of every sample, µs.
    public private(set) var sum: UInt64 = 0
    /// Smallest and largest sample, µs (0 when empty).
    public private(set) var min: UInt64 = 0
    public private(set) var max: UInt64 = 0

    /// An empty histogram.
    public init() {
        counts = Array(repeating: 0, count: Int(Self.index(of: UInt64.max)) + 1)
    }

    /// The bucket a value falls in.
    static func index(of value: UInt64) -> Int {
        if value < linearLimit { return Int(value) }
        let shift = UInt64(63 - value.leadingZeroBitCount) - 6  // value >> shift is in 64..<128
        return Int(linearLimit + (shift - 1) * subBuckets + ((value >> shift) - subBuckets))
    }

    /// The largest value that falls in bucket `index`.
    static func upperBound(of index: Int) -> UInt64 {
        let index = UInt64(index)
        if index < linearLimit { return index }
        let shift = (index - linearLimit) / subBuckets + 1
        let mantissa = (index - linearLimit) % subBuckets + subBuckets
        let (top, overflow) = (mantissa + 1).multipliedReportingOverflow(by: 1 << shift)
        return overflow ? UInt64.max : top - 1
    }

    /// Records one sample.
    public mutating func record(microseconds value: UInt64) {
        counts[Self.index(of: value)] += 1
        min = count == 0 ? value : Swift.min(min, value)
        max = Swift.max(max, value)
        count += 1
        sum &+= value
    }

    /// Records one duration (negative ones count as 0).
    public mutating func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let micros = seconds < 0 ? 0 : UInt64(seconds) * 1_000_000 + UInt64(Swift.max(0, attoseconds) / 1_000_000_000_000)
        record(microseconds: micros)
    }

    /// Adds another histogram's samples to this one.
    public mutating func merge(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        for index in counts.indices { counts[index] += other.counts[index] }
        min = count == 0 ? other.min : Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        count += other.count
        sum &+= other.sum
    }

    /// The nearest-rank percentile (`q` in 0...1), µs: the bucket of the ⌈q·n⌉-th smallest
    /// sample, reported as that bucket's largest value (never more than the maximum seen), so
    /// it errs high, never low. 0 when empty.
    public func percentile(_ q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((q * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, bucket) in counts.enumerated() where bucket > 0 {
            seen += bucket
            if seen >= rank { return Swift.min(Swift.max(Self.upperBound(of: index), min), max) }
        }
        return max
    }

    /// Mean, µs (0 when empty).
    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }
}
