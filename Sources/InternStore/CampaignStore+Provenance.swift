import Foundation
import GRDB
import InternCore
import Zstd

extension AttemptProvenanceRecord.Blob {
    /// The content, decompressed (at most 8 MiB), or `nil` when it does not decode to `rawLength` bytes.
    public var content: [UInt8]? {
        guard rawLength <= 8 << 20, let bytes = try? Zstd.decompressAll(data), UInt64(bytes.count) == rawLength else { return nil }
        return bytes
    }
}

extension CampaignStore {
    /// Stores an attempt's provenance (a repeated one replaces the earlier; a blob already
    /// stored is kept): inside ``apply(_:)``'s transaction.
    static func store(_ record: AttemptProvenanceRecord, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO attempt_provenance (attempt_id, fields, captured_at) VALUES (?, ?, ?)",
            arguments: [Int64(record.attempt), encodeJSON(record.fields), record.capturedAt])
        for blob in record.blobs {
            try db.execute(
                sql: "INSERT OR IGNORE INTO provenance_blobs (digest, kind, raw_length, data) VALUES (?, ?, ?, ?)",
                arguments: [blob.digest, blob.kind, Int64(blob.rawLength), Data(blob.data)])
        }
    }

    /// The provenance of every attempt that has one, by attempt (fields only).
    public func provenance() throws -> [AttemptID: [String: String]] {
        try read { db in
            var out: [AttemptID: [String: String]] = [:]
            // A store written before provenance existed, opened read-only (not migrated), has none.
            guard try db.tableExists("attempt_provenance") else { return out }
            for row in try Row.fetchAll(db, sql: "SELECT attempt_id, fields FROM attempt_provenance") {
                out[AttemptID(row["attempt_id"] as Int64)] = decodeStringMap(row["fields"]) ?? [:]
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
