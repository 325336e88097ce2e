/// The workers a coordinator knows: their records (state, resources, lease), and the
/// assignments it remembers for each, so that a repeated request id gets the same answer. A
/// value type with no clock: every change carries `now`.
struct WorkerRegistry: Sendable {
    /// A worker is lost once it has said nothing for longer than this.
    let leaseMillis: Int64
    /// How many answered work requests are remembered per worker.
    let replyMemory: Int
    private(set) var records: [WorkerID: WorkerRecord] = [:]
    /// By worker, the attempts its last requests were given (the plan is rendered again from
    /// the trial: kept whole, 64 plans of every worker were tens of MB at 1,000 workers).
    private var answered: [WorkerID: [(requestID: UInt64, attempt: AttemptID)]] = [:]

    init(leaseMillis: Int64, replyMemory: Int) {
        self.leaseMillis = leaseMillis
        self.replyMemory = replyMemory
    }

    subscript(id: WorkerID) -> WorkerRecord? { records[id] }

    /// Whether requests from this worker incarnation are accepted (without renewing its lease).
    func refusal(of id: WorkerID, incarnation: Incarnation) -> Refusal? {
        guard let record = records[id], record.state != .lost else { return .unknownWorker }
        return record.incarnation == incarnation ? nil : .fenced
    }

    /// Accepts a request from this incarnation, renewing its lease, or says why not.
    mutating func touch(_ id: WorkerID, incarnation: Incarnation, now: Timestamp) -> Refusal? {
        if let refusal = refusal(of: id, incarnation: incarnation) { return refusal }
        records[id]!.lastSeen = now
        return nil
    }

    /// A worker joined (or re-attached, with its reply memory kept).
    mutating func join(_ record: WorkerRecord, rejoining: Bool) {
        records[record.id] = record
        if !rejoining { answered[record.id] = [] }
    }

    /// A worker as the store holds it (restore): a live one gets a fresh lease from `now`.
    mutating func restore(_ record: WorkerRecord, now: Timestamp) {
        var record = record
        if record.state != .lost {
            record.lastSeen = now
            answered[record.id] = []
        }
        records[record.id] = record
    }

    /// Sets a known worker's state; returns its record when it changed.
    mutating func setState(_ state: WorkerRecord.State, of id: WorkerID) -> WorkerRecord? {
        guard var record = records[id], record.state != state else { return nil }
        record.state = state
        records[id] = record
        if state == .lost { answered[id] = nil }
        return record
    }

    /// The attempt this request id was given before, if it is remembered.
    func previousAssignment(worker id: WorkerID, requestID: UInt64) -> AttemptID? {
        answered[id]?.last(where: { $0.requestID == requestID })?.attempt
    }

    /// Remembers the attempt a request was given (the oldest are forgotten beyond `replyMemory`).
    mutating func remember(assignment attempt: AttemptID, worker id: WorkerID, requestID: UInt64) {
        answered[id, default: []].append((requestID, attempt))
        if answered[id]!.count > replyMemory { answered[id]!.removeFirst(answered[id]!.count - replyMemory) }
    }

    /// Live workers whose lease has expired at `now`, by id.
    func expired(now: Timestamp) -> [WorkerRecord] {
        records.values.filter { $0.state != .lost && now - $0.lastSeen > leaseMillis }.sorted { $0.id < $1.id }
    }

    /// When the first lease of a live worker expires.
    var nextExpiry: Timestamp? {
        records.values.lazy.filter { $0.state != .lost }.map { $0.lastSeen + self.leaseMillis + 1 }.min()
    }

    /// Workers not lost.
    var live: [WorkerRecord] { records.values.filter { $0.state != .lost } }
}
