/// The text helpers behind ``FailureClassifier`` and ``FailureSignature``: a log tail cut into clean
/// lines, ASCII case-insensitive search, and the last Python traceback.
///
/// Everything works on UTF-8 bytes in one pass or a few, so a tail of binary garbage or a single
/// 100 KB line costs linear time and never traps.
struct LogText {
    /// The tail's lines, cleaned: ANSI escapes removed, `\r` progress reduced to what follows the last
    /// `\r`, other control characters turned into spaces. Empty lines are kept (they end tracebacks).
    let lines: [[UInt8]]
    /// All lines lowercased (ASCII) and joined with `\n`, for case-insensitive search.
    let lowered: [UInt8]
    /// The last complete Python traceback, if any (see ``lastTraceback(in:)``).
    let traceback: Traceback?

    init(_ tail: String) {
        let lines = Self.cleanLines(Array(tail.utf8) + [UInt8(ascii: "\n")])
        self.lines = lines
        var lowered: [UInt8] = []
        lowered.reserveCapacity(tail.utf8.count + 1)
        for (index, line) in lines.enumerated() {
            if index > 0 { lowered.append(0x0A) }
            for byte in line { lowered.append(Self.lower(byte)) }
        }
        self.lowered = lowered
        self.traceback = Self.lastTraceback(in: lines)
    }

    /// `bytes` cut into lines, cleaned: ANSI escapes removed, `\r` progress reduced to what follows
    /// the last `\r` (a CRLF ends the line as `\n` does), other control characters but tab turned
    /// into spaces. A last line without its `\n` is kept when not empty.
    static func cleanLines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            switch byte {
            case 0x0A: // \n
                lines.append(current)
                current.removeAll(keepingCapacity: true)
            case 0x0D: // \r: a CRLF ends nothing; a lone \r rewrites the line (tqdm)
                if i + 1 < bytes.count, bytes[i + 1] != 0x0A, bytes[i + 1] != 0x0D {
                    current.removeAll(keepingCapacity: true)
                }
            case TerminalEscapes.escape: // skip the whole escape sequence
                i = bytes.withUnsafeBytes { TerminalEscapes.end(of: $0, at: i) }
                continue
            case 0x09:
                current.append(byte)
            case 0x00..<0x20, 0x7F:
                current.append(0x20)
            default:
                current.append(byte)
            }
            i += 1
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    // MARK: - Bytes

    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 65 && byte <= 90 ? byte + 32 : byte
    }

    static func isWordByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_")
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= 48 && byte <= 57
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 97 && byte <= 102) || (byte >= 65 && byte <= 70)
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09
    }

    static func string<C: Collection<UInt8>>(_ bytes: C) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    static func trimmed(_ line: [UInt8]) -> ArraySlice<UInt8> {
        var slice = line[...]
        while let first = slice.first, isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return slice
    }

    /// `text` cut to at most `limit` characters, with `…` when something was cut.
    static func truncated(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit - 1)) + "…"
    }

    // MARK: - Search

    /// Calls `body` with each start offset of `needle` in `haystack` until it returns `false`.
    static func forEachOccurrence(of needle: [UInt8], in haystack: [UInt8], _ body: (Int) -> Bool) {
        guard let first = needle.first, needle.count <= haystack.count else { return }
        let last = haystack.count - needle.count
        var i = 0
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count, !body(i) { return }
            }
            i += 1
        }
    }

    /// Whether `needle` occurs in `haystack` (both lowercased).
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        var found = false
        forEachOccurrence(of: needle, in: haystack) { _ in found = true; return false }
        return found
    }

    /// Whether `needle` occurs in `haystack` as a whole word: not preceded or followed by a letter,
    /// digit or `_`.
    static func containsWord(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        var found = false
        forEachOccurrence(of: needle, in: haystack) { start in
            let end = start + needle.count
            let before = start == 0 || !isWordByte(haystack[start - 1])
            let after = end == haystack.count || !isWordByte(haystack[end])
            found = before && after
            return !found
        }
        return found
    }

    /// The lowercased bytes of `text`.
    static func loweredBytes(_ text: String) -> [UInt8] {
        text.utf8.map(lower)
    }

    /// The last line of the cleaned tail whose lowercased text contains one of `needles`, scanning
    /// backwards, with its index.
    func lastLine(containingAnyOf needles: [[UInt8]]) -> Int? {
        for index in lines.indices.reversed() {
            let lowered = lines[index].map(Self.lower)
            if needles.contains(where: { Self.contains(lowered, $0) }) { return index }
        }
        return nil
    }

    // MARK: - Python tracebacks

    /// One frame of a Python traceback: the file's basename and the function (empty when the frame
    /// names none, as in a `SyntaxError`).
    struct Frame: Equatable {
        var file: String
        var function: String
    }

    /// The last Python traceback of a tail.
    struct Traceback {
        /// Its frames, outermost first, as Python prints them.
        var frames: [Frame]
        /// The index in ``LogText/lines`` of its final exception line.
        var exceptionLine: Int
        /// The exception line without the traceback's line prefix (`[rank0]: `).
        var exception: [UInt8]
    }

    private static let tracebackHeader = Array("Traceback (most recent call last):".utf8)
    private static let wrapperExceptions: Set<String> = ["ChildFailedError"]

    /// The last complete traceback of the tail (from its `Traceback (most recent call last):` to its
    /// exception line). A launcher's wrapper traceback (torchrun's `ChildFailedError`) is passed over
    /// when an earlier traceback holds the real error.
    static func lastTraceback(in lines: [[UInt8]]) -> Traceback? {
        var fallback: Traceback?
        for index in lines.indices.reversed() {
            let line = lines[index]
            guard line.count >= tracebackHeader.count,
                  let start = firstRange(of: tracebackHeader, in: line) else { continue }
            guard let traceback = parseTraceback(lines, header: index, prefix: Array(line[..<start])) else { continue }
            if let type = exceptionType(traceback.exception), wrapperExceptions.contains(type) {
                if fallback == nil { fallback = traceback }
                continue
            }
            return traceback
        }
        return fallback
    }

    private static func firstRange(of needle: [UInt8], in line: [UInt8]) -> Int? {
        var found: Int?
        forEachOccurrence(of: needle, in: line) { found = $0; return false }
        return found
    }

    private static let fileMarker = Array("File \"".utf8)
    private static let lineMarker = Array("\", line ".utf8)
    private static let inMarker = Array(", in ".utf8)

    private static func parseTraceback(_ lines: [[UInt8]], header: Int, prefix: [UInt8]) -> Traceback? {
        var frames: [Frame] = []
        var index = header + 1
        // Frames and their source lines are indented; the exception line is the first line that is not.
        while index < lines.count {
            var line = lines[index][...]
            if !prefix.isEmpty, line.starts(with: prefix) { line = line.dropFirst(prefix.count) }
            guard let first = line.first else {
                index += 1
                continue
            }
            if isSpace(first) {
                let content = Array(line.drop(while: isSpace))
                if content.starts(with: fileMarker), let frame = Self.frame(content) {
                    frames.append(frame)
                }
                index += 1
                continue
            }
            return Traceback(frames: frames, exceptionLine: index, exception: Array(line))
        }
        return nil
    }

    /// `File "/a/b/train.py", line 12, in main` → `train.py`, `main`.
    private static func frame(_ content: [UInt8]) -> Frame? {
        let afterFile = content.dropFirst(fileMarker.count)
        guard let quote = afterFile.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        let path = afterFile[..<quote]
        let rest = Array(content[quote...])
        var function = ""
        if let inAt = firstRange(of: inMarker, in: rest) {
            function = string(trimmed(Array(rest[(inAt + inMarker.count)...])))
        }
        return Frame(file: basename(path), function: function)
    }

    /// The last component of a path (`<frozen runpy>` and other names without `/` are kept whole).
    static func basename<C: BidirectionalCollection<UInt8>>(_ path: C) -> String {
        var end = path.endIndex
        while end > path.startIndex, path[path.index(before: end)] == UInt8(ascii: "/") { end = path.index(before: end) }
        let body = path[..<end]
        if let slash = body.lastIndex(of: UInt8(ascii: "/")) {
            return string(body[body.index(after: slash)...])
        }
        return string(body)
    }

    /// The exception's type name (the last dotted component before `:`) if `line` reads like a
    /// Python exception line (`torch.cuda.OutOfMemoryError: ...`, `KeyboardInterrupt`), else `nil`.
    static func exceptionType<C: Collection<UInt8>>(_ line: C) -> String? {
        var name: [UInt8] = []
        var componentStart = 0
        var iterator = line.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: ":") { break }
            if byte == UInt8(ascii: ".") {
                guard !name.isEmpty, name.last != UInt8(ascii: ".") else { return nil }
                name.append(byte)
                componentStart = name.count
                continue
            }
            guard isWordByte(byte), !(name.count == componentStart && isDigit(byte)) else {
                if isSpace(byte) {
                    // Trailing spaces after a bare name (`KeyboardInterrupt  `) are fine; anything else is prose.
                    while let next = iterator.next() { if !isSpace(next) { return nil } }
                    break
                }
                return nil
            }
            name.append(byte)
        }
        guard componentStart < name.count else { return nil }
        let type = string(name[componentStart...])
        // `Error: ...` is how many tools start a message, not a Python class.
        let known = ["Error", "Exception", "Interrupt", "Exit", "Iteration", "Failure"]
        guard type != "Error", known.contains(where: { type.hasSuffix($0) }) else { return nil }
        return type
    }
}
