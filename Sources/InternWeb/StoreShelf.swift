import InternReport
import InternStore
import Synchronization

/// The campaigns the dashboard has opened, read-only, by name: a store and its parsed spec are
/// opened once and shared by every request (GRDB's pool serves concurrent reads).
final class StoreShelf: Sendable {
    struct Entry: Sendable {
        let store: CampaignStore
        let view: StageView
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
        if let entry = open.withLock({ $0[name] }) { return entry }
        let store: CampaignStore
        let view: StageView
        do {
            store = try CampaignStore(directory: directory, create: false, readOnly: true)
            view = StageView(spec: try CampaignReport.spec(of: store).1)
        } catch {
            throw WebError(.internalServerError, "the campaign '\(name)' cannot be read: \(error)")
        }
        let entry = Entry(store: store, view: view)
        // Two first requests may both open it: the first one kept wins, the other is dropped.
        return open.withLock { $0[name, default: entry] }
    }
}
