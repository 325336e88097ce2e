import Foundation
import InternCore
@testable import InternLoad
import Testing

/// Percentiles from the histogram: exact below 128 µs, never low and within 1.6 % above, in
/// constant memory.
@Suite struct LatencyHistogramTests {
    /// The exact nearest-rank percentile of `values`.
    static func exact(_ values: [UInt64], _ q: Double) -> UInt64 {
        let sorted = values.sorted()
        return sorted[max(1, Int((q * Double(sorted.count)).rounded(.up))) - 1]
    }

    @Test func smallValues_areExact() {
        var histogram = LatencyHistogram()
        let values: [UInt64] = (0..<1_000).map { UInt64($0 % 128) }
        for value in values { histogram.record(microseconds: value) }
        for q in [0.01, 0.5, 0.9, 0.99, 1.0] {
            #expect(histogram.percentile(q) == Self.exact(values, q))
        }
        #expect(histogram.count == 1_000 && histogram.min == 0 && histogram.max == 127)
    }

    @Test func largeValues_areNeverLow_andWithinOnePointSixPercent() {
        var random = SplitMix64(seed: 5)
        var histogram = LatencyHistogram()
        // Log-uniform from 100 µs to 100 s.
        let values: [UInt64] = (0..<20_000).map { _ in UInt64(100 * pow(10, random.unit() * 6)) }
        for value in values { histogram.record(microseconds: value) }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = Self.exact(values, q), estimate = histogram.percentile(q)
            #expect(estimate >= exact && Double(estimate - exact) <= Double(exact) / 64 + 1, "q \(q): \(estimate) vs \(exact)")
        }
        #expect(histogram.percentile(1) == values.max())
        #expect(histogram.sum == values.reduce(0, +))
    }

    @Test func bucketBounds_coverEveryValueOnce() {
        for value: UInt64 in [0, 1, 127, 128, 129, 255, 256, 1_000, 65_535, 1 << 40, UInt64.max - 1, UInt64.max] {
            let index = LatencyHistogram.index(of: value)
            #expect(LatencyHistogram.upperBound(of: index) >= value)
            if index > 0 { #expect(LatencyHistogram.upperBound(of: index - 1) < value) }
        }
    }

    @Test func merged_isTheHistogramOfBoth_andEmptyIsZero() {
        var a = LatencyHistogram(), b = LatencyHistogram(), both = LatencyHistogram()
        for value: UInt64 in [5, 500, 5_000] { a.record(microseconds: value); both.record(microseconds: value) }
        for value: UInt64 in [7, 70_000] { b.record(microseconds: value); both.record(microseconds: value) }
        a.merge(b)
        #expect(a == both)
        #expect(LatencyHistogram().percentile(0.99) == 0)
        var durations = LatencyHistogram()
        durations.record(.milliseconds(3))
        durations.record(.seconds(-1))
        #expect(durations.max == 3_000 && durations.min == 0)
    }
}
