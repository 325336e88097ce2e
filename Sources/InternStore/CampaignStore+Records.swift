import Foundation
import GRDB
import InternCore

/// The campaign's identity as stored in its directory.
public struct CampaignInfo: Sendable, Equatable {
    public var name: String
    /// The spec file the campaign was started from, and its text at that time.
    public var specPath: String
    public var specYAML: String
    public var objectiveMetric: String?
    /// `minimize` or `maximize`.
    public var objectiveDirection: String?
    public var totalTrials: Int
    public var createdAt: Timestamp
    public var finishedAt: Timestamp?
    /// Where the coordinator listens (for `intern worker --connect`).
    public var coordinatorURL: String?
    /// Why the campaign stopped before every trial ended (a circuit breaker), until it is run again.
    public var stoppedReason: String?
    /// The coordinator's pid and when it last said it was alive (nil once it stopped cleanly).
    public var coordinatorPid: Int?
    public var coordinatorAliveAt: Timestamp?
    /// The host the coordinator runs on (with `coordinatorPid`).
    public var coordinatorHost: String?
    /// Paused by `intern pause` (dispatch stopped until `intern resume`).
    public var paused: Bool = false
    /// What `intern add` changed (trials added, budget raised).
    public var adjustments = CampaignAdjustments()
    /// Waiting pipeline stages already fed (indices).
    public var fedStages: Set<Int> = []
    /// A map stage's items as resolved when the campaign was created (`nil`: no map stage).
    public var mapItems: [String]?
    /// The trials the campaign runs: the spec's and those added.
    public var trialsInAll: Int { totalTrials + adjustments.addedTrials }
}

extension CampaignStore {
    /// Records the campaign on first start, or checks that the directory holds the same campaign.
    @discardableResult
    public func register(spec: CampaignSpec, specPath: String, specYAML: String, now: Timestamp) throws -> CampaignInfo {
        try write { db in
            if let existing = try Self.fetchInfo(db) {
                guard existing.name == spec.name else {
                    throw StoreError(code: .mismatch, message: "\(directory) holds campaign '\(existing.name)', not '\(spec.name)'")
                }
                try db.execute(
                    sql: "UPDATE campaign SET spec_yaml = ?, spec_path = ?, total_trials = ?, stopped_reason = NULL WHERE id = 1",
                    arguments: [specYAML, specPath, spec.trials])
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO campaign (id, name, spec_path, spec_yaml, objective_metric, objective_direction, total_trials, created_at)
                        VALUES (1, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        spec.name, specPath, specYAML, spec.objective?.metric,
                        spec.objective.map { $0.direction == .minimize ? "minimize" : "maximize" }, spec.trials, now,
                    ])
            }
            if let map = spec.map {
                // Resolved once: a campaign run again keeps the items it was created with.
                try db.execute(sql: "UPDATE campaign SET map_items = ? WHERE id = 1 AND map_items IS NULL", arguments: [encodeJSON(map.items)])
            }
            return try Self.fetchInfo(db)!
        }
    }

    /// Records where the coordinator listens, for workers and admin commands to find it.
    /// Records that the coordinator (this process) is alive now; `pid` nil when it stops.
    public func markCoordinatorAlive(pid: Int32?, host: String? = nil, now: Timestamp) throws {
        try write { db in
            try db.execute(sql: "UPDATE campaign SET coordinator_pid = ?, coordinator_alive_at = ?, coordinator_host = ? WHERE id = 1",
                           arguments: [pid.map { Int($0) }, pid == nil ? nil : now, pid == nil ? nil : host])
        }
    }

    public func setCoordinatorURL(_ url: String) throws {
        try write { db in try db.execute(sql: "UPDATE campaign SET coordinator_url = ? WHERE id = 1", arguments: [url]) }
    }

    /// The campaign stored here, if any.
    public func info() throws -> CampaignInfo? {
        try read { db in try Self.fetchInfo(db) }
    }

    private static func fetchInfo(_ db: Database) throws -> CampaignInfo? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM campaign WHERE id = 1") else { return nil }
        return CampaignInfo(
            name: row["name"], specPath: row["spec_path"], specYAML: row["spec_yaml"],
            objectiveMetric: row["objective_metric"], objectiveDirection: row["objective_direction"],
            totalTrials: row["total_trials"], createdAt: row["created_at"], finishedAt: row["finished_at"],
            coordinatorURL: row["coordinator_url"], stoppedReason: row["stopped_reason"],
            coordinatorPid: row["coordinator_pid"], coordinatorAliveAt: row["coordinator_alive_at"], coordinatorHost: row["coordinator_host"],
            paused: row["paused"] ?? false,
            adjustments: CampaignAdjustments(
                addedTrials: row["added_trials"] ?? 0, extraHours: row["extra_hours"] ?? 0, extraGPUHours: row["extra_gpu_hours"] ?? 0,
                agentTrials: row["agent_trials"] ?? 0, agentHours: row["agent_hours"] ?? 0, agentGPUHours: row["agent_gpu_hours"] ?? 0),
            fedStages: Set(decodeJSON([Int].self, row["fed_stages"]) ?? []), mapItems: decodeJSON([String].self, row["map_items"]))
    }

    /// Commits the logic's state changes in one transaction: the store is the journal, so the
    /// coordinator calls this before it sends any reply the same event produced.
    public func apply(_ changes: [StoreChange]) throws {
        guard !changes.isEmpty else { return }
        try write { db in
            for change in changes {
                try Self.apply(change, in: db)
            }
        }
    }

    static func apply(_ change: StoreChange, in db: Database) throws {
        switch change {
        case .trial(let trial):
            try db.cachedStatement(sql: """
                INSERT INTO trials (id, parameters, status, objective, attempt_count, retries_used, lost_count, created_at, ended_at,
                    retry_counts, not_before, note, feasible, stage, parent_id, inputs, outputs, repeat_of, repeat_number, seed, parents)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET status = excluded.status, objective = excluded.objective,
                    attempt_count = excluded.attempt_count, retries_used = excluded.retries_used,
                    lost_count = excluded.lost_count, ended_at = excluded.ended_at, retry_counts = excluded.retry_counts,
                    not_before = excluded.not_before, note = excluded.note, feasible = excluded.feasible,
                    outputs = excluded.outputs
                """).execute(arguments: [
                    trial.id, encodeJSON(trial.parameters), trial.status.rawValue, trial.objective, trial.attemptCount,
                    trial.retriesUsed, trial.lostCount, trial.createdAt, trial.endedAt,
                    trial.retryCounts.byClass.isEmpty ? nil : encodeJSON(trial.retryCounts), trial.notBefore, trial.note, trial.feasible,
                    trial.stage, trial.parent, trial.inputs.isEmpty ? nil : encodeJSON(trial.inputs),
                    trial.outputs.isEmpty ? nil : encodeJSON(trial.outputs), trial.repeatOf, trial.repeatNumber, trial.seed,
                    trial.parents.isEmpty ? nil : encodeJSON(trial.parents),
                ])
        case .attempt(let a):
            try db.cachedStatement(sql: """
                INSERT INTO attempts (id, trial_id, number, worker_id, incarnation, status, argv, assigned_at, started_at,
                    ended_at, exit_code, signal, detail, wall_ms, user_cpu_ms, system_cpu_ms, peak_rss_bytes, objective, request_id,
                    failure_class, failure_signature, failure_reason, signature_text, failure_excerpt, gpus, outputs, environment)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
                    ended_at = excluded.ended_at, exit_code = excluded.exit_code, signal = excluded.signal,
                    detail = excluded.detail, wall_ms = excluded.wall_ms, user_cpu_ms = excluded.user_cpu_ms,
                    system_cpu_ms = excluded.system_cpu_ms, peak_rss_bytes = excluded.peak_rss_bytes,
                    objective = excluded.objective, failure_class = excluded.failure_class,
                    failure_signature = excluded.failure_signature, failure_reason = excluded.failure_reason,
                    signature_text = excluded.signature_text, failure_excerpt = excluded.failure_excerpt,
                    outputs = excluded.outputs
                """).execute(arguments: [
                    a.id, a.trial, a.number, a.worker.rawValue, String(a.incarnation, radix: 16), a.status.rawValue,
                    encodeJSON(a.argv), a.assignedAt, a.startedAt, a.endedAt, a.exitCode.map { Int($0) }, a.signal.map { Int($0) },
                    a.detail, a.wallMillis.map { Int64(clamping: $0) }, a.userCPUMillis.map { Int64(clamping: $0) },
                    a.systemCPUMillis.map { Int64(clamping: $0) }, a.peakRSSBytes.map { Int64(clamping: $0) }, a.objective,
                    a.requestID.map { Int64(bitPattern: $0) }, a.failureClass?.rawValue, a.failureSignature, a.failureReason,
                    a.signatureText, a.failureExcerpt, a.gpus.isEmpty ? nil : encodeJSON(a.gpus),
                    a.outputs.isEmpty ? nil : encodeJSON(a.outputs), a.environment.isEmpty ? nil : encodeJSON(a.environment),
                ])
        case .worker(let w):
            try db.cachedStatement(sql: """
                INSERT INTO workers (id, incarnation, hostname, pid, slots, gpus, cpus, memory_bytes, state, joined_at, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET incarnation = excluded.incarnation, hostname = excluded.hostname,
                    pid = excluded.pid, slots = excluded.slots, gpus = excluded.gpus, cpus = excluded.cpus,
                    memory_bytes = excluded.memory_bytes, state = excluded.state,
                    joined_at = excluded.joined_at, last_seen = excluded.last_seen
                """).execute(arguments: [
                    w.id.rawValue, String(w.incarnation, radix: 16), w.hostname, w.pid, w.slots, encodeJSON(w.gpus),
                    w.cpus, w.memoryBytes, w.state.rawValue, w.joinedAt, w.lastSeen,
                ])
        case .event(let e):
            try db.cachedStatement(sql: """
                INSERT INTO events (at, kind, message, trial_id, attempt_id, worker_id, actor) VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [e.at, e.kind, e.message, e.trial, e.attempt.map { Int64(clamping: $0) }, e.worker?.rawValue, e.actor])
        case .campaignFinished(let at):
            try db.execute(sql: "UPDATE campaign SET finished_at = ?, stopped_reason = NULL WHERE id = 1", arguments: [at])
        case .campaignReopened:
            try db.execute(sql: "UPDATE campaign SET finished_at = NULL WHERE id = 1")
        case .campaignStopped(let reason, let at):
            try db.execute(sql: "UPDATE campaign SET stopped_reason = ? WHERE id = 1", arguments: [reason])
            try db.execute(sql: "INSERT INTO events (at, kind, message) VALUES (?, 'campaign.stopped', ?)", arguments: [at, reason])
        case .campaignAdjusted(let adjustments):
            try db.execute(sql: """
                UPDATE campaign SET added_trials = ?, extra_hours = ?, extra_gpu_hours = ?, agent_trials = ?, agent_hours = ?, agent_gpu_hours = ?
                WHERE id = 1
                """, arguments: [
                    adjustments.addedTrials, adjustments.extraHours, adjustments.extraGPUHours,
                    adjustments.agentTrials, adjustments.agentHours, adjustments.agentGPUHours,
                ])
        case .provenance(let record):
            try store(record, in: db)
        case .stagesFed(let indices):
            try db.execute(sql: "UPDATE campaign SET fed_stages = ? WHERE id = 1", arguments: [encodeJSON(indices.sorted())])
        case .campaignPaused(let paused, let at, let actor):
            try db.execute(sql: "UPDATE campaign SET paused = ? WHERE id = 1", arguments: [paused])
            let message = paused ? "paused: no new attempts until `intern resume`; running attempts go on" : "resumed: dispatching again"
            try db.execute(sql: "INSERT INTO events (at, kind, message, actor) VALUES (?, ?, ?, ?)", arguments: [
                at, paused ? "campaign.paused" : "campaign.resumed", message + (actor.map { " (by \($0))" } ?? ""), actor])
        }
    }

    // MARK: - Reading

    /// Every trial, by id.
    public func trials() throws -> [TrialRecord] {
        try read { db in
            try ColumnRow.map(db, sql: "SELECT * FROM trials ORDER BY id", Self.trial(from:))
        }
    }

    /// Every attempt, by id; or those of one trial.
    public func attempts(trial: TrialID? = nil) throws -> [AttemptRecord] {
        try read { db in
            if let trial {
                return try ColumnRow.map(db, sql: "SELECT * FROM attempts WHERE trial_id = ? ORDER BY number", arguments: [trial], Self.attempt(from:))
            }
            return try ColumnRow.map(db, sql: "SELECT * FROM attempts ORDER BY id", Self.attempt(from:))
        }
    }

    /// Every worker that ever joined.
    public func workers() throws -> [WorkerRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workers ORDER BY id").map { row in
                WorkerRecord(
                    id: WorkerID(row["id"] as String), incarnation: UInt64(row["incarnation"] as String, radix: 16) ?? 0,
                    hostname: row["hostname"], pid: row["pid"], slots: row["slots"],
                    gpus: decodeJSON([String].self, row["gpus"]) ?? [], cpus: row["cpus"], memoryBytes: row["memory_bytes"],
                    state: WorkerRecord.State(rawValue: row["state"]) ?? .lost,
                    joinedAt: row["joined_at"], lastSeen: row["last_seen"])
            }
        }
    }

    /// The most recent events, newest last.
    public func events(limit: Int = 50) throws -> [CampaignEvent] {
        try read { db in
            try ColumnRow.map(db, sql: "SELECT * FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id", arguments: [limit], Self.event(from:))
        }
    }

    /// The events of these kinds (`worker.quarantined`, …), oldest first.
    public func events(kinds: [String]) throws -> [CampaignEvent] {
        guard !kinds.isEmpty else { return [] }
        return try read { db in
            try ColumnRow.map(
                db, sql: "SELECT * FROM events WHERE kind IN (\(Self.placeholders(kinds.count))) ORDER BY id", arguments: StatementArguments(kinds),
                Self.event(from:))
        }
    }

    /// The most recent events a request made with a named actor (agents' and people's steering),
    /// newest last.
    public func actorEvents(limit: Int = 20) throws -> [CampaignEvent] {
        try read { db in
            try ColumnRow.map(
                db, sql: "SELECT * FROM (SELECT * FROM events WHERE actor IS NOT NULL ORDER BY id DESC LIMIT ?) ORDER BY id", arguments: [limit],
                Self.event(from:))
        }
    }

    /// Events after the one numbered `id` (0: from the start), oldest first, with their numbers.
    public func events(after id: Int64, limit: Int = 100_000) throws -> [(id: Int64, event: CampaignEvent)] {
        try read { db in
            try ColumnRow.map(db, sql: "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", arguments: [id, limit]) { row in
                (row["id"], Self.event(from: row))
            }
        }
    }

    static func event(from row: ColumnRow) -> CampaignEvent {
        CampaignEvent(
            kind: row["kind"], message: row["message"], trial: row["trial_id"],
            attempt: (row["attempt_id"] as Int64?).map { AttemptID($0) }, worker: (row["worker_id"] as String?).map { WorkerID($0) },
            at: row["at"], actor: row["actor"])
    }

    /// The number of the latest event (0 when there is none).
    public func lastEventID() throws -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM events") ?? 0 }
    }

    static func trial(from row: ColumnRow) -> TrialRecord {
        var trial = TrialRecord(
            id: row["id"], parameters: decodeParameters(row["parameters"]) ?? Parameters(),
            status: TrialStatus(rawValue: row["status"]) ?? .failed, objective: row["objective"],
            attemptCount: row["attempt_count"], retriesUsed: row["retries_used"], lostCount: row["lost_count"],
            createdAt: row["created_at"], endedAt: row["ended_at"])
        trial.retryCounts = decodeJSON(RetryCounts.self, row["retry_counts"]) ?? RetryCounts()
        trial.notBefore = row["not_before"]
        trial.note = row["note"]
        trial.feasible = row["feasible"]
        trial.stage = row["stage"] ?? 0
        trial.parent = row["parent_id"]
        trial.inputs = decodeJSON(StageInputs.self, row["inputs"]) ?? [:]
        trial.outputs = decodeStringMap(row["outputs"]) ?? [:]
        trial.repeatOf = row["repeat_of"]
        trial.repeatNumber = row["repeat_number"]
        trial.seed = row["seed"]
        trial.parents = decodeJSON([TrialID].self, row["parents"]) ?? []
        return trial
    }

    static func attempt(from row: ColumnRow) -> AttemptRecord {
        var a = AttemptRecord(
            id: AttemptID(row["id"] as Int64), trial: row["trial_id"], number: row["number"],
            worker: WorkerID(row["worker_id"] as String), incarnation: UInt64(row["incarnation"] as String, radix: 16) ?? 0,
            status: AttemptStatus(rawValue: row["status"]) ?? .lost, argv: decodeStrings(row["argv"]) ?? [],
            assignedAt: row["assigned_at"])
        a.startedAt = row["started_at"]
        a.endedAt = row["ended_at"]
        a.exitCode = (row["exit_code"] as Int?).map { Int32(truncatingIfNeeded: $0) }
        a.signal = (row["signal"] as Int?).map { Int32(truncatingIfNeeded: $0) }
        a.detail = row["detail"]
        a.wallMillis = (row["wall_ms"] as Int64?).map { UInt64(max(0, $0)) }
        a.userCPUMillis = (row["user_cpu_ms"] as Int64?).map { UInt64(max(0, $0)) }
        a.systemCPUMillis = (row["system_cpu_ms"] as Int64?).map { UInt64(max(0, $0)) }
        a.peakRSSBytes = (row["peak_rss_bytes"] as Int64?).map { UInt64(max(0, $0)) }
        a.objective = row["objective"]
        a.requestID = (row["request_id"] as Int64?).map { UInt64(bitPattern: $0) }
        a.failureClass = (row["failure_class"] as String?).flatMap(FailureClass.init(rawValue:))
        a.failureSignature = row["failure_signature"]
        a.failureReason = row["failure_reason"]
        a.signatureText = row["signature_text"]
        a.failureExcerpt = row["failure_excerpt"]
        a.gpus = decodeStrings(row["gpus"]) ?? []
        a.outputs = decodeStringMap(row["outputs"]) ?? [:]
        a.environment = decodeStringMap(row["environment"]) ?? [:]
        return a
    }
}

/// A row read by column name straight from SQLite's statement (``ColumnScan``), the positions
/// of the names looked up once per query: GRDB's `Row` copies every value and decodes it through
/// generic metadata, which was most of reading 10,000 trials and their attempts (the dashboard's
/// analysis, the report). Valid only inside the transform it is given to.
struct ColumnRow {
    let columns: ColumnScan.Columns
    let positions: [String: Int32]

    /// Each row of `sql` with `arguments`, made into a `T`.
    static func map<T>(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments(), _ transform: (ColumnRow) throws -> T) throws -> [T] {
        var out: [T] = []
        var positions: [String: Int32]?
        try ColumnScan.forEach(db, sql: sql, arguments: arguments) { columns in
            let known = positions ?? columns.positions()
            positions = known
            out.append(try transform(ColumnRow(columns: columns, positions: known)))
        }
        return out
    }

    /// The value of the named column (`Value` may be optional: NULL reads as nil; as a number
    /// that is not optional, 0). A column a store opened read-only before its migration lacks
    /// reads as NULL.
    subscript<Value: ColumnValue>(_ name: String) -> Value {
        Value.read(columns, at: positions[name] ?? -1)
    }
}

/// What a ``ColumnRow`` reads a column as.
protocol ColumnValue {
    static func read(_ columns: ColumnScan.Columns, at index: Int32) -> Self
}

extension Int64: ColumnValue {
    static func read(_ columns: ColumnScan.Columns, at index: Int32) -> Int64 { columns.int64(index) }
}

extension Int: ColumnValue {
    static func read(_ columns: ColumnScan.Columns, at index: Int32) -> Int { columns.int(index) }
}

extension Double: ColumnValue {
    static func read(_ columns: ColumnScan.Columns, at index: Int32) -> Double { columns.double(index) }
}

extension Bool: ColumnValue {
    static func read(_ columns: ColumnScan.Columns, at index: Int32) -> Bool { columns.int64(index) != 0 }
}

extension String: ColumnValue {
    static func read(_ columns: ColumnScan.Columns, at index: Int32) -> String { columns.text(index) }
}

extension Optional: ColumnValue where Wrapped: ColumnValue {
    static func read(_ columns: ColumnScan.Columns, at index: Int32) -> Wrapped? {
        columns.isNull(index) ? nil : Wrapped.read(columns, at: index)
    }
}

/// A string map as a JSON object with sorted keys, written directly: the coordinator writes one or
/// two per attempt (its environment, its provenance), and a `JSONEncoder` per call cost more than
/// the rest of storing them. The same text `encodeJSON` gives.
func encodeJSON(_ map: [String: String]) -> String {
    var out = "{"
    for (index, key) in map.keys.sorted().enumerated() {
        if index > 0 { out += "," }
        JSONText.appendString(key, to: &out)
        out += ":"
        JSONText.appendString(map[key]!, to: &out)
    }
    return out + "}"
}

/// A list of strings (an attempt's argv) as a JSON array, written directly for the same reason.
func encodeJSON(_ strings: [String]) -> String {
    var out = "["
    for (index, string) in strings.enumerated() {
        if index > 0 { out += "," }
        JSONText.appendString(string, to: &out)
    }
    return out + "]"
}

/// A trial's parameters as a JSON object with sorted keys, written directly: the coordinator
/// writes them with every change of the trial's row (a `JSONEncoder` per call was 3 % of its CPU
/// on short trials). The same text `JSONEncoder` gives: a double as its shortest round-trip
/// form without a trailing `.0`; a value it cannot write (NaN, an infinity) makes the whole
/// text `null`, as it does for `JSONEncoder`.
func encodeJSON(_ parameters: Parameters) -> String {
    var out = "{"
    for (index, key) in parameters.values.keys.sorted().enumerated() {
        if index > 0 { out += "," }
        JSONText.appendString(key, to: &out)
        out += ":"
        switch parameters.values[key]! {
        case .int(let value): out += String(value)
        case .bool(let value): out += value ? "true" : "false"
        case .string(let value): JSONText.appendString(value, to: &out)
        case .double(let value):
            guard value.isFinite else { return "null" }
            let text = value.description
            out += text.hasSuffix(".0") ? String(text.dropLast(2)) : text
        }
    }
    return out + "}"
}

func encodeJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
}

func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
    guard let text else { return nil }
    return try? JSONDecoder().decode(type, from: Data(text.utf8))
}
