import ArgumentParser
import Foundation
import InternCore
import InternLab
import InternReport
import InternStore

/// The roots the lab indexes besides `--root`: `--also-root` (repeatable) and `$INTERN_LAB_ROOTS`
/// (colon-separated). The lab itself lives under the first root (docs/lab.md).
struct LabRoots: ParsableArguments {
    @Option(name: .customLong("also-root"), help: "Another root of campaigns for the lab to index (repeatable; also $INTERN_LAB_ROOTS, colon-separated).")
    var alsoRoots: [String] = []

    /// `primary` first, then the others, each once.
    func roots(primary: String) -> [String] {
        Self.roots(primary: primary, also: alsoRoots)
    }

    static func roots(primary: String, also: [String] = []) -> [String] {
        let environment = ProcessInfo.processInfo.environment["INTERN_LAB_ROOTS"].map { $0.split(separator: ":").map(String.init) } ?? []
        var roots: [String] = []
        for root in [primary] + also + environment where !root.isEmpty && !roots.contains(root) { roots.append(root) }
        return roots
    }

    /// The lab of these roots, brought up to date (see ``Lab/refresh(now:rebuild:)``); a lab that
    /// cannot be used fails the command with exit status 1.
    func open(primary: String, rebuild: Bool = false) throws -> Lab {
        do {
            let lab = try Lab(roots: roots(primary: primary))
            let summary = try lab.refresh(now: unixMillisNow(), rebuild: rebuild)
            for problem in summary.unreadable { FileHandle.standardError.write(Data("intern: the lab skipped \(problem)\n".utf8)) }
            return lab
        } catch {
            throw CampaignDatabaseError(message: error.message)
        }
    }
}

/// What the lab says about one campaign's failures, for the commands that show them (`status`,
/// `failures`, `digest`, `report`). The lab is a help, never a condition, and never a cost these
/// commands did not have: they read the lab as it stands (a lab command or a campaign's end
/// brings it up to date), and a root without a lab, or one that cannot be read, leaves them as
/// they were.
enum LabLookup {
    /// The recurrences of the campaign at `directory`'s failure signatures.
    static func recurrences(directory: String, digests: [String], createdAt: Timestamp) -> [String: Recurrence] {
        guard !digests.isEmpty, let lab = existingLab(of: directory) else { return [:] }
        return (try? lab.recurrences(of: digests, directory: directory, createdAt: createdAt)) ?? [:]
    }

    /// The lines `status` and `digest` add: each recurring failure with where it was seen and its notes.
    static func lines(store: CampaignStore, createdAt: Timestamp) -> [String] {
        guard let failures = try? store.failureExcerpts(), !failures.isEmpty else { return [] }
        let found = recurrences(directory: store.directory, digests: failures.map(\.signature), createdAt: createdAt)
        return failures.compactMap { failure in found[failure.signature].map { (failure, $0) } }.flatMap { failure, recurrence in
            ["\(failure.signature.prefix(8)) \(failure.excerpt)"] + recurrence.lines.map { "  " + $0 }
        }
    }

    /// The Markdown report's closing section: the failures an earlier campaign had, with their
    /// notes (empty when there are none).
    static func markdown(store: CampaignStore) -> String {
        guard let info = try? store.info() else { return "" }
        let lines = lines(store: store, createdAt: info.createdAt)
        guard !lines.isEmpty else { return "" }
        let items = lines.map { $0.hasPrefix("  ") ? "  - " + $0.dropFirst(2) : "- `" + $0.prefix(8) + "`" + $0.dropFirst(8) }
        return "\n## Failures seen in earlier campaigns\n\n" + items.joined(separator: "\n") + "\n"
    }

    /// A digest's text with a `seen before` section of `lines` before its closing cursor line, as
    /// many of them as fit in `tokens` with the rest (the digest's promise: never over budget).
    static func adding(_ lines: [String], toDigest text: String, tokens: Int) -> String {
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
    static func root(of directory: String) -> String {
        let root = (Lab.canonical(directory) as NSString).deletingLastPathComponent
        return root.isEmpty ? "." : root
    }

    /// The lab of the root holding `directory` as it stands, if there is one (none is created).
    static func existingLab(of directory: String) -> Lab? {
        let root = root(of: directory)
        guard FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(Lab.databaseName)) else { return nil }
        return try? Lab(roots: LabRoots.roots(primary: root))
    }

    /// Brings the campaign at `directory` into its root's lab as it ends (`intern run`, `intern
    /// resume`): the next campaign sees its failures without a lab command in between. A new lab
    /// indexes every campaign under the root first. Never fails the run.
    static func record(campaign directory: String) {
        guard let lab = try? Lab(roots: LabRoots.roots(primary: root(of: directory))) else { return }
        let now = unixMillisNow()
        if (try? lab.campaigns().isEmpty) ?? true {
            _ = try? lab.refresh(now: now)
        } else {
            _ = try? lab.refresh(campaign: directory, now: now)
        }
    }
}
