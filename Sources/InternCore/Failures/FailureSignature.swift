/// What makes two failures "the same failure": a digest of the failing attempt's final error,
/// normalised so that what varies from run to run (line numbers, tensor shapes, memory sizes, PIDs,
/// addresses, temporary paths) does not change it.
///
/// Two tracebacks that differ only in such details get the same ``digest``; a different exception
/// type, message or stack of frames gets a different one. The digest is FNV-1a 64 of ``text``'s
/// untruncated form, so it is the same in every process and on every platform (Swift's `Hasher` is
/// seeded randomly per process and would not be).
public struct FailureSignature: Sendable, Hashable, Codable, CustomStringConvertible {
    /// 16 lowercase hexadecimal digits identifying the normalised error.
    public var digest: String
    /// The normalised error: the exception (or error line) with placeholders (`<n>` numbers and
    /// shapes, `<size>` memory sizes, `<hex>`, `<uuid>`, `<ip>` with its port, `<str>` for quoted
    /// text over 40 characters, `<tmp>` temporary names; paths reduced to their basename), then
    /// ` @ ` and the traceback's frames innermost first as `file:function`, joined by ` < `. At most
    /// 400 characters, the message cut at 200 to leave room for the frames; the digest covers the
    /// untruncated text.
    public var text: String
    /// The original final error line, cleaned of escapes, at most 300 characters: what to show a person.
    public var excerpt: String

    /// Creates a signature from its parts (for instance as read back from a store).
    public init(digest: String, text: String, excerpt: String) {
        self.digest = digest
        self.text = text
        self.excerpt = excerpt
    }

    /// The first 8 digits of the digest followed by the excerpt, e.g.
    /// `3fa2b9c1 ModuleNotFoundError: No module named 'transfomers'`.
    public var description: String { "\(digest.prefix(8)) \(excerpt)" }

    /// The longest ``text`` kept.
    public static let textLimit = 400
    /// The longest ``excerpt`` kept.
    public static let excerptLimit = 300
    /// How much of one log line is looked at; the start of a line is what identifies an error, and the
    /// limit keeps a pathological line (100 KB without a newline) cheap.
    static let lineLimit = 2_000

    /// The signature of a failed attempt's log tail (the last few KB of its stderr then stdout), or
    /// `nil` when the tail holds nothing readable (empty, blank, or binary garbage without a letter).
    ///
    /// The error is, in order of preference: the last Python traceback (its exception line and its
    /// frames as `file basename:function`, line numbers and source lines dropped; a torchrun
    /// `ChildFailedError` wrapper is passed over for the traceback it wraps); else the last line that
    /// looks like an error (`error`, `fatal`, `exception`, `panic`, `Segmentation fault`,
    /// `terminate called`, `assertion`, `core dumped`, `killed`, `out of memory`, any case); else the
    /// last line with a letter in it. ANSI escapes are removed and a `\r`-rewritten line keeps what
    /// follows its last `\r`.
    public static func make(fromLogTail tail: String) -> FailureSignature? {
        make(LogText(tail))
    }

    /// A signature for a failure whose log says nothing useful, from a description the caller
    /// composes (for instance `oom: signal 9`, or `unknown: exit 1`). The text is used as given,
    /// whitespace collapsed, without placeholders: `exit 1` and `exit 2` differ.
    public static func make(fallback: String) -> FailureSignature {
        let text = collapsingWhitespace(Array(fallback.utf8))
        return FailureSignature(
            digest: digest(of: text), text: LogText.truncated(text, to: textLimit),
            excerpt: LogText.truncated(text, to: excerptLimit))
    }

    /// The 16-hex-digit FNV-1a 64 digest of `text`'s UTF-8 bytes.
    public static func digest(of text: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func make(_ log: LogText) -> FailureSignature? {
        if let traceback = log.traceback {
            let exception = normalize(traceback.exception)
            var frames = ""
            if !traceback.frames.isEmpty {
                frames = " @ " + traceback.frames.reversed().map { frame in
                    let file = normalize(Array(frame.file.utf8), paths: false)
                    return frame.function.isEmpty ? file : "\(file):\(frame.function)"
                }.joined(separator: " < ")
            }
            // The digest covers everything; the text shown keeps room for the innermost frames
            // after a long message (PyTorch's OOM message alone runs past 400 characters).
            let shown = LogText.truncated(exception, to: exceptionShownLimit) + frames
            return signature(text: exception + frames, shown: shown, excerpt: log.lines[traceback.exceptionLine])
        }
        if let index = log.lastLine(containingAnyOf: errorWords) {
            return signature(text: normalize(log.lines[index]), excerpt: log.lines[index])
        }
        if let line = log.lines.last(where: { $0.contains(where: LogText.isLetter) }) {
            return signature(text: normalize(line), excerpt: line)
        }
        return nil
    }

    private static let errorWords: [[UInt8]] = [
        "error", "fatal", "exception", "panic", "segmentation fault", "terminate called", "assertion",
        "core dumped", "killed", "out of memory",
    ].map { Array($0.utf8) }

    private static let exceptionShownLimit = 200

    private static func signature(text: String, shown: String? = nil, excerpt line: [UInt8]) -> FailureSignature {
        let excerpt = LogText.string(LogText.trimmed(Array(capped(line))))
        return FailureSignature(
            digest: digest(of: text), text: LogText.truncated(shown ?? text, to: textLimit),
            excerpt: LogText.truncated(excerpt, to: excerptLimit))
    }

    /// The first ``lineLimit`` bytes of a line, cut on a character boundary.
    private static func capped(_ line: [UInt8]) -> ArraySlice<UInt8> {
        guard line.count > lineLimit else { return line[...] }
        var end = lineLimit
        while end > 0, line[end] & 0xC0 == 0x80 { end -= 1 }
        return line[..<end]
    }

    private static func collapsingWhitespace(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            if byte <= 0x20 || byte == 0x7F {
                if let last = out.last, last != 0x20 { out.append(0x20) }
            } else {
                out.append(byte)
            }
        }
        if out.last == 0x20 { out.removeLast() }
        return LogText.string(out)
    }

    // MARK: - Normalisation

    private static let quoteLimit = 40

    /// One error line with what varies between runs replaced by placeholders, whitespace collapsed.
    static func normalize(_ line: [UInt8], paths: Bool = true) -> String {
        let s = Array(capped(line))
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            let b = s[i]
            let previous: UInt8? = i > 0 ? s[i - 1] : nil
            let atWordStart = previous.map { !LogText.isWordByte($0) } ?? true

            if LogText.isSpace(b) || b < 0x20 {
                if let last = out.last, last != 0x20 { out.append(0x20) }
                i += 1
                continue
            }
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                // An apostrophe inside a word (can't, don't) opens nothing.
                let apostrophe = b == UInt8(ascii: "'") && previous.map(LogText.isLetter) == true
                    && i + 1 < s.count && LogText.isLetter(s[i + 1])
                if !apostrophe, let close = s[(i + 1)...].firstIndex(of: b), close - i - 1 > quoteLimit {
                    out.append(b)
                    out.append(contentsOf: Array("<str>".utf8))
                    out.append(b)
                    i = close + 1
                    continue
                }
                out.append(b)
                i += 1
                continue
            }
            if paths, previous.map({ !isPathByte($0) }) ?? true, isPathByte(b) {
                var end = i
                while end < s.count, isPathByte(s[end]) { end += 1 }
                let run = s[i..<end]
                if isPath(run) {
                    out.append(contentsOf: Array(normalizeBasename(run).utf8))
                    i = end
                    continue
                }
            }
            if atWordStart, let length = uuidLength(s, at: i) {
                out.append(contentsOf: Array("<uuid>".utf8))
                i += length
                continue
            }
            if atWordStart, LogText.isDigit(b), let length = ipv4Length(s, at: i) {
                out.append(contentsOf: Array("<ip>".utf8))
                i += length
                continue
            }
            if atWordStart, b == UInt8(ascii: "0"), i + 2 < s.count, s[i + 1] | 0x20 == UInt8(ascii: "x"), LogText.isHexDigit(s[i + 2]) {
                var end = i + 2
                while end < s.count, LogText.isHexDigit(s[end]) { end += 1 }
                out.append(contentsOf: Array("<hex>".utf8))
                i = end
                continue
            }
            if LogText.isWordByte(b) {
                var end = i
                while end < s.count, LogText.isWordByte(s[end]) { end += 1 }
                let word = s[i..<end]
                if atWordStart, isHexIdentifier(word) {
                    out.append(contentsOf: Array("<hex>".utf8))
                    i = end
                    continue
                }
                if !LogText.isDigit(b) || !atWordStart {
                    // An identifier (cuda0, float16, node17) is kept whole.
                    out.append(contentsOf: word)
                    i = end
                    continue
                }
                i = numberEnd(s, from: i)
                if let end = memoryUnitEnd(s, from: i) {
                    out.append(contentsOf: Array("<size>".utf8))
                    i = end
                } else {
                    appendNumberPlaceholder(&out)
                }
                continue
            }
            out.append(b)
            i += 1
        }
        while out.last == 0x20 { out.removeLast() }
        return LogText.string(out)
    }

    /// Appends `<n>`, unless the output already ends with `<n>` and a list separator (`, `, `x`, `*`):
    /// a tensor shape or a list of sizes becomes one `<n>` whatever its length.
    private static func appendNumberPlaceholder(_ out: inout [UInt8]) {
        let placeholder = Array("<n>".utf8)
        var k = out.count
        while k > 0, out[k - 1] == 0x20 { k -= 1 }
        if k > 0, out[k - 1] == UInt8(ascii: ",") || out[k - 1] == UInt8(ascii: "*") || out[k - 1] == UInt8(ascii: "x") {
            k -= 1
            while k > 0, out[k - 1] == 0x20 { k -= 1 }
            if k >= placeholder.count, Array(out[(k - placeholder.count)..<k]) == placeholder {
                out.removeLast(out.count - k)
                return
            }
        }
        out.append(contentsOf: placeholder)
    }

    /// The end of the number at `start`: digits, a fraction, an exponent, and `x`-separated
    /// dimensions (`32x512`).
    private static func numberEnd(_ s: [UInt8], from start: Int) -> Int {
        var i = start
        func digits() { while i < s.count, LogText.isDigit(s[i]) { i += 1 } }
        while true {
            digits()
            if i + 1 < s.count, s[i] == UInt8(ascii: "."), LogText.isDigit(s[i + 1]) {
                i += 1
                digits()
            }
            if i + 1 < s.count, s[i] | 0x20 == UInt8(ascii: "e") {
                var j = i + 1
                if j < s.count, s[j] == UInt8(ascii: "-") || s[j] == UInt8(ascii: "+") { j += 1 }
                if j < s.count, LogText.isDigit(s[j]) {
                    i = j
                    digits()
                }
            }
            if i + 1 < s.count, s[i] | 0x20 == UInt8(ascii: "x"), LogText.isDigit(s[i + 1]) {
                i += 1
                continue
            }
            return i
        }
    }

    private static let memoryUnits: Set<String> = [
        "b", "bytes", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "k", "m", "g",
    ]

    /// The end of a memory unit right after a number (`2.00 GiB`, `512MB`, `4096 bytes`), if one follows.
    private static func memoryUnitEnd(_ s: [UInt8], from start: Int) -> Int? {
        var i = start
        if i < s.count, s[i] == 0x20 { i += 1 }
        let begin = i
        while i < s.count, LogText.isLetter(s[i]) { i += 1 }
        guard i > begin, i == s.count || !LogText.isWordByte(s[i]) else { return nil }
        let unit = String(decoding: s[begin..<i].map(LogText.lower), as: UTF8.self)
        // A bare k/m/g only when glued to the number (`512M`), not `3 m` of prose.
        if unit.count == 1, begin != start { return nil }
        return memoryUnits.contains(unit) ? i : nil
    }

    /// A word of at least 8 hexadecimal digits with at least one decimal digit and one letter
    /// (a commit, a content hash, an object id).
    private static func isHexIdentifier(_ word: ArraySlice<UInt8>) -> Bool {
        word.count >= 8 && word.allSatisfy(LogText.isHexDigit)
            && word.contains(where: LogText.isDigit) && word.contains(where: LogText.isLetter)
    }

    private static func uuidLength(_ s: [UInt8], at start: Int) -> Int? {
        let groups = [8, 4, 4, 4, 12]
        var i = start
        for (index, count) in groups.enumerated() {
            if index > 0 {
                guard i < s.count, s[i] == UInt8(ascii: "-") else { return nil }
                i += 1
            }
            for _ in 0..<count {
                guard i < s.count, LogText.isHexDigit(s[i]) else { return nil }
                i += 1
            }
        }
        if i < s.count, LogText.isWordByte(s[i]) { return nil }
        return i - start
    }

    /// The length of an IPv4 address at `start`, with its `:port` if any.
    private static func ipv4Length(_ s: [UInt8], at start: Int) -> Int? {
        var i = start
        for part in 0..<4 {
            if part > 0 {
                guard i < s.count, s[i] == UInt8(ascii: ".") else { return nil }
                i += 1
            }
            let begin = i
            while i < s.count, LogText.isDigit(s[i]), i - begin < 3 { i += 1 }
            guard i > begin else { return nil }
        }
        if i < s.count, LogText.isWordByte(s[i]) || s[i] == UInt8(ascii: ".") { return nil }
        if i + 1 < s.count, s[i] == UInt8(ascii: ":"), LogText.isDigit(s[i + 1]) {
            i += 1
            while i < s.count, LogText.isDigit(s[i]) { i += 1 }
        }
        return i - start
    }

    private static func isPathByte(_ b: UInt8) -> Bool {
        LogText.isWordByte(b) || b == UInt8(ascii: "/") || b == UInt8(ascii: ".") || b == UInt8(ascii: "-")
            || b == UInt8(ascii: "~") || b == UInt8(ascii: "+") || b == UInt8(ascii: "@") || b == UInt8(ascii: "%")
    }

    /// A run of path characters is a path when it has a `/` and a letter, and it is not a fraction
    /// such as `3/10`.
    private static func isPath(_ run: ArraySlice<UInt8>) -> Bool {
        guard run.contains(UInt8(ascii: "/")), run.contains(where: LogText.isLetter) else { return false }
        return run.count > 1
    }

    /// A path's basename, normalised like the rest of the line; a temporary name (`tmpa8x9q2_`, as
    /// Python's `tempfile` makes) becomes `<tmp>`.
    private static func normalizeBasename(_ path: ArraySlice<UInt8>) -> String {
        let base = LogText.basename(path)
        if base.isEmpty { return "<path>" }
        if base.hasPrefix("tmp"), base.utf8.count >= 6 { return "<tmp>" }
        return normalize(Array(base.utf8), paths: false)
    }
}
