import Foundation
import GRDB
import InternCore
import Zstd

/// Where an attempt's stream is stored and how much of it is committed.
public struct StoredLog: Sendable, Equatable {
    /// The stream's file: a zstd stream (`zstdcat` prints the job's output).
    public var path: String
    /// Frames and bytes committed to the index; bytes past `length` are not yet committed.
    public var frames: Int
    public var length: UInt64
    /// The job's output size before compression.
    public var rawLength: UInt64
    /// Output the worker could not keep (its spool was full while the coordinator was away):
    /// counted in `rawLength`, absent from the file.
    public var lostLength: UInt64 = 0
}

/// The summary of one metric of one attempt (`metric_series`).
public struct MetricSeriesSummary: Sendable, Equatable {
    public var name: String
    public var count: Int
    public var lastStep: Int64
    /// NaN reads back as nil (SQLite has no NaN); min and max ignore NaN points.
    public var lastValue: Double?
    public var minValue: Double?
    public var maxValue: Double?
}

/// A metric point as stored.
public struct MetricPointRecord: Sendable, Equatable {
    public var attempt: AttemptID
    public var seq: UInt64
    public var name: String
    public var step: Int64
    public var value: Double
    public var time: Timestamp
}

extension CampaignStore {
    /// The file that holds an attempt's stream.
    public func logPath(trial: TrialID, attempt: AttemptID, stream: StoredStream) -> String {
        "\(directory)/logs/trial-\(trial)/attempt-\(attempt).\(stream).zst"
    }

    /// The committed extent of an attempt's stream.
    public func storedLog(trial: TrialID, attempt: AttemptID, stream: StoredStream) throws -> StoredLog {
        try read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS frames, COALESCE(MAX(offset + length), 0) AS length, COALESCE(SUM(raw_length), 0) AS raw,
                    COALESCE(SUM(CASE WHEN length = 0 THEN raw_length ELSE 0 END), 0) AS lost
                FROM log_frames WHERE attempt_id = ? AND stream = ?
                """, arguments: [Int64(attempt), stream.rawValue])!
            return StoredLog(
                path: logPath(trial: trial, attempt: attempt, stream: stream), frames: row["frames"],
                length: UInt64(row["length"] as Int64), rawLength: UInt64(row["raw"] as Int64),
                lostLength: UInt64(row["lost"] as Int64))
        }
    }

    /// The committed extent of every stored stream, in one read: (trial, attempt, stream, extent).
    public func allStoredLogs() throws -> [(trial: TrialID, attempt: AttemptID, stream: StoredStream, log: StoredLog)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT f.attempt_id AS attempt, f.stream AS stream, a.trial_id AS trial, COUNT(*) AS frames,
                    COALESCE(MAX(f.offset + f.length), 0) AS length, COALESCE(SUM(f.raw_length), 0) AS raw,
                    COALESCE(SUM(CASE WHEN f.length = 0 THEN f.raw_length ELSE 0 END), 0) AS lost
                FROM log_frames f JOIN attempts a ON a.id = f.attempt_id
                GROUP BY f.attempt_id, f.stream ORDER BY a.trial_id, f.attempt_id, f.stream
                """).compactMap { row in
                    guard let stream = StoredStream(rawValue: row["stream"]) else { return nil }
                    let trial: TrialID = row["trial"], attempt = AttemptID(row["attempt"] as Int64)
                    return (trial, attempt, stream, StoredLog(
                        path: logPath(trial: trial, attempt: attempt, stream: stream), frames: row["frames"],
                        length: UInt64(row["length"] as Int64), rawLength: UInt64(row["raw"] as Int64),
                        lostLength: UInt64(row["lost"] as Int64)))
                }
        }
    }

    /// Reads the committed bytes of a stored stream from `offset` to `end` (still compressed).
    /// Throws `truncated` when the file holds fewer than the store indexes: a log cut short on
    /// disk is never read as if it were whole.
    public func readCompressed(_ log: StoredLog, from offset: UInt64, to end: UInt64) throws -> [UInt8] {
        let (bytes, missing) = try readAvailable(log, from: offset, to: end)
        if missing > 0 { throw Self.truncation(log, missing: missing) }
        return bytes
    }

    /// What the file holds of the committed bytes from `offset` to `end`, and how many of them it
    /// lacks (a log cut short on disk: the caller shows what there is, then says what is missing).
    public func readAvailable(_ log: StoredLog, from offset: UInt64, to end: UInt64) throws -> (bytes: [UInt8], missing: UInt64) {
        guard end > offset else { return ([], 0) }
        guard let handle = FileHandle(forReadingAtPath: log.path) else {
            throw StoreError(code: .io, message: "cannot open \(log.path)")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: offset)
            let data = try handle.read(upToCount: Int(end - offset)) ?? Data()
            return ([UInt8](data), end - offset - UInt64(data.count))
        } catch {
            throw StoreError(code: .io, message: "cannot read \(log.path): \(error)")
        }
    }

    /// The error for a log file `missing` compressed bytes short of what the store indexes.
    public static func truncation(_ log: StoredLog, missing: UInt64) -> StoreError {
        StoreError(
            code: .truncated,
            message: "\(log.path) is cut short: the store indexes \(log.length) compressed bytes (\(log.rawLength) bytes of output), the file lacks the last \(missing); the output after what was shown is missing (restore the file from a backup if there is one)")
    }

    /// The job's output for one stream, decompressed: the bytes it wrote, exactly.
    public func readLog(trial: TrialID, attempt: AttemptID, stream: StoredStream) throws -> [UInt8] {
        let log = try storedLog(trial: trial, attempt: attempt, stream: stream)
        let compressed = try readCompressed(log, from: 0, to: log.length)
        do {
            return try Zstd.decompressAll(compressed)
        } catch {
            throw StoreError(code: .io, message: "the log at \(log.path) does not decode: \(error)")
        }
    }

    /// Metric points of one attempt in the order the job printed them; optionally one metric only.
    public func metricPoints(attempt: AttemptID, name: String? = nil) throws -> [MetricPointRecord] {
        let rows = try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM metric_batches WHERE attempt_id = ? ORDER BY first_seq", arguments: [Int64(attempt)])
        }
        var points: [MetricPointRecord] = []
        for row in rows {
            let data: [UInt8] = [UInt8](row["data"] as Data)
            guard let batch = MetricBatch.decode(
                data, attempt: attempt, firstSeq: UInt64(row["first_seq"] as Int64), baseTime: row["base_time"])
            else {
                throw StoreError(code: .io, message: "a metric batch of attempt \(attempt) is damaged")
            }
            points += name.map { wanted in batch.filter { $0.name == wanted } } ?? batch
        }
        return points
    }

    /// Per metric of one attempt: how many points, the last, the smallest and the largest value.
    public func metricSeries(attempt: AttemptID) throws -> [MetricSeriesSummary] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM metric_series WHERE attempt_id = ? ORDER BY name", arguments: [Int64(attempt)]).map { row in
                MetricSeriesSummary(
                    name: row["name"], count: row["count"], lastStep: row["last_step"], lastValue: row["last_value"],
                    minValue: row["min_value"], maxValue: row["max_value"])
            }
        }
    }

    /// The last value of each metric of one attempt (NaN where the store holds NULL for a NaN):
    /// every metric named in `always` and every metric whose name contains `loss` (what the
    /// divergence check and ``MetricCoverage`` must see, however many names the job printed),
    /// plus the first `limit` others in name order (the names seen, for messages).
    public func lastMetricValues(attempt: AttemptID, always: Set<String>, limit: Int = MetricCoverage.maxSeenNames) throws -> [String: Double] {
        try read { db in try Self.lastMetricValues(attempt: attempt, always: always, limit: limit, in: db) }
    }

    static func lastMetricValues(attempt: AttemptID, always: Set<String>, limit: Int, in db: Database) throws -> [String: Double] {
        guard let id = Int64(exactly: attempt) else { return [:] }
        var values: [String: Double] = [:]
        let named = always.isEmpty ? "0" : "name IN (\(databaseQuestionMarks(count: always.count)))"
        // The same text for every attempt of a campaign (its watched metrics do not change): prepared once.
        let statement = try db.cachedStatement(sql: """
            SELECT name, last_value FROM metric_series WHERE attempt_id = ? AND (\(named) OR name LIKE '%loss%')
            UNION SELECT name, last_value FROM (SELECT name, last_value FROM metric_series WHERE attempt_id = ? ORDER BY name LIMIT ?)
            """)
        let rows = try Row.fetchCursor(
            statement, arguments: StatementArguments([id] + always.sorted().map { $0 as DatabaseValueConvertible } + [id, limit]))
        while let row = try rows.next() {
            values[row[0]] = (row[1] as Double?) ?? .nan
        }
        return values
    }

    /// By stage, every metric name any of its attempts reported (a coordinator's ``MetricCoverage``
    /// after a restart, and the views that say which metrics were never seen).
    public func metricNamesByStage() throws -> [Int: Set<String>] {
        try read { db in
            var names: [Int: Set<String>] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT DISTINCT t.stage, s.name FROM metric_series s
                JOIN attempts a ON a.id = s.attempt_id JOIN trials t ON t.id = a.trial_id
                """)
            while let row = try rows.next() {
                names[row[0] as Int, default: []].insert(row[1])
            }
            return names
        }
    }

    /// What the stages count on that no completed trial has reported (``MetricCoverage``, built
    /// from the store), for `status`, the digest and the report.
    public func missingMetrics(stages: [Stage]) throws -> [MissingMetric] {
        guard !MetricCoverage(stages: stages).requirements.isEmpty else { return [] }
        let completed = try read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT stage, COUNT(*) FROM trials WHERE status = 'completed' GROUP BY stage")
                .map { ($0[0] as Int, $0[1] as Int) })
        }
        return try missingMetrics(stages: stages, completed: completed)
    }

    /// The same, given how many trials of each stage completed (stages with none left out), for
    /// a caller that counted them already (the digest).
    public func missingMetrics(stages: [Stage], completed: [Int: Int]) throws -> [MissingMetric] {
        let requirements = MetricCoverage(stages: stages).requirements.filter { (completed[$0.stage] ?? 0) > 0 }
        guard !requirements.isEmpty else { return [] }
        // Each metric counted on is looked for first, which stops at its first series: only when
        // one is missing are every stage's names read (what the message lists), a scan of them all.
        let found = try read { db in
            try requirements.allSatisfy { requirement in
                try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM metric_series s JOIN attempts a ON a.id = s.attempt_id JOIN trials t ON t.id = a.trial_id
                    WHERE s.name = ? AND t.stage = ?)
                    """, arguments: [requirement.metric, requirement.stage]) ?? false
            }
        }
        if found { return [] }
        return MetricCoverage(stages: stages, completed: completed, reported: try metricNamesByStage()).missing
    }

    /// Every attempt's metric summaries in one read (the report's view of a whole campaign).
    public func allMetricSeries() throws -> [AttemptID: [MetricSeriesSummary]] {
        try read { db in
            var out: [AttemptID: [MetricSeriesSummary]] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM metric_series ORDER BY attempt_id, name")
            while let row = try rows.next() {
                out[AttemptID(row["attempt_id"] as Int64), default: []].append(MetricSeriesSummary(
                    name: row["name"], count: row["count"], lastStep: row["last_step"], lastValue: row["last_value"],
                    minValue: row["min_value"], maxValue: row["max_value"]))
            }
            return out
        }
    }

    /// Totals over every stored log: raw and compressed bytes.
    public func logTotals() throws -> (raw: UInt64, stored: UInt64, frames: Int) {
        try read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, COALESCE(SUM(raw_length),0) AS raw, COALESCE(SUM(length),0) AS stored FROM log_frames")!
            return (UInt64(row["raw"] as Int64), UInt64(row["stored"] as Int64), row["n"])
        }
    }
}
