/// Work requests waiting for a trial, oldest first: one per free slot of a worker (credit-based
/// dispatch), each answered when a trial can run, when its long-poll has waited long enough, or
/// when its worker drains, leaves or is lost.
struct ParkedRequests: Sendable {
    struct Request: Sendable {
        var token: RequestToken
        var worker: WorkerID
        var incarnation: Incarnation
        var requestID: UInt64
        var since: Timestamp
    }

    /// A parked request is answered "no work" after waiting this long.
    let longPollMillis: Int64
    private(set) var queue: [Request] = []

    init(longPollMillis: Int64) {
        self.longPollMillis = longPollMillis
    }

    var count: Int { queue.count }
    var isEmpty: Bool { queue.isEmpty }

    /// The same request parked again (its worker's socket resent it after a reconnect): the new
    /// copy takes the old one's place; returns the old copy's token, or nil when none waits.
    mutating func replace(worker: WorkerID, requestID: UInt64, with token: RequestToken) -> RequestToken? {
        guard let index = queue.firstIndex(where: { $0.worker == worker && $0.requestID == requestID }) else { return nil }
        let old = queue[index].token
        queue[index].token = token
        return old
    }

    /// Parks a request. A worker holds at most one per slot: a further one supersedes its oldest
    /// (a confused or hostile client cannot collect more attempts than it has slots), whose
    /// token is returned.
    mutating func park(_ request: Request, slots: Int) -> RequestToken? {
        var superseded: RequestToken?
        let mine = queue.indices.filter { queue[$0].worker == request.worker }
        if mine.count >= slots, let oldest = mine.first {
            superseded = queue.remove(at: oldest).token
        }
        queue.append(request)
        return superseded
    }

    /// The index of the oldest request that `accepts`.
    func firstIndex(where accepts: (Request) -> Bool) -> Int? { queue.firstIndex(where: accepts) }

    mutating func remove(at index: Int) -> Request { queue.remove(at: index) }

    /// Takes every request of a worker.
    mutating func removeAll(of worker: WorkerID) -> [RequestToken] {
        let tokens = queue.filter { $0.worker == worker }.map(\.token)
        queue.removeAll { $0.worker == worker }
        return tokens
    }

    /// Takes every request.
    mutating func removeAll() -> [RequestToken] {
        defer { queue.removeAll() }
        return queue.map(\.token)
    }

    /// Takes the requests that have waited their long-poll out at `now`.
    mutating func expire(now: Timestamp) -> [RequestToken] {
        let expired = queue.filter { now - $0.since >= longPollMillis }.map(\.token)
        queue.removeAll { now - $0.since >= longPollMillis }
        return expired
    }

    /// When the oldest request's long-poll ends.
    var nextExpiry: Timestamp? { queue.lazy.map { $0.since + self.longPollMillis }.min() }
}
