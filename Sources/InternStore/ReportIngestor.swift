import Foundation
import GRDB
import InternCore

/// Which of an attempt's stored logs: its stdout or its stderr (the wire's `LogStream` as the store
/// keeps it, with its own numbering).
public enum StoredStream: Int, Sendable, CaseIterable, CustomStringConvertible {
    case stdout = 1
    case stderr = 2

    /// `stdout` or `stderr`, as in file names and on the command line.
    public var description: String { self == .stdout ? "stdout" : "stderr" }

    /// Parses `stdout`/`stderr`.
    public init?(name: String) {
        switch name {
        case "stdout": self = .stdout
        case "stderr": self = .stderr
        default: return nil
        }
    }
}

/// One flush of a worker's streaming compressor for one attempt and stream, as received.
public struct IncomingFrame: Sendable {
    public var attempt: AttemptID
    public var stream: StoredStream
    /// 1, 2, 3… per attempt and stream.
    public var seq: UInt64
    /// Bytes before compression (for accounting; the store never decompresses on ingest).
    public var rawLength: UInt64
    /// The zstd bytes, stored verbatim.
    public var data: [UInt8]

    /// Creates a frame.
    public init(attempt: AttemptID, stream: StoredStream, seq: UInt64, rawLength: UInt64, data: [UInt8]) {
        self.attempt = attempt
        self.stream = stream
        self.seq = seq
        self.rawLength = rawLength
        self.data = data
    }
}

/// One metric point parsed on the worker.
public struct IncomingMetric: Sendable {
    public var attempt: AttemptID
    /// 1, 2, 3… per attempt.
    public var seq: UInt64
    public var name: String
    public var step: Int64
    public var value: Double
    public var time: Timestamp

    /// Creates a metric point.
    public init(attempt: AttemptID, seq: UInt64, name: String, step: Int64, value: Double, time: Timestamp) {
        self.attempt = attempt
        self.seq = seq
        self.name = name
        self.step = step
        self.value = value
        self.time = time
    }
}

/// What is stored after an ingest: the highest contiguous sequence number per attempt and
/// stream, and per attempt for metrics. The worker may forget everything up to these.
public struct IngestCursors: Sendable, Equatable {
    /// The stored extent of one attempt's stream.
    public struct Stream: Sendable, Equatable {
        public var attempt: AttemptID
        public var stream: StoredStream
        public var seq: UInt64
        /// Creates a cursor.
        public init(attempt: AttemptID, stream: StoredStream, seq: UInt64) {
            self.attempt = attempt
            self.stream = stream
            self.seq = seq
        }
    }

    /// The stored extent of one attempt's metric series.
    public struct Metrics: Sendable, Equatable {
        public var attempt: AttemptID
        public var seq: UInt64
        /// Creates a cursor.
        public init(attempt: AttemptID, seq: UInt64) {
            self.attempt = attempt
            self.seq = seq
        }
    }

    public var streams: [Stream] = []
    public var metrics: [Metrics] = []
    /// Loss markers stored by this report (frames with no data: output the worker could not
    /// keep while its spool was full), each stored once: the caller records them.
    public var losses: [(attempt: AttemptID, stream: StoredStream, seq: UInt64, rawBytes: UInt64)] = []
    /// Per attempt, the metric sequence numbers this report stored (contiguous).
    public var newMetrics: [AttemptID: ClosedRange<UInt64>] = [:]

    public static func == (lhs: IngestCursors, rhs: IngestCursors) -> Bool {
        lhs.streams == rhs.streams && lhs.metrics == rhs.metrics && lhs.newMetrics == rhs.newMetrics
            && lhs.losses.elementsEqual(rhs.losses) { $0.attempt == $1.attempt && $0.stream == $1.stream && $0.seq == $1.seq && $0.rawBytes == $1.rawBytes }
    }
}

/// Appends log frames and metric points to a campaign directory with exactly-once semantics:
/// a frame is stored only if it is the next one of its stream (a duplicate is dropped, a frame
/// after a gap waits for the missing one to be resent), its bytes are appended verbatim to the
/// stream's file (so the file is a valid zstd stream that `zstdcat` prints), and its index row
/// commits in the same transaction as the report's metric points.
///
/// Not thread-safe: owned by the coordinator's executor. Keeps each active stream's file open.
public final class ReportIngestor {
    private let store: CampaignStore
    private var cursors: [StreamKey: StreamState] = [:]
    private var metricCursors: [AttemptID: UInt64] = [:]
    /// Makes the log files of attempts just assigned, off the coordinator's thread (see `prepare`).
    private let preparer = DispatchQueue(label: "intern.logs.prepare", qos: .utility)
    /// Attempts made since this ingestor was (their ids are above every id the store held then)
    /// and not yet closed: every row of theirs came through this ingestor, so a stream or metric
    /// series of theirs without a cursor here has none, and starts at zero without a read.
    private var fresh: Set<AttemptID> = []
    /// The highest attempt id in the store when this ingestor was made.
    private let attemptsBefore: AttemptID

    private struct StreamKey: Hashable {
        var attempt: AttemptID
        var stream: StoredStream
    }

    private struct StreamState {
        var seq: UInt64
        var end: UInt64
        var descriptor: Int32
    }

    /// Creates an ingestor writing into `store`.
    public init(store: CampaignStore) {
        self.store = store
        // Unreadable: no attempt counts as made since (each cursor is read from the store).
        let highest = try? store.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM attempts") ?? 0 }
        attemptsBefore = highest.map { AttemptID(max(0, $0)) } ?? .max
    }

    deinit {
        for state in cursors.values where state.descriptor >= 0 { close(state.descriptor) }
    }

    /// Stores what can be stored of a report's frames and metrics and returns the cursors of
    /// every stream and metric series the report touched. `trialOf` maps each attempt to its
    /// trial (for the file layout); attempts the caller did not accept must not be passed in.
    public func ingest(
        frames: [IncomingFrame], metrics: [IncomingMetric], trialOf: (AttemptID) -> TrialID?, now: Timestamp
    ) throws -> IngestCursors {
        try ingest(frames: frames, metricBatches: IncomingMetricBatch.packing(metrics), trialOf: trialOf, now: now, transaction: false) { _, _ in }
    }

    /// As ``ingest(frames:metrics:trialOf:now:)``, with the points already packed (as a report
    /// brings them), and `alongside` run inside the same transaction (there always is one), after
    /// the frames' and metrics' rows (it reads them), with the cursors so far (`losses`,
    /// `newMetrics`): the coordinator commits what the report changed in the same transaction as
    /// what it stored. `alongside` runs only once the files are written: an error before it is a
    /// log that cannot be written (or a row that cannot be).
    public func ingest(
        frames: [IncomingFrame], metricBatches: [IncomingMetricBatch], trialOf: (AttemptID) -> TrialID?, now: Timestamp,
        alongside: (StoreTransaction, IngestCursors) throws -> Void
    ) throws -> IngestCursors {
        try ingest(frames: frames, metricBatches: metricBatches, trialOf: trialOf, now: now, transaction: true, alongside: alongside)
    }

    private func ingest(
        frames: [IncomingFrame], metricBatches: [IncomingMetricBatch], trialOf: (AttemptID) -> TrialID?, now: Timestamp,
        transaction: Bool, alongside: (StoreTransaction, IngestCursors) throws -> Void
    ) throws -> IngestCursors {
        var result = IngestCursors()
        var touchedStreams: [StreamKey] = []
        var pendingRows: [(StreamKey, IncomingFrame, UInt64)] = []
        var staged: [StreamKey: StreamState] = [:]

        for frame in frames {
            let key = StreamKey(attempt: frame.attempt, stream: frame.stream)
            if !touchedStreams.contains(key) { touchedStreams.append(key) }
            guard let trial = trialOf(frame.attempt) else { continue }
            var state = try staged[key] ?? cursor(for: key, trial: trial)
            guard frame.seq == state.seq + 1 else { continue }
            try appendAll(frame.data, to: state.descriptor, at: state.end, key: key)
            pendingRows.append((key, frame, state.end))
            state.seq = frame.seq
            state.end += UInt64(frame.data.count)
            staged[key] = state
        }

        var stagedMetrics: [AttemptID: UInt64] = [:]
        var acceptedMetrics: [IncomingMetricBatch] = []
        var touchedMetrics: [AttemptID] = []
        for batch in metricBatches {
            let attempt = batch.attempt
            if !touchedMetrics.contains(attempt) { touchedMetrics.append(attempt) }
            guard trialOf(attempt) != nil, let last = batch.lastSeq else { continue }
            let stored = try stagedMetrics[attempt] ?? metricCursor(for: attempt)
            // After a gap the batch waits for the missing points; one stored already is dropped.
            guard batch.firstSeq <= stored + 1, last > stored else { continue }
            // Partly stored already (an acknowledgement was lost): the rest, packed again.
            guard let new = batch.firstSeq > stored ? batch : batch.dropping(first: Int(stored + 1 - batch.firstSeq)) else { continue }
            stagedMetrics[attempt] = last
            acceptedMetrics.append(new)
            result.newMetrics[attempt] = (result.newMetrics[attempt]?.lowerBound ?? new.firstSeq)...last
        }

        for (key, frame, _) in pendingRows where frame.data.isEmpty && frame.rawLength > 0 {
            result.losses.append((key.attempt, key.stream, frame.seq, frame.rawLength))
        }
        if !pendingRows.isEmpty || !acceptedMetrics.isEmpty || transaction {
            do {
                try commit(pendingRows, acceptedMetrics, now: now) { db in
                    try alongside(StoreTransaction(store: store, db: db), result)
                }
            } catch {
                for (key, state) in staged {
                    if let committed = cursors[key] { _ = ftruncate(state.descriptor, off_t(committed.end)) }
                }
                throw error
            }
        }
        // Only a committed transaction moves the cursors; after a failed one, the bytes appended
        // past the indexed end were cut off above (and are cut off again when a stream is reopened).
        for (key, state) in staged { cursors[key] = state }
        for (attempt, seq) in stagedMetrics { metricCursors[attempt] = seq }

        for key in touchedStreams {
            let seq = try cursors[key]?.seq ?? storedSeq(for: key)
            result.streams.append(.init(attempt: key.attempt, stream: key.stream, seq: seq))
        }
        for attempt in touchedMetrics {
            result.metrics.append(.init(attempt: attempt, seq: try metricCursor(for: attempt)))
        }
        return result
    }

    private func commit(
        _ pendingRows: [(StreamKey, IncomingFrame, UInt64)], _ acceptedMetrics: [IncomingMetricBatch], now: Timestamp,
        then alongside: (Database) throws -> Void
    ) throws {
        try store.write { db in
                let insertFrame = try db.cachedStatement(sql: """
                    INSERT INTO log_frames (attempt_id, stream, seq, offset, length, raw_length, received_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for (key, frame, offset) in pendingRows {
                    try insertFrame.execute(arguments: [
                        Int64(key.attempt), key.stream.rawValue, Int64(frame.seq), Int64(offset), frame.data.count,
                        Int64(clamping: frame.rawLength), now,
                    ])
                }
                try Self.insertMetrics(acceptedMetrics, in: db)
                try alongside(db)
            }
    }

    /// A row per packed batch, stored as it came, and the per-metric summaries updated.
    private static func insertMetrics(_ batches: [IncomingMetricBatch], in db: Database) throws {
        guard !batches.isEmpty else { return }
        let insertBatch = try db.cachedStatement(sql: """
            INSERT INTO metric_batches (attempt_id, first_seq, last_seq, base_time, data) VALUES (?, ?, ?, ?, ?)
            """)
        let upsertSeries = try db.cachedStatement(sql: """
            INSERT INTO metric_series (attempt_id, name, count, last_step, last_value, min_value, max_value, last_time)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(attempt_id, name) DO UPDATE SET count = count + excluded.count,
                last_step = excluded.last_step, last_value = excluded.last_value,
                min_value = MIN(COALESCE(min_value, excluded.min_value), COALESCE(excluded.min_value, min_value)),
                max_value = MAX(COALESCE(max_value, excluded.max_value), COALESCE(excluded.max_value, max_value)),
                last_time = excluded.last_time
            """)
        for batch in batches {
            guard let last = batch.lastSeq else { continue }
            try insertBatch.execute(arguments: [Int64(batch.attempt), Int64(batch.firstSeq), Int64(last), batch.baseTime, Data(batch.data)])
            for entry in batch.scan.series {
                try upsertSeries.execute(arguments: [
                    Int64(batch.attempt), entry.name, entry.count, entry.lastStep, entry.lastValue, entry.min, entry.max, entry.lastTime,
                ])
            }
        }
    }

    /// Closes the files of an attempt that ended; later frames reopen them.
    public func closeStreams(of attempt: AttemptID) {
        for stream in StoredStream.allCases {
            let key = StreamKey(attempt: attempt, stream: stream)
            if let state = cursors.removeValue(forKey: key), state.descriptor >= 0 { close(state.descriptor) }
        }
        metricCursors[attempt] = nil
        fresh.remove(attempt)
    }

    /// Makes, in the background, the log directory and stdout file of an attempt just assigned,
    /// so that its first report only opens the file. Making a directory and a file can cost the
    /// kernel 0.5-1 ms each (ext4 without a journal passes over recently freed inodes one by
    /// one: measured here, after a campaign directory was deleted), and the worker's next work
    /// request waits behind the report that would make them. Harmless when the frames come
    /// first (the file is made where it is needed either way: never truncated, never made twice)
    /// or never (an empty file stays).
    public func prepare(attempt: AttemptID, trial: TrialID) {
        // Made since this ingestor was: nothing of it is stored yet (its reports all come through here).
        if attempt > attemptsBefore { fresh.insert(attempt) }
        let path = store.logPath(trial: trial, attempt: attempt, stream: .stdout)
        let directoryMode = store.directoryMode, fileMode = store.fileMode
        preparer.async {
            guard (try? Self.makeDirectory((path as NSString).deletingLastPathComponent, mode: directoryMode)) != nil else { return }
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, fileMode)
            if fd >= 0 { close(fd) }
        }
    }

    private func cursor(for key: StreamKey, trial: TrialID) throws -> StreamState {
        if let state = cursors[key] { return state }
        let (seq, end) = fresh.contains(key.attempt) ? (0, 0) : try store.read { db -> (UInt64, UInt64) in
            let row = try Row.fetchOne(db, sql: """
                SELECT MAX(seq) AS seq, MAX(offset + length) AS end FROM log_frames WHERE attempt_id = ? AND stream = ?
                """, arguments: [Int64(key.attempt), key.stream.rawValue])
            return (UInt64((row?["seq"] as Int64?) ?? 0), UInt64((row?["end"] as Int64?) ?? 0))
        }
        let path = store.logPath(trial: trial, attempt: key.attempt, stream: key.stream)
        try Self.makeDirectory((path as NSString).deletingLastPathComponent, mode: store.directoryMode)
        // The job's output: readable by the campaign's owner only (or its group, as the store says).
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, store.fileMode)
        guard fd >= 0 else {
            throw StoreError(code: .io, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        // Bytes past the indexed end were written by a transaction that never committed. Only a
        // file longer than that is cut: truncating a new, empty file would make ext4 flush it to
        // disk when it is closed (its "replace by truncation" heuristic), for every attempt.
        var info = stat()
        if fstat(fd, &info) != 0 || UInt64(max(0, info.st_size)) > end, ftruncate(fd, off_t(end)) != 0 {
            close(fd)
            throw StoreError(code: .io, message: "cannot truncate \(path): \(String(cString: strerror(errno)))")
        }
        let state = StreamState(seq: seq, end: end, descriptor: fd)
        cursors[key] = state
        return state
    }

    /// Makes a trial's log directory (one `mkdir`; its parents, and the campaign's mode, only
    /// when it is new).
    private static func makeDirectory(_ directory: String, mode: mode_t) throws {
        if mkdir(directory, mode) == 0 {
            _ = chmod(directory, mode)
            return
        }
        if errno == EEXIST { return }
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(mode)])
    }

    private func storedSeq(for key: StreamKey) throws -> UInt64 {
        try store.read { db in
            UInt64(try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM log_frames WHERE attempt_id = ? AND stream = ?",
                                      arguments: [Int64(key.attempt), key.stream.rawValue]) ?? 0)
        }
    }

    private func metricCursor(for attempt: AttemptID) throws -> UInt64 {
        if let seq = metricCursors[attempt] { return seq }
        let seq = fresh.contains(attempt) ? 0 : try store.read { db in
            UInt64(try Int64.fetchOne(db, sql: "SELECT MAX(last_seq) FROM metric_batches WHERE attempt_id = ?", arguments: [Int64(attempt)]) ?? 0)
        }
        metricCursors[attempt] = seq
        return seq
    }

    private func appendAll(_ bytes: [UInt8], to fd: Int32, at offset: UInt64, key: StreamKey) throws {
        var written = 0
        try bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let n = pwrite(fd, buffer.baseAddress! + written, buffer.count - written, off_t(offset) + off_t(written))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError(code: .io, message: "cannot write the log of attempt \(key.attempt) (\(key.stream)): \(String(cString: strerror(errno)))")
                }
                written += n
            }
        }
    }
}
