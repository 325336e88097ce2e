import Dispatch
import Foundation
import InternCore
import InternLab
import InternReport
import InternStore
import Synchronization

/// Answers `status` and `digest` on a local campaign in this process, from a store kept open
/// across calls, instead of starting `intern` for each (a process to start, its binary to map:
/// about 25 ms of each `status` on a 10,000-trial campaign). The answer is the command's own, byte
/// for byte: both call ``CampaignStatus/render(store:events:now:)`` and
/// ``CampaignDigest/render(store:now:tokens:since:json:memo:)``. What is kept between calls is the
/// open store (each read is a transaction of its own, which sees every commit of the coordinator)
/// and its ``DigestMemo`` (decoded parameters, and parameter importance for the same inputs).
/// What it does not answer exactly (another command, an argument it does not take, any error) is
/// nil, and the caller runs the command, whose error then reads as it always has.
final class LocalAnswers: Sendable {
    /// An open store, its digests' memo, and the database file it opened (a store replaced by
    /// another file is reopened, with a new memo).
    private struct Open {
        var store: CampaignStore
        var memo: DigestMemo
        var device: UInt64
        var inode: UInt64
    }

    private let stores = Mutex<[String: Open]>([:])
    /// SQLite's reads block: they run here, off Swift's cooperative pool.
    private let queue = DispatchQueue(label: "intern-mcp.local-answers", attributes: .concurrent)

    /// Whether the commands are answered here: `INTERN_MCP_IN_PROCESS=0` runs every one as
    /// `intern` (the way around a problem here, and the comparison `make bench-mcp` makes).
    static let enabled = ProcessInfo.processInfo.environment["INTERN_MCP_IN_PROCESS"] != "0"

    /// `intern ARGUMENTS --dir DIRECTORY`'s standard output, when this is a command answered here
    /// and it succeeds; nil otherwise.
    func answer(_ arguments: [String], directory: String) async -> [UInt8]? {
        guard Self.enabled, let command = Command(arguments) else { return nil }
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.compute(command, directory: directory)) }
        }
    }

    /// The commands answered here, as `ToolRunner` and `intern agent` pass them.
    enum Command: Equatable {
        case status(events: Int)
        case digest(tokens: Int, since: DigestCursor?, json: Bool)

        /// `status [--events N]`, `digest [--json] [--tokens N] [--since CURSOR]` with values the
        /// commands accept; nil for anything else.
        init?(_ arguments: [String]) {
            var rest = arguments.dropFirst()
            func value() -> String? { rest.count >= 2 ? rest.dropFirst().first : nil }
            switch arguments.first {
            case "status":
                var events = CampaignStatus.defaultEvents
                while let option = rest.first {
                    guard option == "--events", let given = value().flatMap(Int.init), given >= 0 else { return nil }
                    events = given
                    rest = rest.dropFirst(2)
                }
                self = .status(events: events)
            case "digest":
                var tokens = CampaignDigest.defaultTokens
                var since: DigestCursor?
                var json = false
                while let option = rest.first {
                    switch option {
                    case "--json":
                        json = true
                        rest = rest.dropFirst()
                    case "--tokens":
                        guard let given = value().flatMap(Int.init), given >= 24 else { return nil }
                        tokens = given
                        rest = rest.dropFirst(2)
                    case "--since":
                        guard let cursor = value().flatMap(DigestCursor.init) else { return nil }
                        since = cursor
                        rest = rest.dropFirst(2)
                    default:
                        return nil
                    }
                }
                self = .digest(tokens: tokens, since: since, json: json)
            default:
                return nil
            }
        }
    }

    private func compute(_ command: Command, directory: String) -> [UInt8]? {
        guard let (store, memo) = open(directory) else { return nil }
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        do {
            switch command {
            // With what the lab says of the campaign's failures, as the commands add it.
            case .status(let events):
                let createdAt = try store.info()?.createdAt ?? 0
                return Array((try CampaignStatus.render(store: store, events: events, now: now) + LabLookup.statusSection(store: store, createdAt: createdAt)).utf8)
            case .digest(let tokens, let since, let json):
                var text = try CampaignDigest.render(store: store, now: now, tokens: tokens, since: since, json: json, memo: memo)
                if !json, let info = try store.info() {
                    text = LabLookup.adding(LabLookup.lines(store: store, createdAt: info.createdAt), toDigest: text, tokens: tokens)
                }
                return Array(text.utf8)
            }
        } catch {
            return nil
        }
    }

    /// The store of `directory`'s campaign, opened read-only as `intern status` opens it, or the
    /// one already open when its database is still the same file. (The same device and inode
    /// means the same file: the open store holds the file open, so a file that replaced it cannot
    /// have been given its inode.)
    private func open(_ directory: String) -> (CampaignStore, DigestMemo)? {
        var info = stat()
        guard stat("\(directory)/\(CampaignStore.databaseName)", &info) == 0 else {
            stores.withLock { _ = $0.removeValue(forKey: directory) }
            return nil
        }
        let (device, inode) = (UInt64(info.st_dev), UInt64(info.st_ino))
        if let open = stores.withLock({ $0[directory] }), open.device == device, open.inode == inode { return (open.store, open.memo) }
        guard let store = try? CampaignStore(directory: directory, create: false, readOnly: true), (try? store.holdsCampaign()) == true else {
            return nil
        }
        let open = Open(store: store, memo: DigestMemo(), device: device, inode: inode)
        stores.withLock { $0[directory] = open }
        return (store, open.memo)
    }
}
