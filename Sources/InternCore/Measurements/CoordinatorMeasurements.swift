import Synchronization

/// The coordinator's own measurements, kept in its process for whoever shows them (the dashboard's
/// `/metrics` under `--http`): how long each report took to store (log appends and the one
/// transaction, to its commit) and how long a slot waited for its next attempt after its last
/// one's end was stored (``DecisionClock``). The coordinator records from its thread, a reader
/// takes a ``Snapshot`` from any other: a lock around fixed bucket counts, so a record costs a
/// few nanoseconds and allocates nothing (but the first after each snapshot, which copies the
/// counts once).
public final class CoordinatorMeasurements: Sendable {
    /// The histograms as they stand.
    public struct Snapshot: Sendable, Equatable {
        /// The campaign the coordinator runs.
        public var campaign: String
        /// Reports stored (their count) and how long each took to commit, seconds.
        public var reportCommit: LatencyBuckets
        /// Attempt end stored to the slot's next assignment, seconds.
        public var decision: LatencyBuckets
    }

    private let state: Mutex<Snapshot>

    /// Empty histograms for `campaign`.
    public init(campaign: String) {
        state = Mutex(Snapshot(
            campaign: campaign, reportCommit: LatencyBuckets(bounds: LatencyBuckets.reportCommitBounds),
            decision: LatencyBuckets(bounds: LatencyBuckets.decisionBounds)))
    }

    /// A report was stored; committing it took `nanoseconds`.
    public func reportCommitted(nanoseconds: UInt64) {
        state.withLock { $0.reportCommit.record(nanoseconds: nanoseconds) }
    }

    /// A slot got its next attempt `nanoseconds` after its last one's end was stored.
    public func decided(nanoseconds: UInt64) {
        state.withLock { $0.decision.record(nanoseconds: nanoseconds) }
    }

    /// A copy of the histograms now.
    public var snapshot: Snapshot { state.withLock { $0 } }
}
