/// One thing wrong with a campaign spec, found by validation: where (a key path such as
/// `space.learning_rate.low`), what, and possibly the name that was probably meant.
public struct CampaignProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is, as a dotted key path into the spec (`trials`, `space.lr.low`, `command[2]`).
    public var keyPath: String
    /// What is wrong and what would be valid, for a person to read.
    public var message: String
    /// The name the author probably meant, when one is close enough to suggest.
    public var suggestion: String?

    /// Creates a problem.
    public init(keyPath: String, message: String, suggestion: String? = nil) {
        self.keyPath = keyPath
        self.message = message
        self.suggestion = suggestion
    }

    /// `keyPath: message`.
    public var description: String { keyPath.isEmpty ? message : "\(keyPath): \(message)" }
}

/// Suggestions for misspelt names ("did you mean 'trials'?").
public enum NameSuggestion {
    /// The candidate closest to `word`: at edit distance 2 or less (a swap of two neighbouring
    /// characters counts 1), or one a prefix of the other, or one the end of the other after `_`,
    /// `/` or `.` (`accuracy` in `eval_accuracy`; at least 3 characters); `nil` if none is close.
    /// Ties go to the earlier candidate.
    public static func closest<S: Sequence<String>>(to word: String, among candidates: S) -> String? {
        var best: (name: String, distance: Int)?
        let lowered = word.lowercased()
        for candidate in candidates where candidate != word {
            let other = candidate.lowercased()
            var distance = editDistance(lowered, other)
            if distance > 2 || distance >= max(lowered.count, other.count) {
                let shorter = min(lowered.count, other.count)
                if shorter >= 3, lowered.hasPrefix(other) || other.hasPrefix(lowered)
                    || Self.endsAfterSeparator(lowered, other) || Self.endsAfterSeparator(other, lowered) {
                    distance = 3
                } else {
                    continue
                }
            }
            if best == nil || distance < best!.distance {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    /// Whether `long` ends with `short` right after `_`, `/` or `.`.
    static func endsAfterSeparator(_ long: String, _ short: String) -> Bool {
        guard long.count > short.count, long.hasSuffix(short) else { return false }
        let before = long.dropLast(short.count).last
        return before == "_" || before == "/" || before == "."
    }

    /// The optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
    /// two adjacent characters each cost 1.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
