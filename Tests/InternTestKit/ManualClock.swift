import InternCore

/// A clock the test moves by hand: the logic under test takes `now` from it, so leases and
/// timeouts are checked without sleeping.
public struct ManualClock: Sendable {
    /// The current time in Unix milliseconds.
    public private(set) var now: Timestamp

    /// Starts at `start` (an arbitrary but fixed instant by default).
    public init(start: Timestamp = 1_800_000_000_000) { now = start }

    /// Moves time forward.
    public mutating func advance(by milliseconds: Int64) { now += milliseconds }
}
