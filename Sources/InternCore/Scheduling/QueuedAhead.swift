/// Attempts queued ahead on busy slots: each waits behind the attempt its slot runs and starts
/// on the worker the moment that one ends, so a slot of short trials does not sit idle for the
/// round trip to the coordinator between two of them (`WorkRequest.behind`, docs/protocol.md).
struct QueuedAhead: Sendable {
    /// The attempt queued behind each running one.
    private var next: [AttemptID: AttemptID] = [:]
    /// The attempt each queued one waits behind.
    private var waitsBehind: [AttemptID: AttemptID] = [:]

    /// How many attempts are queued (in flight, not running).
    var count: Int { waitsBehind.count }

    /// Whether an attempt is queued behind `attempt`.
    func hasNext(behind attempt: AttemptID) -> Bool { next[attempt] != nil }

    /// Whether `attempt` is queued and has not started.
    func isQueued(_ attempt: AttemptID) -> Bool { waitsBehind[attempt] != nil }

    /// The attempt `attempt` is queued behind, while it waits.
    func behind(_ attempt: AttemptID) -> AttemptID? { waitsBehind[attempt] }

    /// `attempt` was queued behind `current`.
    mutating func queue(_ attempt: AttemptID, behind current: AttemptID) {
        next[current] = attempt
        waitsBehind[attempt] = current
    }

    /// `attempt` ended: the one queued behind it has started; if it was queued itself, it
    /// never will (lost with its worker, cancelled) and what waited behind it waits no more.
    mutating func ended(_ attempt: AttemptID) {
        if let queued = next.removeValue(forKey: attempt) { waitsBehind[queued] = nil }
        if let current = waitsBehind.removeValue(forKey: attempt) { next[current] = nil }
    }
}

/// How long a stage's last attempts ran (the last 9 that ran to their end): whether its
/// attempts are short enough that a busy slot's next one is worth queuing ahead.
struct RecentWalls: Sendable {
    private var values: [Int64] = []
    private var oldest = 0
    static let kept = 9

    mutating func add(_ millis: Int64) {
        if values.count < Self.kept {
            values.append(millis)
        } else {
            values[oldest] = millis
            oldest = (oldest + 1) % Self.kept
        }
    }

    /// The median of those kept, once at least 3 ran; `nil` before (nothing known yet).
    var median: Int64? {
        guard values.count >= 3 else { return nil }
        return values.sorted()[values.count / 2]
    }
}
