import Foundation
import GRDB
import InternCore

/// A campaign directory: one SQLite database (`campaign.db`, WAL mode, readable with `sqlite3`)
/// and the attempts' logs as zstd streams under `logs/`.
///
/// The coordinator is the only writer; admin commands (`intern status`, `trials`, `logs`) open
/// the same directory read-only from other processes while it runs.
public final class CampaignStore: Sendable {
    /// The campaign directory.
    public let directory: String
    /// The database, in WAL mode; GRDB serialises writes on its own queue.
    let database: DatabasePool
    /// Whether reads go through the writing connection (a writable store; see `read`).
    let readsOnWriter: Bool

    /// How much of the database a read-only store maps into memory (SQLite's `mmap_size`).
    static let readOnlyMapSize = 1 << 30

    /// The database file's name inside the campaign directory.
    public static let databaseName = "campaign.db"
    /// The database file's path.
    public var databasePath: String { (directory as NSString).appendingPathComponent(Self.databaseName) }

    /// Pages of write-ahead log (4 KB each) past which the writing connection checkpoints by
    /// itself (SQLite's default: 1,000). The coordinator checkpoints in the background instead
    /// (``WALCheckpointer``); this only bounds the log should that fall behind, and is what a
    /// store written without a coordinator (an admin command) does.
    public static let writerCheckpointPages = 16_384

    /// Who may read a campaign: its directory holds the jobs' output and the spec's `env:` values.
    public enum Access: Sendable {
        /// Its owner only (directories 0700, files 0600), as PostgreSQL keeps its data directory.
        case owner
        /// Its owner, and its group read-only (0750, 0640): `--group-readable`.
        case group

        /// The mode of the campaign's directories.
        public var directoryMode: mode_t { self == .owner ? 0o700 : 0o750 }
        /// The mode of its files (database, logs).
        public var fileMode: mode_t { self == .owner ? 0o600 : 0o640 }
    }

    /// The modes new directories and files of this campaign get (log files).
    public let directoryMode: mode_t
    public let fileMode: mode_t

    /// Opens (and creates, when `create` is true) the campaign directory and brings its schema
    /// up to date. Migrations are append-only. A writable store sets the modes `access` says on the
    /// campaign directory, its `logs/`, the database and its WAL files (whatever the umask, and
    /// also for a campaign made before, under looser modes).
    public init(directory: String, create: Bool = true, readOnly: Bool = false, access: Access = .owner) throws {
        let url = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
        self.directory = url.path
        self.directoryMode = access.directoryMode
        self.fileMode = access.fileMode
        self.readsOnWriter = !readOnly
        let databasePath = url.appendingPathComponent(Self.databaseName).path
        if create {
            try FileManager.default.createDirectory(
                at: url.appendingPathComponent("logs"), withIntermediateDirectories: true,
                attributes: [.posixPermissions: Int(access.directoryMode)])
        } else if !FileManager.default.fileExists(atPath: databasePath) {
            throw StoreError(code: .notFound, message: "no campaign database at \(databasePath)")
        }
        if !readOnly {
            for path in [url.path, url.appendingPathComponent("logs").path] { Self.restrict(path, to: access.directoryMode) }
        }
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.writerCheckpointPages)")
            } else {
                // An admin command reads a 10,000-trial store's tables several times over (the
                // digest scans `trials` 6 times). Mapped, the file's pages are read where the
                // kernel caches them instead of copied in by a `pread` each, and a page cache of
                // up to 64 MB (SQLite's default: 2 MB) keeps what the first scan decoded. Only
                // reads: pages in the WAL still come from the WAL, and the coordinator, the only
                // writer, never shrinks the file (no VACUUM), which a mapping could not survive.
                try db.execute(sql: "PRAGMA mmap_size = \(Self.readOnlyMapSize)")
                try db.execute(sql: "PRAGMA cache_size = -65536")
            }
        }
        do {
            database = try DatabasePool(path: databasePath, configuration: configuration)
            if !readOnly {
                // SQLite creates its files as the umask says, and its WAL files as the database's.
                for suffix in ["", "-wal", "-shm"] { Self.restrict(databasePath + suffix, to: access.fileMode) }
                try Self.migrator.migrate(database)
            }
        } catch let error as DatabaseError {
            throw StoreError(code: .database, message: "cannot open \(databasePath): \(error.message ?? "\(error)")", underlying: error)
        }
    }

    /// Whether the database holds a campaign (its `campaign` table): false for an empty file or
    /// another program's database; throws when it cannot be read at all (damaged).
    public func holdsCampaign() throws -> Bool {
        try read { db in try db.tableExists("campaign") }
    }

    /// Sets `path`'s permission bits to `mode` when this user owns it (a file someone else owns is
    /// left alone: the open that follows says what is wrong with it, if anything).
    static func restrict(_ path: String, to mode: mode_t) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o777 != mode else { return }
        _ = chmod(path, mode)
    }

    /// The schema. Append new migrations at the end; never edit a released one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE campaign (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    name TEXT NOT NULL,
                    spec_path TEXT NOT NULL,
                    spec_yaml TEXT NOT NULL,
                    objective_metric TEXT,
                    objective_direction TEXT,
                    total_trials INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    finished_at INTEGER,
                    coordinator_url TEXT
                );
                CREATE TABLE trials (
                    id INTEGER PRIMARY KEY,
                    parameters TEXT NOT NULL,
                    status TEXT NOT NULL,
                    objective REAL,
                    attempt_count INTEGER NOT NULL,
                    retries_used INTEGER NOT NULL,
                    lost_count INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    ended_at INTEGER
                );
                CREATE TABLE attempts (
                    id INTEGER PRIMARY KEY,
                    trial_id INTEGER NOT NULL REFERENCES trials(id),
                    number INTEGER NOT NULL,
                    worker_id TEXT NOT NULL,
                    incarnation TEXT NOT NULL,
                    status TEXT NOT NULL,
                    argv TEXT NOT NULL,
                    assigned_at INTEGER NOT NULL,
                    started_at INTEGER,
                    ended_at INTEGER,
                    exit_code INTEGER,
                    signal INTEGER,
                    detail TEXT,
                    wall_ms INTEGER,
                    user_cpu_ms INTEGER,
                    system_cpu_ms INTEGER,
                    peak_rss_bytes INTEGER,
                    objective REAL
                );
                CREATE INDEX attempts_by_trial ON attempts(trial_id, number);
                CREATE TABLE workers (
                    id TEXT PRIMARY KEY,
                    incarnation TEXT NOT NULL,
                    hostname TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    slots INTEGER NOT NULL,
                    gpus TEXT NOT NULL,
                    state TEXT NOT NULL,
                    joined_at INTEGER NOT NULL,
                    last_seen INTEGER NOT NULL
                );
                CREATE TABLE metric_points (
                    attempt_id INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    value REAL NOT NULL,
                    time INTEGER NOT NULL,
                    PRIMARY KEY (attempt_id, seq)
                ) WITHOUT ROWID;
                CREATE INDEX metric_points_by_name ON metric_points(name, attempt_id);
                CREATE TABLE log_frames (
                    attempt_id INTEGER NOT NULL,
                    stream INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    offset INTEGER NOT NULL,
                    length INTEGER NOT NULL,
                    raw_length INTEGER NOT NULL,
                    received_at INTEGER NOT NULL,
                    PRIMARY KEY (attempt_id, stream, seq)
                ) WITHOUT ROWID;
                CREATE TABLE events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    message TEXT NOT NULL,
                    trial_id INTEGER,
                    attempt_id INTEGER,
                    worker_id TEXT
                );
                """)
        }
        migrator.registerMigration("v2-control") { db in
            // Requests from admin commands (`intern cancel`, `intern drain`) to the running
            // coordinator, which polls this table and marks each request handled.
            try db.execute(sql: """
                CREATE TABLE control_requests (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    target TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    handled_at INTEGER,
                    outcome TEXT
                );
                """)
        }
        migrator.registerMigration("v3-metric-batches") { db in
            // Metric points are stored packed, one row per attempt and report (see MetricBatch),
            // with one summary row per attempt and metric for queries. SQLite stores NaN as NULL: a
            // NaN last value reads back as NULL, and min/max ignore NaN.
            try db.execute(sql: """
                DROP TABLE metric_points;
                CREATE TABLE metric_batches (
                    attempt_id INTEGER NOT NULL,
                    first_seq INTEGER NOT NULL,
                    last_seq INTEGER NOT NULL,
                    base_time INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (attempt_id, first_seq)
                ) WITHOUT ROWID;
                CREATE TABLE metric_series (
                    attempt_id INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    last_step INTEGER NOT NULL,
                    last_value REAL,
                    min_value REAL,
                    max_value REAL,
                    last_time INTEGER NOT NULL,
                    PRIMARY KEY (attempt_id, name)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v4-reliability") { db in
            // request_id: the work request an attempt answered (a restarted coordinator answers
            // a repeated request with the same attempt). failure_*: the class, signature digest,
            // reason, normalised signature and excerpt of a failed attempt. Trials: retries per
            // failure class (JSON) and the earliest time a retried trial may be dispatched.
            // log_frames rows with length 0 and raw_length > 0 record output the worker could
            // not keep (its spool was full): losses are counted, never silent.
            try db.execute(sql: """
                ALTER TABLE attempts ADD COLUMN request_id INTEGER;
                ALTER TABLE attempts ADD COLUMN failure_class TEXT;
                ALTER TABLE attempts ADD COLUMN failure_signature TEXT;
                ALTER TABLE attempts ADD COLUMN failure_reason TEXT;
                ALTER TABLE attempts ADD COLUMN signature_text TEXT;
                ALTER TABLE attempts ADD COLUMN failure_excerpt TEXT;
                CREATE INDEX attempts_by_signature ON attempts(failure_signature) WHERE failure_signature IS NOT NULL;
                ALTER TABLE trials ADD COLUMN retry_counts TEXT;
                ALTER TABLE trials ADD COLUMN not_before INTEGER;
                ALTER TABLE trials ADD COLUMN note TEXT;
                ALTER TABLE campaign ADD COLUMN stopped_reason TEXT;
                """)
        }
        migrator.registerMigration("v5-gpus") { db in
            // The GPU ids an attempt held (JSON list); GPU-seconds = wall_ms / 1000 × their number.
            try db.execute(sql: "ALTER TABLE attempts ADD COLUMN gpus TEXT")
        }
        migrator.registerMigration("v6-coordinator-liveness") { db in
            // The running coordinator's pid and the last time it said it was alive (every ~2 s):
            // `intern status` tells a running campaign from a stopped one.
            try db.execute(sql: """
                ALTER TABLE campaign ADD COLUMN coordinator_pid INTEGER;
                ALTER TABLE campaign ADD COLUMN coordinator_alive_at INTEGER;
                """)
        }
        migrator.registerMigration("v7-pause") { db in
            // `intern pause` / `intern resume`: survives a coordinator restart.
            try db.execute(sql: "ALTER TABLE campaign ADD COLUMN paused INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v8-coordinator-host") { db in
            // With the pid: a coordinator on this host whose pid is gone is not running, however
            // recent its last sign of life (it was killed).
            try db.execute(sql: "ALTER TABLE campaign ADD COLUMN coordinator_host TEXT")
        }
        migrator.registerMigration("v9-worker-resources") { db in
            // What a worker offers attempts besides slots and GPUs (0: not said).
            try db.execute(sql: """
                ALTER TABLE workers ADD COLUMN cpus INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE workers ADD COLUMN memory_bytes INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v10-feasible") { db in
            // Whether a completed trial met the campaign's constraints (NULL: none, or not completed).
            try db.execute(sql: "ALTER TABLE trials ADD COLUMN feasible INTEGER")
        }
        migrator.registerMigration("v11-adjustments") { db in
            // `intern add`: trials added to the spec's, budget raised by.
            try db.execute(sql: """
                ALTER TABLE campaign ADD COLUMN added_trials INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE campaign ADD COLUMN extra_hours REAL NOT NULL DEFAULT 0;
                ALTER TABLE campaign ADD COLUMN extra_gpu_hours REAL NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v12-stages") { db in
            // Pipelines: a trial's stage (index in the spec's stages), the trial that fed it and
            // the inputs it received (lineage), the outputs it passes on; an attempt's outputs.
            try db.execute(sql: """
                ALTER TABLE trials ADD COLUMN stage INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE trials ADD COLUMN parent_id INTEGER;
                ALTER TABLE trials ADD COLUMN inputs TEXT;
                ALTER TABLE trials ADD COLUMN outputs TEXT;
                ALTER TABLE attempts ADD COLUMN outputs TEXT;
                """)
        }
        migrator.registerMigration("v13-fed-stages") { db in
            // Waiting pipeline stages already fed (JSON list of stage indices).
            try db.execute(sql: "ALTER TABLE campaign ADD COLUMN fed_stages TEXT")
        }
        migrator.registerMigration("v14-provenance") { db in
            // What each attempt ran with (captured by its worker) and the blobs it names by
            // digest (diffs, package lists: zstd, stored once per content); the variables intern
            // set for the attempt.
            try db.execute(sql: """
                CREATE TABLE attempt_provenance (
                    attempt_id INTEGER PRIMARY KEY,
                    fields TEXT NOT NULL,
                    captured_at INTEGER NOT NULL
                );
                CREATE TABLE provenance_blobs (
                    digest TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    raw_length INTEGER NOT NULL,
                    data BLOB NOT NULL
                );
                ALTER TABLE attempts ADD COLUMN environment TEXT;
                """)
        }
        migrator.registerMigration("v15-agents") { db in
            // Who asked for a request and the event it made (`agent:NAME` for an agent, held to
            // the agent policy, tightened by the request's own limits: JSON); whether the request was refused, all or in part; what agents
            // added in all (docs/agents.md).
            try db.execute(sql: """
                ALTER TABLE control_requests ADD COLUMN actor TEXT;
                ALTER TABLE control_requests ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE control_requests ADD COLUMN policy TEXT;
                ALTER TABLE events ADD COLUMN actor TEXT;
                ALTER TABLE campaign ADD COLUMN agent_trials INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE campaign ADD COLUMN agent_hours REAL NOT NULL DEFAULT 0;
                ALTER TABLE campaign ADD COLUMN agent_gpu_hours REAL NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v16-validation") { db in
            // Validation repeats (`validate:`): the trial whose configuration a repeat runs again
            // (NULL with a repeat number: the baseline), which repeat it is, and its seed.
            try db.execute(sql: """
                ALTER TABLE trials ADD COLUMN repeat_of INTEGER;
                ALTER TABLE trials ADD COLUMN repeat_number INTEGER;
                ALTER TABLE trials ADD COLUMN seed INTEGER;
                """)
        }
        migrator.registerMigration("v17-data-campaigns") { db in
            // Data campaigns: a map stage's items as resolved when the campaign was created (JSON
            // list; a resume maps over the same ones); a reduce trial's parents, every trial that
            // fed it (JSON list; parent_id keeps the first).
            try db.execute(sql: """
                ALTER TABLE campaign ADD COLUMN map_items TEXT;
                ALTER TABLE trials ADD COLUMN parents TEXT;
                """)
        }
        return migrator
    }

    /// Runs `body` in one write transaction.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try database.write(body)
        } catch let error as DatabaseError {
            throw StoreError(code: .database, message: error.message ?? "\(error)", underlying: error)
        }
    }

    /// Runs `body` on a read-only snapshot. A writable store (the coordinator's, the one writer)
    /// reads on its writing connection, in a deferred transaction: it sees its own writes, needs
    /// no reader connections (their page caches, their schema) and skips their per-read setup,
    /// which cost the coordinator 5% of its CPU on reports. A read-only store reads from GRDB's
    /// pool of readers, beside the coordinator's writes.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            guard readsOnWriter else { return try database.read(body) }
            return try database.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.deferred) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as DatabaseError {
            throw StoreError(code: .database, message: error.message ?? "\(error)", underlying: error)
        }
    }
}

/// An error from the store, with a stable code.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        /// No campaign at the given directory.
        public static let notFound = Code(rawValue: "not_found")
        /// SQLite reported an error.
        public static let database = Code(rawValue: "database")
        /// A log file could not be written or read.
        public static let io = Code(rawValue: "io")
        /// The directory holds a different campaign than the one asked for.
        public static let mismatch = Code(rawValue: "mismatch")
        /// A stored log file holds fewer bytes than the store indexes (cut short on disk).
        public static let truncated = Code(rawValue: "truncated")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?

    /// Creates a store error.
    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
