import Foundation
import GRDB
import InternCore
import InternStore

/// The lab: an index, in SQLite with FTS5, over every campaign under one or more roots: each
/// campaign's summary and best result, its failure signatures with where in the space they
/// happened, its digest, and the notes people and agents wrote (`intern note`).
///
/// The lab is a cache. It lives in `<root>/.lab.sqlite` (the first root's) and is refreshed
/// lazily: each refresh compares every campaign's change stamp (its last event, its latest trial
/// end, its count of failed attempts) with the one indexed and re-reads only the campaigns that
/// changed. Deleted, it is rebuilt from the campaign stores on the next refresh; damaged, it is
/// moved aside and rebuilt. The notes are the only thing it holds that no store does: they are
/// appended to `<root>/lab-notes.jsonl` (``NotesFile``) first and copied into the index from there.
public final class Lab: Sendable {
    /// The database's file name under the first root.
    public static let databaseName = ".lab.sqlite"
    /// The notes' file name under the first root.
    public static let notesName = "lab-notes.jsonl"

    /// The roots whose campaigns the lab indexes, the first holding the lab.
    public let roots: [String]
    public let path: String
    public let notes: NotesFile
    let queue: DatabaseQueue

    /// Opens (or creates) the lab of `roots` (at least one). A file at the lab's path that is
    /// not a lab is moved aside (`.lab.sqlite.damaged`) and a new lab is built.
    public init(roots: [String]) throws(LabError) {
        precondition(!roots.isEmpty, "a lab needs a root")
        var unique: [String] = []
        for root in roots.map(Self.canonical) where !unique.contains(root) { unique.append(root) }
        self.roots = unique
        path = (unique[0] as NSString).appendingPathComponent(Self.databaseName)
        notes = NotesFile(path: (unique[0] as NSString).appendingPathComponent(Self.notesName))
        do {
            try FileManager.default.createDirectory(atPath: unique[0], withIntermediateDirectories: true)
        } catch {
            throw LabError(code: .database, message: "cannot create \(unique[0]): \(error)")
        }
        // A database deleted without its write-ahead log: the log must not be replayed into the new one.
        if !FileManager.default.fileExists(atPath: path) {
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        do {
            queue = try Self.open(path)
        } catch {
            // Anything but a lab (damaged, another program's file): the stores rebuild it.
            let aside = path + ".damaged"
            try? FileManager.default.removeItem(atPath: aside)
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            guard (try? FileManager.default.moveItem(atPath: path, toPath: aside)) != nil, let fresh = try? Self.open(path) else {
                throw LabError(code: .database, message: "cannot open the lab \(path): \(error)", underlying: error)
            }
            queue = fresh
        }
    }

    /// The roots of a lab: `primary` first, then `also` and `$INTERN_LAB_ROOTS` (colon-separated), each once.
    public static func roots(primary: String, also: [String] = []) -> [String] {
        let environment = ProcessInfo.processInfo.environment["INTERN_LAB_ROOTS"].map { $0.split(separator: ":").map(String.init) } ?? []
        var roots: [String] = []
        for root in [primary] + also + environment where !root.isEmpty && !roots.contains(root) { roots.append(root) }
        return roots
    }

    /// A directory as the lab names it: absolute, without `.`, `..` or a trailing `/` (the same
    /// campaign reached by `--dir ./x` and by its root is one campaign).
    public static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    private static func open(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try migrator.migrate(queue)
        return queue
    }

    /// The lab's schema; append new migrations at the end. (A lab can also simply be deleted.)
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        // A lab whose migrations do not apply (one a development build made) is moved aside and
        // rebuilt, as a damaged one is.
        migrator.registerMigration("v1-lab") { db in
            try db.execute(sql: """
                CREATE TABLE campaigns (
                    id INTEGER PRIMARY KEY,
                    directory TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    stamp TEXT NOT NULL,
                    file_stamp TEXT NOT NULL DEFAULT '',
                    summary TEXT NOT NULL
                );
                CREATE TABLE signatures (
                    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
                    digest TEXT NOT NULL,
                    sighting TEXT NOT NULL,
                    PRIMARY KEY (campaign_id, digest)
                ) WITHOUT ROWID;
                CREATE INDEX signatures_by_digest ON signatures(digest);
                CREATE TABLE findings (
                    campaign_id INTEGER PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
                    finding TEXT NOT NULL
                );
                CREATE TABLE notes (
                    id INTEGER PRIMARY KEY,
                    signature TEXT,
                    campaign TEXT,
                    note TEXT NOT NULL
                );
                CREATE INDEX notes_by_signature ON notes(signature);
                CREATE TABLE texts (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL,
                    campaign_id INTEGER NOT NULL,
                    campaign TEXT NOT NULL,
                    key TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    shown TEXT NOT NULL
                );
                CREATE INDEX texts_by_campaign ON texts(campaign_id);
                CREATE VIRTUAL TABLE lab_fts USING fts5(title, body, tokenize = "unicode61 tokenchars '_'");
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """)
        }
        return migrator
    }

    // MARK: - Reading

    /// Every campaign indexed, the most recently active first.
    public func campaigns() throws(LabError) -> [LabCampaign] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT summary FROM campaigns").map { try Self.decode(LabCampaign.self, $0) }
        }.sorted { ($0.lastActivity, $0.name) > ($1.lastActivity, $1.name) }
    }

    /// Every campaign's sightings of the signatures in `digests` (all signatures when nil).
    public func sightings(of digests: [String]? = nil) throws(LabError) -> [Sighting] {
        try read { db in
            if let digests {
                var out: [Sighting] = []
                for chunk in stride(from: 0, to: digests.count, by: 500).map({ Array(digests[$0..<min(digests.count, $0 + 500)]) }) {
                    let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                    out += try String.fetchAll(db, sql: "SELECT sighting FROM signatures WHERE digest IN (\(marks))", arguments: StatementArguments(chunk))
                        .map { try Self.decode(Sighting.self, $0) }
                }
                return out
            }
            return try String.fetchAll(db, sql: "SELECT sighting FROM signatures").map { try Self.decode(Sighting.self, $0) }
        }
    }

    /// Every note, the oldest first (as indexed from the notes file at the last refresh).
    public func allNotes() throws(LabError) -> [LabNote] {
        try read { db in try String.fetchAll(db, sql: "SELECT note FROM notes ORDER BY id").map { try Self.decode(LabNote.self, $0) } }
    }

    /// Every campaign's best result.
    public func findings() throws(LabError) -> [Finding] {
        try read { db in try String.fetchAll(db, sql: "SELECT finding FROM findings").map { try Self.decode(Finding.self, $0) } }
    }

    /// What the lab knows of the failures of the campaign at `directory` (created at `createdAt`):
    /// for each of `digests` that an earlier campaign had or a note names, its ``Recurrence``.
    public func recurrences(of digests: [String], directory: String, createdAt: Timestamp) throws(LabError) -> [String: Recurrence] {
        let directory = Self.canonical(directory)
        let sightings = try sightings(of: digests)
        let notes = try allNotes()
        var out: [String: Recurrence] = [:]
        for digest in Set(digests) {
            if let recurrence = Recurrence.of(digest: digest, directory: directory, createdAt: createdAt, sightings: sightings, notes: notes) {
                out[digest] = recurrence
            }
        }
        return out
    }

    /// The signatures whose digest starts with `prefix` (lowercase hexadecimal).
    public func digests(startingWith prefix: String) throws(LabError) -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT digest FROM signatures WHERE digest >= ? AND digest < ? ORDER BY digest", arguments: [prefix, prefix + "g"])
        }
    }

    /// Up to `limit` documents matching `text`, ranked (BM25, weighted by kind), failures of one
    /// signature in several campaigns folded into one hit; nil when the text has no word.
    public func recall(_ text: String, limit: Int = 100) throws(LabError) -> [Recall.Hit]? {
        guard let query = Recall.query(text) else { return nil }
        let hits: [Recall.Hit] = try read { db in
            // The best `limit` ranked inside FTS5 first, and only those joined to what is shown.
            try Row.fetchAll(db, sql: """
                SELECT t.kind, t.campaign, t.key, t.at, t.shown, best.score
                FROM (SELECT rowid, bm25(lab_fts, 2.0, 1.0) AS score FROM lab_fts WHERE lab_fts MATCH ? ORDER BY score LIMIT ?) AS best
                JOIN texts t ON t.id = best.rowid ORDER BY best.score
                """, arguments: [query, limit]).map { row in
                Recall.Hit(
                    kind: Recall.Kind(rawValue: row["kind"]) ?? .digest, campaign: row["campaign"], key: row["key"], bm25: row["score"],
                    at: row["at"], lines: try Self.decode([String].self, row["shown"]))
            }
        }
        // What was noted about the failures found, with them.
        let folded = Recall.folded(hits)
        let digests = folded.filter { $0.kind == .failure }.map(\.key)
        guard !digests.isEmpty else { return folded }
        let notes = try allNotes()
        return folded.map { hit in
            guard hit.kind == .failure else { return hit }
            var hit = hit
            hit.lines += notes.filter { $0.signature == hit.key }.map(\.line)
            return hit
        }
    }

    // MARK: - Plumbing

    func read<T>(_ body: (Database) throws -> T) throws(LabError) -> T {
        try database { try queue.read(body) }
    }

    func write<T>(_ body: (Database) throws -> T) throws(LabError) -> T {
        try database { try queue.write(body) }
    }

    /// `body`'s result, its errors said as the lab's.
    private func database<T>(_ body: () throws -> T) throws(LabError) -> T {
        do {
            return try body()
        } catch let error as LabError {
            throw error
        } catch {
            throw LabError(code: .database, message: "the lab \(path): \(error)", underlying: error)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
