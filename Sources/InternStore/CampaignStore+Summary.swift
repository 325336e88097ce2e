import GRDB
import InternCore

/// What `intern status` shows, answered by aggregate queries: a campaign of 10,000 trials is not
/// loaded whole (decoding every trial's parameters was most of its time) to count them.
extension CampaignStore {
    /// How many trials there are by stage, status and feasibility.
    public struct TrialCount: Sendable, Equatable {
        public var stage: Int
        public var status: TrialStatus
        public var feasible: Bool?
        public var count: Int

        public init(stage: Int, status: TrialStatus, feasible: Bool?, count: Int) {
            self.stage = stage
            self.status = status
            self.feasible = feasible
            self.count = count
        }
    }

    public func trialCounts() throws -> [TrialCount] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT stage, status, feasible, COUNT(*) AS n FROM trials GROUP BY stage, status, feasible").map { row in
                TrialCount(
                    stage: (row["stage"] as Int?) ?? 0, status: TrialStatus(rawValue: row["status"]) ?? .failed,
                    feasible: row["feasible"], count: row["n"])
            }
        }
    }

    /// The best completed, feasible trial of `stage` that reported the objective: the lowest
    /// (or, `maximize`, the highest) value, the lowest id among equals; validation repeats are
    /// never it (a repeat's lucky seed is no new configuration).
    public func bestTrial(stage: Int, maximize: Bool) throws -> TrialRecord? {
        try read { db in
            try ColumnRow.map(db, sql: """
                SELECT * FROM trials WHERE stage = ? AND status = 'completed' AND objective IS NOT NULL AND (feasible IS NULL OR feasible != 0)
                AND repeat_number IS NULL ORDER BY objective \(maximize ? "DESC" : "ASC"), id LIMIT 1
                """, arguments: [stage], Self.trial(from:)).first
        }
    }

    /// One trial, by id.
    public func trial(_ id: TrialID) throws -> TrialRecord? {
        try read { db in
            try ColumnRow.map(db, sql: "SELECT * FROM trials WHERE id = ?", arguments: [id], Self.trial(from:)).first
        }
    }

    /// Failed, lost or preempted attempts by failure class, and how many distinct signatures they have.
    public func failureCounts() throws -> (byClass: [FailureClass: Int], signatures: Int) {
        try read { db in
            var byClass: [FailureClass: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT failure_class, COUNT(*) AS n FROM attempts WHERE failure_class IS NOT NULL GROUP BY failure_class") {
                if let failure = FailureClass(rawValue: row["failure_class"]) { byClass[failure, default: 0] += row["n"] as Int }
            }
            let signatures = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT failure_signature) FROM attempts WHERE failure_signature IS NOT NULL") ?? 0
            return (byClass, signatures)
        }
    }

    /// Each failure signature's digest with the excerpt of its latest attempt: what the lab's
    /// "seen in" lines need of a campaign, without reading its failed attempts whole.
    public func failureExcerpts() throws -> [(signature: String, excerpt: String)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT failure_signature, COALESCE(failure_excerpt, '') AS excerpt FROM attempts
                WHERE id IN (SELECT MAX(id) FROM attempts WHERE failure_signature IS NOT NULL GROUP BY failure_signature)
                ORDER BY failure_signature
                """).map { (signature: $0["failure_signature"], excerpt: $0["excerpt"]) }
        }
    }
}

/// What `intern digest`, `best` and `failures` show, read selectively: the few trials and
/// attempts they name are read whole; of the rest only the columns an analysis needs, and a
/// trial's parameters only where they are shown or analysed.
extension CampaignStore {
    /// How each trial of `stage` ended, by id (no parameters read).
    public func trialOutcomes(stage: Int) throws -> [TrialOutcome] {
        try read { db in
            try Self.outcomes(db, sql: "SELECT id, status, objective, feasible, ended_at, repeat_number FROM trials WHERE stage = ? ORDER BY id", arguments: [stage])
        }
    }

    /// The trials that ended after `time` (a trial with no end time counts as ending at 0), by id.
    public func trialsEnded(after time: Timestamp) throws -> [TrialOutcome] {
        try read { db in
            try Self.outcomes(
                db, sql: "SELECT id, status, objective, feasible, ended_at, repeat_number FROM trials WHERE COALESCE(ended_at, 0) > ? ORDER BY id", arguments: [time])
        }
    }

    /// When the latest trial ended (0: none has).
    public func lastTrialEnd() throws -> Timestamp {
        try read { db in try Timestamp.fetchOne(db, sql: "SELECT MAX(ended_at) FROM trials") ?? 0 }
    }

    /// Every trial's stage and how it ended, by id, in one scan: ``trialCounts()`` and
    /// ``trialOutcomes(stage:)`` of every stage at once.
    public func stagedOutcomes() throws -> [(stage: Int, outcome: TrialOutcome)] {
        try read { db in try Self.stagedOutcomes(db) }
    }

    /// ``stagedOutcomes()`` and ``attemptUsage()`` as of one moment (one read transaction): the
    /// digest's two scans, the attempts' trials taken from the first rather than joined.
    public func outcomesAndUsage() throws -> (outcomes: [(stage: Int, outcome: TrialOutcome)], usage: [AttemptUsage]) {
        try read { db in
            let outcomes = try Self.stagedOutcomes(db)
            return (outcomes, try Self.attemptUsage(db, trials: outcomes))
        }
    }

    private static func stagedOutcomes(_ db: Database) throws -> [(stage: Int, outcome: TrialOutcome)] {
        var out: [(stage: Int, outcome: TrialOutcome)] = []
        let statuses = ColumnScan.Cases(TrialStatus.self)
        try ColumnScan.forEach(db, sql: "SELECT id, status, objective, feasible, ended_at, repeat_number, stage FROM trials ORDER BY id") { row in
            out.append((row.int(6), Self.outcome(row, statuses)))
        }
        return out
    }

    private static func outcomes(_ db: Database, sql: String, arguments: StatementArguments) throws -> [TrialOutcome] {
        var out: [TrialOutcome] = []
        let statuses = ColumnScan.Cases(TrialStatus.self)
        try ColumnScan.forEach(db, sql: sql, arguments: arguments) { out.append(outcome($0, statuses)) }
        return out
    }

    /// A row of `id, status, objective, feasible, ended_at, repeat_number` as an outcome.
    private static func outcome(_ row: ColumnScan.Columns, _ statuses: ColumnScan.Cases<TrialStatus>) -> TrialOutcome {
        var outcome = TrialOutcome(
            id: TrialID(row.int64(0)), status: row.value(1, in: statuses) ?? .failed, objective: row.optionalDouble(2),
            feasible: row.optionalBool(3), endedAt: row.optionalInt64(4))
        outcome.isRepeat = row.optionalInt64(5) != nil
        return outcome
    }

    /// The parameters and objective of each completed trial of `stage` that reported its
    /// objective and met its constraints, by id: what parameter importance is computed from
    /// (validation repeats apart: a configuration counts once).
    public func completedParameters(stage: Int) throws -> [(parameters: Parameters, objective: Double)] {
        try completed(stage: stage, columns: "parameters, objective") { (decodeParameters($0.optionalText(0)) ?? Parameters(), $0.double(1)) }
    }

    /// `columns` of the trials ``completedParameters(stage:)`` reads, each row made into a value by `make`.
    private func completed<T>(stage: Int, columns: String, _ make: (ColumnScan.Columns) -> T) throws -> [T] {
        try read { db in
            var out: [T] = []
            try ColumnScan.forEach(db, sql: """
                SELECT \(columns) FROM trials
                WHERE stage = ? AND status = 'completed' AND objective IS NOT NULL AND (feasible IS NULL OR feasible != 0)
                AND repeat_number IS NULL ORDER BY id
                """, arguments: [stage]) { out.append(make($0)) }
            return out
        }
    }

    /// The ids and objectives of the trials ``completedParameters(stage:)`` reads, in its order,
    /// without their parameters: what a reader that keeps decoded parameters between reads
    /// (``parameters(ids:)``: a trial's parameters never change) asks first.
    public func completedObjectives(stage: Int) throws -> [(id: TrialID, objective: Double)] {
        try completed(stage: stage, columns: "id, objective") { (TrialID($0.int64(0)), $0.double(1)) }
    }

    /// The parameters of the trials with these ids that exist, decoded as ``completedParameters(stage:)``
    /// decodes them (unreadable ones as no parameters).
    public func parameters(ids: some Sequence<TrialID>) throws -> [TrialID: Parameters] {
        let wanted = Array(Set(ids)).sorted()
        return try read { db in
            var out: [TrialID: Parameters] = [:]
            for chunk in Self.chunks(wanted) {
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT id, parameters FROM trials WHERE id IN (\(Self.placeholders(chunk.count)))", arguments: StatementArguments(chunk))
                while let row = try rows.next() {
                    out[row[0]] = decodeParameters(row[1]) ?? Parameters()
                }
            }
            return out
        }
    }

    /// The trials with these ids that exist, by id.
    public func trials(ids: some Sequence<TrialID>) throws -> [TrialRecord] {
        let wanted = Array(Set(ids)).sorted()
        return try read { db in
            var out: [TrialRecord] = []
            for chunk in Self.chunks(wanted) {
                out += try ColumnRow.map(
                    db, sql: "SELECT * FROM trials WHERE id IN (\(Self.placeholders(chunk.count)))", arguments: StatementArguments(chunk), Self.trial(from:))
            }
            return out.sorted { $0.id < $1.id }
        }
    }

    /// The validation repeats of `stage` and the trials they repeat, by id: what
    /// ``ValidationVerdict`` judges.
    public func validationTrials(stage: Int) throws -> [TrialRecord] {
        try read { db in
            try ColumnRow.map(db, sql: """
                SELECT * FROM trials WHERE stage = ? AND (repeat_number IS NOT NULL
                    OR id IN (SELECT repeat_of FROM trials WHERE stage = ? AND repeat_of IS NOT NULL)) ORDER BY id
                """, arguments: [stage, stage], Self.trial(from:))
        }
    }

    /// The trials in `status` (those running, say), by id.
    public func trials(status: TrialStatus) throws -> [TrialRecord] {
        try read { db in
            try ColumnRow.map(db, sql: "SELECT * FROM trials WHERE status = ? ORDER BY id", arguments: [status.rawValue], Self.trial(from:))
        }
    }

    /// The attempts that failed with a signature (failed, lost, preempted), by id.
    public func failedAttempts() throws -> [AttemptRecord] {
        try read { db in
            try ColumnRow.map(db, sql: "SELECT * FROM attempts WHERE failure_signature IS NOT NULL ORDER BY id", Self.attempt(from:))
        }
    }

    /// The same attempts as ``failedAttempts()``, only what failure clustering reads of them.
    public func failures() throws -> [FailedAttempt] {
        try read { db in
            var out: [FailedAttempt] = []
            let statuses = ColumnScan.Cases(AttemptStatus.self)
            try ColumnScan.forEach(db, sql: """
                SELECT id, trial_id, failure_signature, failure_class, signature_text, failure_excerpt, failure_reason,
                    status, assigned_at, started_at, ended_at, wall_ms, user_cpu_ms, system_cpu_ms, gpus
                FROM attempts WHERE failure_signature IS NOT NULL ORDER BY id
                """) { row in
                out.append(FailedAttempt(
                    id: AttemptID(row.int64(0)), trial: TrialID(row.int64(1)), signature: row.text(2),
                    failureClass: row.optionalText(3).flatMap(FailureClass.init(rawValue:)), signatureText: row.optionalText(4),
                    excerpt: row.optionalText(5), reason: row.optionalText(6),
                    usage: Self.usage(row, from: 7, statuses: statuses, stage: 0, trialStatus: nil)))
            }
            return out
        }
    }

    /// Of each of these trials that has one, its succeeded attempt (the last, when there are several).
    public func succeededAttempts(trials: some Sequence<TrialID>) throws -> [TrialID: AttemptRecord] {
        let wanted = Array(Set(trials)).sorted()
        return try read { db in
            var out: [TrialID: AttemptRecord] = [:]
            for chunk in Self.chunks(wanted) {
                let attempts = try ColumnRow.map(db, sql: """
                    SELECT * FROM attempts WHERE status = 'succeeded' AND trial_id IN (\(Self.placeholders(chunk.count))) ORDER BY id
                    """, arguments: StatementArguments(chunk), Self.attempt(from:))
                for attempt in attempts { out[attempt.trial] = attempt }
            }
            return out
        }
    }

    /// The metric summaries of these attempts, each attempt's by name.
    public func metricSeries(attempts: some Sequence<AttemptID>) throws -> [AttemptID: [MetricSeriesSummary]] {
        let wanted = Array(Set(attempts)).sorted().map { Int64(clamping: $0) }
        return try read { db in
            var out: [AttemptID: [MetricSeriesSummary]] = [:]
            for chunk in Self.chunks(wanted) {
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT attempt_id, name, count, last_step, last_value, min_value, max_value FROM metric_series
                    WHERE attempt_id IN (\(Self.placeholders(chunk.count))) ORDER BY attempt_id, name
                    """, arguments: StatementArguments(chunk))
                while let row = try rows.next() {
                    out[AttemptID(row[0] as Int64), default: []].append(MetricSeriesSummary(
                        name: row[1], count: row[2], lastStep: row[3], lastValue: row[4], minValue: row[5], maxValue: row[6]))
                }
            }
            return out
        }
    }

    /// For each completed trial of `stage` that met its constraints and has a succeeded attempt,
    /// by id: that attempt's (the last one's) summaries of the named metrics, by name. Trials whose
    /// attempt reported none of them are left out. A Pareto front is chosen among these.
    public func succeededSeries(stage: Int, metrics: [String]) throws -> [(trial: TrialID, series: [MetricSeriesSummary])] {
        guard !metrics.isEmpty else { return [] }
        return try read { db in
            var out: [(trial: TrialID, series: [MetricSeriesSummary])] = []
            let rows = try Row.fetchCursor(db, sql: """
                SELECT a.trial_id, s.name, s.count, s.last_step, s.last_value, s.min_value, s.max_value
                FROM metric_series s JOIN attempts a ON a.id = s.attempt_id
                WHERE s.attempt_id IN (
                    SELECT MAX(b.id) FROM attempts b JOIN trials t ON t.id = b.trial_id
                    WHERE b.status = 'succeeded' AND t.stage = ? AND t.status = 'completed' AND (t.feasible IS NULL OR t.feasible != 0)
                    GROUP BY b.trial_id)
                AND s.name IN (\(Self.placeholders(metrics.count)))
                ORDER BY a.trial_id, s.name
                """, arguments: StatementArguments([stage as any DatabaseValueConvertible] + metrics.map { $0 as any DatabaseValueConvertible }))
            while let row = try rows.next() {
                let trial: TrialID = row[0]
                let summary = MetricSeriesSummary(name: row[1], count: row[2], lastStep: row[3], lastValue: row[4], minValue: row[5], maxValue: row[6])
                if out.last?.trial == trial { out[out.count - 1].series.append(summary) } else { out.append((trial, [summary])) }
            }
            return out
        }
    }

    /// What every attempt used, by attempt id, with its trial's stage and status: a campaign's cost.
    public func attemptUsage() throws -> [AttemptUsage] {
        try outcomesAndUsage().usage
    }

    /// Every attempt's usage, its trial's stage and status looked up in `trials` (sorted by id, as
    /// ``stagedOutcomes()`` reads them): a search in memory costs less than a join's search in
    /// the trials' table for each attempt. An attempt whose trial is not there counts as stage 0,
    /// its trial's status unknown.
    private static func attemptUsage(_ db: Database, trials: [(stage: Int, outcome: TrialOutcome)]) throws -> [AttemptUsage] {
        var out: [AttemptUsage] = []
        let statuses = ColumnScan.Cases(AttemptStatus.self)
        try ColumnScan.forEach(db, sql: """
            SELECT status, assigned_at, started_at, ended_at, wall_ms, user_cpu_ms, system_cpu_ms, gpus, trial_id FROM attempts ORDER BY id
            """) { row in
            let id = TrialID(row.int64(8))
            var low = 0
            var high = trials.count
            while low < high {
                let middle = (low + high) / 2
                if trials[middle].outcome.id < id { low = middle + 1 } else { high = middle }
            }
            let trial = low < trials.count && trials[low].outcome.id == id ? trials[low] : nil
            out.append(Self.usage(row, from: 0, statuses: statuses, stage: trial?.stage ?? 0, trialStatus: trial?.outcome.status))
        }
        return out
    }

    /// `status, assigned_at, started_at, ended_at, wall_ms, user_cpu_ms, system_cpu_ms, gpus` from
    /// column `first` on, as an attempt's usage.
    private static func usage(
        _ row: ColumnScan.Columns, from first: Int32, statuses: ColumnScan.Cases<AttemptStatus>, stage: Int, trialStatus: TrialStatus?
    ) -> AttemptUsage {
        func unsigned(_ index: Int32) -> UInt64? { row.optionalInt64(first + index).map { UInt64(max(0, $0)) } }
        return AttemptUsage(
            status: row.value(first, in: statuses) ?? .lost, assignedAt: row.int64(first + 1), startedAt: row.optionalInt64(first + 2),
            endedAt: row.optionalInt64(first + 3), wallMillis: unsigned(4), userCPUMillis: unsigned(5), systemCPUMillis: unsigned(6),
            gpuCount: row.stringCount(first + 7) ?? 0, stage: stage, trialStatus: trialStatus)
    }

    /// The messages of the events of `kind` among the latest `limit` events, oldest first.
    public func eventMessages(kind: String, limit: Int = 100_000) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: """
                SELECT message FROM (SELECT id, kind, message FROM events ORDER BY id DESC LIMIT ?) WHERE kind = ? ORDER BY id
                """, arguments: [limit, kind])
        }
    }

    /// `?, ?, ?` for `count` values.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// `values` in pieces small enough for one statement's parameters.
    static func chunks<T>(_ values: [T], size: Int = 500) -> [ArraySlice<T>] {
        stride(from: 0, to: values.count, by: size).map { values[$0..<min(values.count, $0 + size)] }
    }
}
