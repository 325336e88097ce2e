import Foundation
import InternReport
import InternStore
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
        let entry = Entry(store: store, view: view, file: file)
        // Two requests may both open it: the one kept for this file wins, the other is dropped.
        return open.withLock { shelf in
            if let kept = shelf[name], kept.file == file { return kept }
            shelf[name] = entry
            return entry
        }
    }
}
