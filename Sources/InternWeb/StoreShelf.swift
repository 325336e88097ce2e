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
        let report: ReportCache
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

    /// One campaign's latest report and what it was built from: built again only for another
    /// fingerprint, one build at a time (off the cooperative pool); whoever asks while one is under
    /// way takes that one's report (at most one change older than asked for).
    actor ReportCache {
        private var kept: (fingerprint: CampaignProgress.Fingerprint, report: DrawnReport)?
        private var building: Task<(DrawnReport, Duration), any Error>?
        /// How long the last build took, milliseconds (what ``AnalysisPacer`` paces by).
        private(set) var lastBuildMillis: Int64 = 0

        /// The report for `fingerprint`: the kept one if it was built for the same, else `build()`'s.
        func report(for fingerprint: CampaignProgress.Fingerprint, build: @escaping @Sendable () throws -> DrawnReport) async throws -> DrawnReport {
            if let kept, kept.fingerprint == fingerprint { return kept.report }
            if let building { return try await building.value.0 }
            // Awaited by this caller and by any that ask meanwhile: not left running on its own.
            let task = Task {
                try await NIOThreadPool.singleton.runIfActive {
                    let started = ContinuousClock.now
                    return (try build(), ContinuousClock.now - started)
                }
            }
            building = task
            defer { building = nil }
            let (report, took) = try await task.value
            kept = (fingerprint, report)
            lastBuildMillis = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
            return report
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
        let report = ReportCache()
        let entry = Entry(store: store, view: view, file: file, report: report, progress: SharedProgress(store: store, view: view, report: report))
        // Two requests may both open it: the one kept for this file wins, the other is dropped.
        return open.withLock { shelf in
            if let kept = shelf[name], kept.file == file { return kept }
            shelf[name] = entry
            return entry
        }
    }
}
