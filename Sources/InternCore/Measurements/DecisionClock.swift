/// How long a worker's slot waits for its next attempt: from the moment the end of the attempt
/// it ran is stored to the moment the coordinator assigns that slot another (the check-to-decide
/// loop, in the coordinator's own time). Ends and assignments of one worker are paired oldest
/// first; an attempt queued ahead (assigned behind one still running, docs/protocol.md) was
/// decided before the end, so that end measures 0. Assignments that follow no end (a slot's
/// first, or after a loss) measure nothing, nor do ends no assignment follows (the campaign's
/// last). Pure: the caller passes the time (monotonic nanoseconds).
public struct DecisionClock: Sendable {
    /// When each worker's unanswered ends were stored, oldest first.
    private var waiting: [WorkerID: [UInt64]] = [:]
    /// Attempts whose slot's next attempt was assigned before they ended.
    private var followed: Set<AttemptID> = []
    /// At most this many unanswered ends per worker (more slots than that is rare; the oldest go).
    static let keptPerWorker = 256

    public init() {}

    /// `attempt` of `worker` ended at `now`: `reported` when its end came in a report and was
    /// stored (a slot is free), not when it was lost or cancelled with its worker gone. Returns
    /// the decision's latency when it was already made (queued ahead: 0), else nil.
    public mutating func ended(attempt: AttemptID, worker: WorkerID, reported: Bool, now: UInt64) -> UInt64? {
        if followed.remove(attempt) != nil { return reported ? 0 : nil }
        guard reported else { return nil }
        var ends = waiting.removeValue(forKey: worker) ?? []
        if ends.count >= Self.keptPerWorker { ends.removeFirst() }
        ends.append(now)
        waiting[worker] = ends
        return nil
    }

    /// `worker` was assigned an attempt at `now`, queued behind `behind` (an attempt it runs) or
    /// not (nil): the latency since the oldest end of that worker no assignment has answered, if
    /// any.
    public mutating func assigned(worker: WorkerID, behind: AttemptID?, now: UInt64) -> UInt64? {
        if let behind {
            followed.insert(behind)
            return nil
        }
        guard var ends = waiting.removeValue(forKey: worker), !ends.isEmpty else { return nil }
        let endedAt = ends.removeFirst()
        if !ends.isEmpty { waiting[worker] = ends }
        return now >= endedAt ? now - endedAt : 0
    }

    /// `worker` is gone (lost, or fenced by a new incarnation): its slots wait for nothing.
    public mutating func lost(worker: WorkerID) {
        waiting[worker] = nil
    }

    /// Ends waiting for an assignment, over every worker.
    public var waitingCount: Int { waiting.values.reduce(0) { $0 + $1.count } }
}
