import ArgumentParser
import Foundation
import InternLab

/// `intern recall TEXT`: what every campaign under the root knows about a text, ranked.
struct RecallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recall",
        abstract: "Search every campaign's failures, notes, digests and best results (BM25), within a token budget.",
        discussion: """
            intern recall "no module named transformers" answers the best matches first: failure signatures (with \
            the notes attached to them and the other campaigns that had them), notes, best results, digests. \
            Words are matched whole, any of them; rarer and more of them rank higher. See docs/lab.md.
            """)

    @Argument(help: "What to look for (words).")
    var text: [String]

    @Option(name: .long, help: "The most tokens the answer may take (about 4 bytes each).")
    var tokens: Int = 800

    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    @OptionGroup var lab: LabRoots

    @Flag(name: .long, help: "The matches as JSON (kind, campaign, key, score, lines), best first, not cut to --tokens.")
    var json = false

    func validate() throws {
        guard Recall.query(text.joined(separator: " ")) != nil else {
            throw ValidationError("recall needs a word to look for (letters or digits), not '\(text.joined(separator: " "))'")
        }
        guard (64...100_000).contains(tokens) else { throw ValidationError("--tokens must be 64 to 100000") }
    }

    func run() async throws {
        let lab = try lab.open(primary: root)
        let words = text.joined(separator: " ")
        let limit = 200
        let hits: [Recall.Hit]
        do { hits = try lab.recall(words, limit: limit) ?? [] } catch { throw CampaignDatabaseError(message: error.message) }
        if json {
            let objects: [[String: Any]] = Recall.ranked(hits).map {
                ["kind": $0.kind.rawValue, "campaign": $0.campaign, "key": $0.key, "score": $0.score, "lines": $0.lines]
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(Recall.answer(hits, query: words, tokens: tokens, capped: hits.count >= limit), terminator: "")
    }
}
