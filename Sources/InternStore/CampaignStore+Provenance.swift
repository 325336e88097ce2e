import Foundation
import GRDB
import InternCore
import Zstd

/// What an attempt ran with, as stored: its fields (`git.commit`, `python`, `packages`, ...) and
/// the blobs they name by digest (the diff, the package list), each stored once.
public struct ProvenanceRecord: Sendable, Equatable {
    public struct Blob: Sendable, Equatable {
        public var digest: String
        public var kind: String
        public var rawLength: UInt64
        /// One zstd frame.
        public var data: [UInt8]

        public init(digest: String, kind: String, rawLength: UInt64, data: [UInt8]) {
            self.digest = digest
            self.kind = kind
            self.rawLength = rawLength
            self.data = data
        }

        /// The content, decompressed (at most 8 MiB), or `nil` when it does not decode to `rawLength` bytes.
        public var content: [UInt8]? {
            guard rawLength <= 8 << 20, let bytes = try? Zstd.decompressAll(data), UInt64(bytes.count) == rawLength else { return nil }
            return bytes
        }
    }

    public var attempt: AttemptID
    public var fields: [String: String]
    public var blobs: [Blob]
    public var capturedAt: Timestamp

    public init(attempt: AttemptID, fields: [String: String], blobs: [Blob] = [], capturedAt: Timestamp) {
        self.attempt = attempt
        self.fields = fields
        self.blobs = blobs
        self.capturedAt = capturedAt
    }
}

extension CampaignStore {
    /// Stores attempts' provenance (a repeated one replaces the earlier; a blob already stored is kept).
    public func store(provenance records: [ProvenanceRecord]) throws {
        guard !records.isEmpty else { return }
        try write { db in
            for record in records {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO attempt_provenance (attempt_id, fields, captured_at) VALUES (?, ?, ?)",
                    arguments: [Int64(record.attempt), encodeJSON(record.fields), record.capturedAt])
                for blob in record.blobs {
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO provenance_blobs (digest, kind, raw_length, data) VALUES (?, ?, ?, ?)",
                        arguments: [blob.digest, blob.kind, Int64(blob.rawLength), Data(blob.data)])
                }
            }
        }
    }

    /// The provenance of every attempt that has one, by attempt (fields only).
    public func provenance() throws -> [AttemptID: [String: String]] {
        try read { db in
            var out: [AttemptID: [String: String]] = [:]
            // A store written before provenance existed, opened read-only (not migrated), has none.
            guard try db.tableExists("attempt_provenance") else { return out }
            for row in try Row.fetchAll(db, sql: "SELECT attempt_id, fields FROM attempt_provenance") {
                out[AttemptID(row["attempt_id"] as Int64)] = decodeJSON([String: String].self, row["fields"]) ?? [:]
            }
            return out
        }
    }

    /// A blob's content, decompressed (`nil` when it is not stored).
    public func provenanceBlob(_ digest: String) throws -> [UInt8]? {
        guard let data = try read({ db in
            try db.tableExists("provenance_blobs")
                ? try Data.fetchOne(db, sql: "SELECT data FROM provenance_blobs WHERE digest = ?", arguments: [digest]) : nil
        })
        else { return nil }
        return try Zstd.decompressAll([UInt8](data))
    }
}
