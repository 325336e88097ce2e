/// Wall-clock time in milliseconds since the Unix epoch.
///
/// The logic never reads a clock: every event carries its `now`, so leases, heartbeats and
/// long-poll timeouts are tested in microseconds with a hand-driven clock.
public typealias Timestamp = Int64

/// A trial's number within its campaign, starting at 1. The sampler draws trial N's
/// parameters from N alone, so the number is also the key to its parameters.
public typealias TrialID = Int

/// An attempt's id, unique within a campaign (1, 2, 3… in dispatch order), never reused.
public typealias AttemptID = UInt64

/// A worker process's incarnation: a random number drawn at every start. A restarted worker
/// has a new one, and nothing the old incarnation held can be claimed by the new one.
public typealias Incarnation = UInt64

/// A worker's identity: stable across reconnects and restarts (a host name, a SLURM task id,
/// or the `--id` given on the command line).
public struct WorkerID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The identity as the worker announced it.
    public var rawValue: String

    /// Wraps a worker id string.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// Allows `"local-1"` literals in tests.
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    public static func < (lhs: WorkerID, rhs: WorkerID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
