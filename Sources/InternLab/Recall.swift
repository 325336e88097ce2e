import InternReport

/// `intern recall`'s pure half: the full-text query a person's words make, the ranking of what
/// the index found, and the answer cut to a token budget.
public enum Recall {
    /// What a document of the lab is.
    public enum Kind: String, Sendable, CaseIterable, Codable {
        /// A failure signature of one campaign: its normalised text, excerpt and reason.
        case failure
        /// A note (`intern note`).
        case note
        /// A campaign's digest.
        case digest
        /// A campaign's best result (validated or not).
        case finding

        /// How much a match of this kind weighs against the others: what someone wrote down
        /// first, then results, failures, and the digests that repeat all of them.
        public var weight: Double {
            switch self {
            case .note: 1.5
            case .finding: 1.2
            case .failure: 1.0
            case .digest: 0.8
            }
        }
    }

    /// One document the index matched.
    public struct Hit: Sendable, Equatable {
        public var kind: Kind
        /// The campaign's name (empty for a note on a signature).
        public var campaign: String
        /// What identifies the document within its kind and campaign (a digest, a note's number).
        public var key: String
        /// SQLite's bm25(): the more negative, the better the match.
        public var bm25: Double
        /// When what it describes last happened (a failure's last attempt, a note's writing).
        public var at: Int64
        /// The lines to show, the first a headline.
        public var lines: [String]

        public init(kind: Kind, campaign: String, key: String, bm25: Double, at: Int64, lines: [String]) {
            self.kind = kind
            self.campaign = campaign
            self.key = key
            self.bm25 = bm25
            self.at = at
            self.lines = lines
        }

        /// The score hits are ranked by: bm25's relevance (negated, so higher is better) times the kind's weight.
        public var score: Double { -bm25 * kind.weight }
    }

    /// The FTS5 query for `text`: its words (letters, digits and `_`), each quoted, any of them
    /// (BM25 ranks documents with more and rarer ones first); nil when there is no word. Quoting
    /// makes every word a plain term: FTS5's operators (AND, NEAR, `*`, `:`) typed in the text are
    /// words like any other.
    public static func query(_ text: String) -> String? {
        var words: [String] = []
        var current = ""
        for character in text.lowercased() {
            if character.isLetter || character.isNumber || character == "_" {
                current.append(character)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        var seen: Set<String> = []
        let kept = words.filter { seen.insert($0).inserted }.prefix(32)
        guard !kept.isEmpty else { return nil }
        return kept.map { "\"\($0)\"" }.joined(separator: " OR ")
    }

    /// The hits best first: by score, then the most recent, then by campaign and key (a stable order).
    public static func ranked(_ hits: [Hit]) -> [Hit] {
        hits.sorted { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.at != b.at { return a.at > b.at }
            return (a.campaign, a.kind.rawValue, a.key) < (b.campaign, b.kind.rawValue, b.key)
        }
    }

    /// The hits with the failures of one signature in several campaigns folded into the best
    /// ranked of them, which gains a line naming the others: the same error found in thirty
    /// campaigns is one answer, not thirty.
    public static func folded(_ hits: [Hit]) -> [Hit] {
        let ranked = ranked(hits)
        var others: [String: [String]] = [:]
        var kept: [Hit] = []
        for hit in ranked {
            if hit.kind == .failure, others[hit.key] != nil {
                others[hit.key]!.append(hit.campaign)
                continue
            }
            if hit.kind == .failure { others[hit.key] = [] }
            kept.append(hit)
        }
        return kept.map { hit in
            guard hit.kind == .failure, let more = others[hit.key], !more.isEmpty else { return hit }
            var hit = hit
            let shown = more.prefix(5).joined(separator: ", ")
            hit.lines.append("also in campaign\(more.count == 1 ? "" : "s") \(shown)\(more.count > 5 ? " and \(more.count - 5) more" : "")")
            return hit
        }
    }

    /// The answer: the ranked hits, whole, while they fit in `tokens` (``CampaignDigest/tokens(_:)``
    /// counts), then a line that says how many more matched and how to see them. The first hit is
    /// shown even alone over the budget, its lines cut to fit.
    /// `capped`: the index was asked for at most `hits.count` and may hold more.
    public static func answer(_ hits: [Hit], query text: String, tokens budget: Int, capped: Bool = false) -> String {
        guard !hits.isEmpty else { return "nothing in the lab matches \"\(text)\"\n" }
        let matched = hits.count
        let header = "\(matched)\(capped ? "+" : "") match\(matched == 1 ? "" : "es") for \"\(text)\", best first:"
        var lines = [header]
        var used = CampaignDigest.tokens(header)
        // Room kept for the closing line.
        let reserve = 24
        var shown = 0
        for hit in ranked(hits) {
            let block = ["[\(hit.kind.rawValue)] " + hit.lines[0]] + hit.lines.dropFirst().map { "  " + $0 }
            let cost = block.reduce(0) { $0 + CampaignDigest.tokens($1) }
            if used + cost + reserve > budget {
                if shown == 0 {
                    for line in block {
                        let room = budget - used - reserve
                        guard room > 1 else { break }
                        var kept = String(line.prefix((room - 1) * 4))
                        while CampaignDigest.tokens(kept) > room { kept.removeLast(max(1, kept.count / 8)) }
                        lines.append(kept)
                        used += CampaignDigest.tokens(kept)
                    }
                    shown = 1
                }
                break
            }
            lines += block
            used += cost
            shown += 1
        }
        let more = matched - shown
        if more > 0 {
            lines.append("… \(more)\(capped ? "+" : "") more match\(more == 1 ? "" : "es") left out to keep within \(budget) tokens: raise --tokens or add words")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
