import Foundation
import InternCore
import InternStore

/// `EVENT.TIME`: the last event a digest saw and the latest trial end it counted.
public struct DigestCursor: Sendable, Equatable {
    public var event: Int64
    public var time: Int64

    /// The cursor a digest printed, or nil for text that is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let event = Int64(parts[0]), let time = Int64(parts[1]), event >= 0 else { return nil }
        self.event = event
        self.time = time
    }
}

extension CampaignDigest {
    /// The digest's text budget unless asked otherwise (`--tokens`).
    public static let defaultTokens = 800

    /// `intern digest`'s output for the campaign in `store`: the text, or with `json` its JSON
    /// and a line break, within `tokens`; with `since`, also what changed after that cursor.
    /// The command prints it, and `intern-mcp` answers its `digest` tool with it: the same bytes
    /// (`memo`, which `intern-mcp` keeps per store, changes how much is read, not what is said).
    public static func render(
        store: CampaignStore, now: Timestamp, tokens: Int, since: DigestCursor?, json: Bool, memo: DigestMemo? = nil
    ) throws -> String {
        // Only what the digest shows, read selectively: a campaign's trials are not loaded whole.
        let report = try CampaignReport.build(store: store, now: now, extent: .digest, memo: memo)
        // The cursor is the store's own position (its last event, its latest trial end), not the
        // clock: the same store and cursor give the same digest. (A store an older intern left
        // unmigrated may lack a column the queries name: then from the trials themselves.)
        let lastEvent = try store.lastEventID()
        var changes: Changes?
        if let since {
            let ended = try (try? store.trialsEnded(after: since.time)) ?? store.trials().filter { ($0.endedAt ?? 0) > since.time }.map(TrialOutcome.init)
            changes = Changes(
                events: try store.events(after: since.event).map(\.event),
                ended: ended.map { (trial: $0.id, status: $0.feasible == false ? "infeasible" : $0.status.rawValue, objective: $0.objective) },
                since: since.time)
        }
        let lastEnd = try (try? store.lastTrialEnd()) ?? store.trials().compactMap(\.endedAt).max() ?? 0
        let digest = make(report: report, changes: changes, cursor: "\(lastEvent).\(lastEnd)", budget: tokens)
        guard json else { return digest.text }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(digest), as: UTF8.self) + "\n"
    }
}
