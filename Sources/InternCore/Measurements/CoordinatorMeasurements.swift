import Synchronization

/// The coordinator's own measurements, kept in its process for whoever shows them (the dashboard's
/// `/metrics` under `--http`): how long each report took to store (log appends and the one
/// transaction, to its commit), how long a slot waited for its next attempt after its last
/// one's end was stored (``DecisionClock``), how long each request waited for the
/// coordinator's thread after NNG handed it over, and how long a work request answered at once
/// took from then to its assignment. The coordinator records from its thread, a reader
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
        /// Requests received (their count) and, for each, how long it waited between NNG's
        /// handing it over and the coordinator's thread taking it up, seconds: the queue in front
        /// of the one thread (what waits inside NNG before that, or on the network, is not in it).
        public var requestWait: LatencyBuckets
        /// Work requests answered at once with an assignment (their count) and, for each, the
        /// time from NNG's handing it over to the assignment committed, seconds: dispatch as the
        /// coordinator serves it (requests parked until a trial is free are not in it).
        public var dispatch: LatencyBuckets
    }

    private let state: Mutex<Snapshot>

    /// Empty histograms for `campaign`.
    public init(campaign: String) {
        state = Mutex(Snapshot(
            campaign: campaign, reportCommit: LatencyBuckets(bounds: LatencyBuckets.reportCommitBounds),
            decision: LatencyBuckets(bounds: LatencyBuckets.decisionBounds),
            requestWait: LatencyBuckets(bounds: LatencyBuckets.reportCommitBounds),
            dispatch: LatencyBuckets(bounds: LatencyBuckets.reportCommitBounds)))
    }

    /// A report was stored; committing it took `nanoseconds`.
    public func reportCommitted(nanoseconds: UInt64) {
        state.withLock { $0.reportCommit.record(nanoseconds: nanoseconds) }
    }

    /// A slot got its next attempt `nanoseconds` after its last one's end was stored.
    public func decided(nanoseconds: UInt64) {
        state.withLock { $0.decision.record(nanoseconds: nanoseconds) }
    }

    /// A request was taken up by the coordinator's thread `nanoseconds` after NNG handed it over.
    public func requestTakenUp(waited nanoseconds: UInt64) {
        state.withLock { $0.requestWait.record(nanoseconds: nanoseconds) }
    }

    /// A work request got its assignment, committed, `nanoseconds` after NNG handed it over.
    public func dispatched(nanoseconds: UInt64) {
        state.withLock { $0.dispatch.record(nanoseconds: nanoseconds) }
    }

    /// A copy of the histograms now.
    public var snapshot: Snapshot { state.withLock { $0 } }
}
