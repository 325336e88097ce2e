import Foundation
import InternReport
import InternStore
import NIOPosix
import Synchronization

/// The campaigns the dashboard has opened, read-only, by name: a store and its parsed spec are
/// opened once and shared by every request (GRDB's pool serves concurrent reads), and opened
/// again when `campaign.db` is another file (the campaign was removed and made anew).
final class StoreShelf: Sendable {
    struct Entry: Sendable {
        let store: CampaignStore
        let view: StageView
        /// The database file's device and inode when it was opened.
        let file: FileIdentity
        /// The last report built and its charts drawn, with the campaign's fingerprint then:
        /// built again only when the campaign changed (a 10,000-trial report and its charts take
        /// a few hundred milliseconds).
        let report: RenderCache<DrawnReport>
        /// The trials table (by query) and the workers, rendered as of the campaign's fingerprint.
        let tables: RenderCache<String>
        /// What its open feeds send, read once for all of them.
        let progress: SharedProgress
    }

    /// A report, its charts (drawn once: ``CampaignReport/chartsBySection`` draws them anew at
    /// each call) and the campaign page's part made of them (rendered once for every page that
    /// fetches it).
    struct DrawnReport: Sendable {
        let report: CampaignReport
        let charts: [String: [String]]
        let html: String
    }

    /// The campaign page's costly parts (its analysis; its trials table for a query; its
    /// workers), each kept with the campaign's fingerprint it was made for and made again only
    /// for another: one making at a time per part (off the cooperative pool), which whoever asks
    /// meanwhile takes (at most one change older than asked for). Fifty pages that fetch a part
    /// after the same progress event cost the process one making and fifty answers.
    actor RenderCache<Value: Sendable> {
        /// How many parts are kept (tables for that many queries): the least recently asked for goes.
        static var capacity: Int { 16 }

        private var kept: [String: (fingerprint: CampaignProgress.Fingerprint, value: Value, askedAt: UInt64)] = [:]
        private var making: [String: Task<(Value, Duration), any Error>] = [:]
        private var asks: UInt64 = 0
        /// How long the last making took, milliseconds (what ``RedrawPacer`` paces by).
        private(set) var lastBuildMillis: Int64 = 0

        /// Part `key` as of `fingerprint`: the kept one if it was made for the same, else `make()`'s.
        func value(_ key: String = "", for fingerprint: CampaignProgress.Fingerprint, make: @escaping @Sendable () throws -> Value) async throws -> Value {
            asks += 1
            if let part = kept[key], part.fingerprint == fingerprint {
                kept[key]?.askedAt = asks
                return part.value
            }
            if let task = making[key] { return try await task.value.0 }
            // Awaited by this caller and by any that ask meanwhile: not left running on its own.
            let task = Task {
                try await NIOThreadPool.singleton.runIfActive {
                    let started = ContinuousClock.now
                    return (try make(), ContinuousClock.now - started)
                }
            }
            making[key] = task
            defer { making[key] = nil }
            let (value, took) = try await task.value
            kept[key] = (fingerprint, value, asks)
            if kept.count > Self.capacity, let oldest = kept.min(by: { $0.value.askedAt < $1.value.askedAt })?.key { kept[oldest] = nil }
            lastBuildMillis = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
            return value
        }
    }

    struct FileIdentity: Sendable, Equatable {
        var device: UInt64
        var inode: UInt64

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    private let root: CampaignRoot
    private let open = Mutex<[String: Entry]>([:])

    init(root: CampaignRoot) {
        self.root = root
    }

    /// The campaign `name` when it is open and its database is still the file opened (one
    /// `stat`, no store opened: what a page's frequent fetches find); nil otherwise.
    func openEntry(_ name: String) -> Entry? {
        // Only a name that was found under the root (and so checked) is on the shelf.
        guard let entry = open.withLock({ $0[name] }), entry.file == FileIdentity(path: "\(root.path)/\(name)/\(CampaignStore.databaseName)") else {
            return nil
        }
        return entry
    }

    /// The campaign `name` under the root: 404 when there is none (or the name is no campaign
    /// name), 500 when its database cannot be read.
    func entry(_ name: String) throws -> Entry {
        let directory = try root.directory(of: name)
        let file = FileIdentity(path: "\(directory)/\(CampaignStore.databaseName)")
        if let entry = open.withLock({ $0[name] }), entry.file == file { return entry }
        let store: CampaignStore
        let view: StageView
        do {
            store = try CampaignStore(directory: directory, create: false, readOnly: true)
            view = StageView(spec: try CampaignReport.spec(of: store).1)
        } catch {
            throw WebError(.internalServerError, "the campaign '\(name)' cannot be read: \(error)")
        }
        guard let file else { throw WebError.notFound("no campaign named '\(name)' under \(root.path)") }
        let (report, tables) = (RenderCache<DrawnReport>(), RenderCache<String>())
        let entry = Entry(
            store: store, view: view, file: file, report: report, tables: tables,
            progress: SharedProgress(store: store, view: view, report: report, tables: tables))
        // Two requests may both open it: the one kept for this file wins, the other is dropped.
        return open.withLock { shelf in
            if let kept = shelf[name], kept.file == file { return kept }
            shelf[name] = entry
            return entry
        }
    }
}
