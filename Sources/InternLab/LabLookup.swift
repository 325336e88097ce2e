import Foundation
import InternCore
import InternReport
import InternStore

/// What the lab says about one campaign's failures, for the commands that show them (`status`,
/// `failures`, `digest`, `report`). The lab is a help, never a condition, and never a cost these
/// commands did not have: they read the lab as it stands (a lab command or a campaign's end
/// brings it up to date), and a root without a lab, or one that cannot be read, leaves them as
/// they were.
public enum LabLookup {
    /// The recurrences of the campaign at `directory`'s failure signatures.
    public static func recurrences(directory: String, digests: [String], createdAt: Timestamp) -> [String: Recurrence] {
        guard !digests.isEmpty, let lab = existingLab(of: directory) else { return [:] }
        return (try? lab.recurrences(of: digests, directory: directory, createdAt: createdAt)) ?? [:]
    }

    /// The lines `status` and `digest` add: each recurring failure with where it was seen and its notes.
    public static func lines(store: CampaignStore, createdAt: Timestamp) -> [String] {
        guard let failures = try? store.failureExcerpts(), !failures.isEmpty else { return [] }
        let found = recurrences(directory: store.directory, digests: failures.map(\.signature), createdAt: createdAt)
        return failures.compactMap { failure in found[failure.signature].map { (failure, $0) } }.flatMap { failure, recurrence in
            ["\(failure.signature.prefix(8)) \(failure.excerpt)"] + recurrence.lines.map { "  " + $0 }
        }
    }

    /// The block `intern status` ends with (and `intern-mcp`'s status tool, the same bytes):
    /// `seen before` and the lines, or nothing.
    public static func statusSection(store: CampaignStore, createdAt: Timestamp) -> String {
        let lines = lines(store: store, createdAt: createdAt)
        return lines.isEmpty ? "" : "seen before\n" + lines.map { "  " + $0 + "\n" }.joined()
    }

    /// The report's section of failures an earlier campaign had (``CampaignReport/seenBefore``):
    /// a line per failure (`` `abcd1234` excerpt ``), then its sightings and notes (`↳ …`).
    public static func reportLines(store: CampaignStore) -> [String] {
        guard let info = try? store.info() else { return [] }
        return lines(store: store, createdAt: info.createdAt).map { line in
            line.hasPrefix("  ") ? "↳ " + line.drop { $0 == " " } : "`" + line.prefix(8) + "`" + line.dropFirst(8)
        }
    }

    /// A digest's text with a `seen before` section of `lines` before its closing cursor line, as
    /// many of them as fit in `tokens` with the rest (the digest's promise: never over budget).
    public static func adding(_ lines: [String], toDigest text: String, tokens: Int) -> String {
        guard !lines.isEmpty else { return text }
        var digest = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if digest.last == "" { digest.removeLast() }
        guard let cursor = digest.popLast() else { return text }
        var used = (digest + [cursor]).reduce(0) { $0 + CampaignDigest.tokens($1) }
        var section = ["## seen before"]
        used += CampaignDigest.tokens(section[0])
        for line in lines {
            let shown = "  " + line
            guard used + CampaignDigest.tokens(shown) <= tokens else { break }
            section.append(shown)
            used += CampaignDigest.tokens(shown)
        }
        guard section.count > 1 else { return text }
        return (digest + section + [cursor]).joined(separator: "\n") + "\n"
    }

    /// The root holding a campaign directory (the lab's place).
    public static func root(of directory: String) -> String {
        let root = (Lab.canonical(directory) as NSString).deletingLastPathComponent
        return root.isEmpty ? "." : root
    }

    /// The lab of the root holding `directory` as it stands, if there is one (none is created).
    public static func existingLab(of directory: String) -> Lab? {
        let root = root(of: directory)
        guard FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(Lab.databaseName)) else { return nil }
        return try? Lab(roots: Lab.roots(primary: root))
    }

    /// Brings the campaign at `directory` into its root's lab as it ends (`intern run`, `intern
    /// resume`): the next campaign sees its failures without a lab command in between. Only this
    /// campaign: the others under the root (a new lab beside many old campaigns) wait for the next
    /// lab command, so that the run's end never waits for them. Never fails the run.
    public static func record(campaign directory: String, now: Timestamp) {
        guard let lab = try? Lab(roots: Lab.roots(primary: root(of: directory))) else { return }
        _ = try? lab.refresh(campaign: directory, now: now)
    }
}
