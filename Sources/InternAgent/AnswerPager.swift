import InternReport

/// Cuts a tool's answer to a token budget, in pages, never silently: a cut answer ends with a line
/// that says which page it is, how many there are, and how to ask for the next. Tokens are the
/// digest's count (``CampaignDigest/tokens(_:)``: ⌈UTF-8 bytes / 4⌉ + 1 per line).
public struct AnswerPager: Sendable {
    public let budget: Int

    public init(budget: Int) {
        self.budget = max(budget, 64)
    }

    public struct Page: Sendable, Equatable {
        public var text: String
        public var number: Int
        public var count: Int
        public var complete: Bool { count == 1 }
    }

    /// Page `number` (from 1) of `answer`; past the last page, the last.
    public func page(_ answer: String, number: Int = 1) -> Page {
        let pages = split(answer)
        let index = min(max(number, 1), pages.count) - 1
        guard pages.count > 1 else { return Page(text: pages[0], number: 1, count: 1) }
        let note = index + 1 < pages.count
            ? "[page \(index + 1) of \(pages.count): call again with page: \(index + 2) for more]"
            : "[page \(index + 1) of \(pages.count): the end]"
        return Page(text: pages[index] + "\n" + note, number: index + 1, count: pages.count)
    }

    /// The answer in pages of at most `budget` tokens less the note's, each a run of whole lines
    /// (a line longer than a page is cut into pieces).
    func split(_ answer: String) -> [String] {
        let room = budget - 24
        var pages: [String] = []
        var current: [Substring] = []
        var used = 0
        func flush() {
            pages.append(current.joined(separator: "\n"))
            current = []
            used = 0
        }
        for line in answer.split(separator: "\n", omittingEmptySubsequences: false) {
            for piece in Self.pieces(line, tokens: room) {
                let cost = CampaignDigest.tokens(String(piece))
                if used + cost > room, !current.isEmpty { flush() }
                current.append(piece)
                used += cost
            }
        }
        if !current.isEmpty || pages.isEmpty { flush() }
        while pages.count > 1, pages.last!.allSatisfy(\.isWhitespace) { pages.removeLast() }
        return pages
    }

    /// A line cut into pieces of at most `tokens` tokens each (on character boundaries).
    static func pieces(_ line: Substring, tokens: Int) -> [Substring] {
        let maxBytes = max((tokens - 1) * 4, 4)
        guard line.utf8.count > maxBytes else { return [line] }
        var pieces: [Substring] = []
        var start = line.startIndex
        while start < line.endIndex {
            var end = line.utf8.index(start, offsetBy: maxBytes, limitedBy: line.endIndex) ?? line.endIndex
            while end < line.endIndex, !line.indices.contains(end) { end = line.utf8.index(before: end) }
            pieces.append(line[start..<end])
            start = end
        }
        return pieces
    }
}

/// Remembers each read's answer, so that the same read asked again with nothing changed is
/// answered in a few tokens: "unchanged since read N".
public struct ReadMemory: Sendable {
    private var last: [String: (digest: Int, read: Int)] = [:]
    private var reads = 0

    public init() {}

    /// `nil` when `answer` differs from what the same call answered last (it is remembered as read
    /// N); else the short answer.
    public mutating func unchanged(call: String, answer: String) -> String? {
        reads += 1
        var hasher = Hasher()
        hasher.combine(answer)
        let digest = hasher.finalize()
        if let previous = last[call], previous.digest == digest {
            return "unchanged since read \(previous.read) (same answer; ask another tool, or later)"
        }
        last[call] = (digest, reads)
        return nil
    }
}
