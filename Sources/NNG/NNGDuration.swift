import CNNG

/// A timeout or interval as NNG understands it (`nng_duration`: milliseconds in an `Int32`),
/// with ``infinite`` for "never".
public struct NNGDuration: Sendable, Hashable, CustomStringConvertible {
    /// The raw `nng_duration` value: milliseconds, or `-1` for ``infinite``.
    public let milliseconds: Int32

    private init(raw: Int32) {
        self.milliseconds = raw
    }

    /// No timeout: wait forever (`NNG_DURATION_INFINITE`).
    public static let infinite = NNGDuration(raw: cnng_duration_infinite())
    /// Zero: for timeouts, fail at once unless the operation can complete immediately.
    public static let zero = NNGDuration(raw: 0)

    /// A duration of `ms` milliseconds, clamped to `0...Int32.max`.
    public static func milliseconds(_ ms: Int) -> NNGDuration {
        NNGDuration(raw: Int32(clamping: max(0, ms)))
    }

    /// A duration of `s` seconds, clamped to `0...Int32.max` milliseconds.
    public static func seconds(_ s: Int) -> NNGDuration {
        .milliseconds(s.multipliedReportingOverflow(by: 1000).overflow ? Int.max : s * 1000)
    }

    /// Converts a Swift `Duration` (rounded down to whole milliseconds, clamped to `0...Int32.max`).
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 {
            self.init(raw: 0)
        } else if seconds >= Int64(Int32.max / 1000) {
            self.init(raw: Int32.max)
        } else {
            self.init(raw: Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000))
        }
    }

    /// True for ``infinite``.
    public var isInfinite: Bool { milliseconds == NNGDuration.infinite.milliseconds }

    /// `"infinite"` or `"<n>ms"`.
    public var description: String { isInfinite ? "infinite" : "\(milliseconds)ms" }
}
