import Glibc

/// A regular expression matched against one line in time linear in the line's length: the
/// pattern compiles to a Thompson NFA over bytes, run as a Pike VM (every state advanced in step
/// with the input), as RE2, Go's `regexp` and Rust's `regex` do. Nothing backtracks, so an 8 KB
/// or a 50 MB line costs its length times the pattern's size, never the square of its length.
///
/// The syntax is the common one: literals, `.`, classes (`[a-z_]`, `[^0-9]`, `\d \w \s` and
/// their negations), groups (`(...)`, `(?:...)`, `(?<name>...)`), `|`, the quantifiers
/// `* + ? {m} {m,} {m,n}` (lazy forms accepted: they change no line's match), anchors `^ $ \b \B`
/// and an `(?i)` at the start. What cannot be matched in linear time (backreferences,
/// lookaround, possessive quantifiers) is refused with a word saying so. `.` and negated classes
/// match a whole UTF-8 character; letters in classes, ranges and `ignoreCase` fold ASCII only.
public struct LineRegex: Sendable {
    /// A set of byte values.
    struct ByteSet: Sendable, Equatable {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        static func == (a: ByteSet, b: ByteSet) -> Bool { a.words == b.words }

        func contains(_ byte: UInt8) -> Bool {
            let bit = UInt64(1) << UInt64(byte & 63)
            switch byte >> 6 {
            case 0: return words.0 & bit != 0
            case 1: return words.1 & bit != 0
            case 2: return words.2 & bit != 0
            default: return words.3 & bit != 0
            }
        }

        mutating func insert(_ byte: UInt8) {
            let bit = UInt64(1) << UInt64(byte & 63)
            switch byte >> 6 {
            case 0: words.0 |= bit
            case 1: words.1 |= bit
            case 2: words.2 |= bit
            default: words.3 |= bit
            }
        }

        mutating func insert(_ range: ClosedRange<UInt8>) {
            for byte in range { insert(byte) }
        }

        /// The ASCII bytes (0–127) not in this set.
        var asciiComplement: ByteSet {
            var other = ByteSet()
            for byte in UInt8(0)...127 where !contains(byte) { other.insert(byte) }
            return other
        }

        /// With the other case of every ASCII letter in it.
        var caseFolded: ByteSet {
            var folded = self
            for byte in UInt8(ascii: "a")...UInt8(ascii: "z") where contains(byte) || contains(byte - 32) {
                folded.insert(byte)
                folded.insert(byte - 32)
            }
            return folded
        }
    }

    enum Instruction: Sendable {
        case byte(ByteSet)
        case split(Int, Int)
        case jump(Int)
        case lineStart
        case lineEnd
        case wordBoundary(Bool)
        case match
    }

    /// Why a pattern was refused, with where.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    let program: [Instruction]
    public let pattern: String
    /// The bytes a match can start with, when it cannot be empty: positions holding none of them
    /// are skipped while no thread runs (with `memchr` when there is only one), as RE2 does.
    let firstBytes: ByteSet?
    let firstByte: UInt8?

    /// The most instructions a pattern compiles to (`{m,n}` copies what it repeats).
    static let maxProgram = 20_000

    public init(_ pattern: String, ignoreCase: Bool = false) throws(SyntaxError) {
        var parser = Parser(bytes: Array(pattern.utf8), ignoreCase: ignoreCase)
        let tree = try parser.parse()
        var compiler = Compiler()
        try compiler.emit(tree)
        compiler.program.append(.match)
        self.program = compiler.program
        self.pattern = pattern
        self.firstBytes = Self.firstBytes(of: compiler.program)
        let members = firstBytes.map { set in (0...255).filter { set.contains(UInt8($0)) } } ?? []
        self.firstByte = members.count == 1 ? UInt8(members[0]) : nil
    }

    /// The union of the byte sets reachable from the start without consuming a byte (assertions
    /// taken as passed), or nil when the match instruction is reachable that way.
    static func firstBytes(of program: [Instruction]) -> ByteSet? {
        var seen = Set<Int>(), stack = [0], set = ByteSet()
        while let pc = stack.popLast() {
            guard seen.insert(pc).inserted else { continue }
            switch program[pc] {
            case .byte(let bytes): set = Parser.union(set, bytes)
            case .split(let first, let second): stack += [first, second]
            case .jump(let target): stack.append(target)
            case .lineStart, .lineEnd, .wordBoundary: stack.append(pc + 1)
            case .match: return nil
            }
        }
        return set
    }

    /// The first position at or after `position` whose byte can start a match (`line.count`
    /// when none can).
    private func nextCandidate(in line: UnsafeRawBufferPointer, from position: Int) -> Int {
        guard let firstBytes, position < line.count else { return position }
        if let firstByte {
            guard let hit = memchr(line.baseAddress! + position, Int32(firstByte), line.count - position) else { return line.count }
            return UnsafeRawPointer(hit) - line.baseAddress!
        }
        var at = position
        while at < line.count, !firstBytes.contains(line[at]) { at += 1 }
        return at
    }

    /// Where the leftmost match in `line` starts (a byte offset), or nil when the line does not
    /// match. `line` holds no newline; `^` and `$` match at its ends.
    public func firstMatch(in line: UnsafeRawBufferPointer, using scratch: Scratch) -> Int? {
        scratch.prepare(for: program.count)
        var current = 0, next = 1
        scratch.clear(current)
        var position = 0
        while true {
            if scratch.count[current] == 0, scratch.found == nil {
                // Nothing runs: skip to where a match can start (none can past the end).
                position = nextCandidate(in: line, from: position)
                if firstBytes != nil, position == line.count { return nil }
            }
            // A thread starting here, after those already running (which started further left).
            if scratch.found == nil { addThread(0, start: position, at: position, line: line, into: current, scratch: scratch) }
            if let found = scratch.found, scratch.count[current] == 0 { return found }
            guard position < line.count else { return scratch.found }
            let byte = line[position]
            scratch.clear(next)
            for slot in 0..<scratch.count[current] {
                let (pc, start) = scratch.thread(current, slot)
                // Threads that started at or after a match found cannot move it left.
                if let found = scratch.found, start >= found { break }
                if case .byte(let set) = program[pc], set.contains(byte) {
                    addThread(pc + 1, start: start, at: position + 1, line: line, into: next, scratch: scratch)
                }
            }
            swap(&current, &next)
            position += 1
        }
    }

    /// Follows the empty transitions from `pc`, adding the byte-consuming states and noting a match.
    private func addThread(_ pc: Int, start: Int, at position: Int, line: UnsafeRawBufferPointer, into list: Int, scratch: Scratch) {
        scratch.stack.removeAll(keepingCapacity: true)
        scratch.stack.append(pc)
        while let pc = scratch.stack.popLast() {
            guard scratch.mark(pc, list: list) else { continue }
            switch program[pc] {
            case .byte:
                scratch.append(pc, start: start, to: list)
            case .split(let first, let second):
                // The second is pushed first so that the first is followed first (leftmost wins).
                scratch.stack.append(second)
                scratch.stack.append(first)
            case .jump(let target):
                scratch.stack.append(target)
            case .lineStart:
                if position == 0 { scratch.stack.append(pc + 1) }
            case .lineEnd:
                if position == line.count { scratch.stack.append(pc + 1) }
            case .wordBoundary(let wanted):
                let before = position > 0 && Self.isWord(line[position - 1])
                let after = position < line.count && Self.isWord(line[position])
                if (before != after) == wanted { scratch.stack.append(pc + 1) }
            case .match:
                if scratch.found == nil || start < scratch.found! { scratch.found = start }
            }
        }
    }

    static func isWord(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
    }

    /// The thread lists and marks one matcher reuses line after line (one per thread of work).
    public final class Scratch {
        fileprivate var pcs: [[Int]] = [[], []]
        fileprivate var starts: [[Int]] = [[], []]
        fileprivate var count = [0, 0]
        fileprivate var marks: [[UInt32]] = [[], []]
        fileprivate var generation: [UInt32] = [0, 0]
        fileprivate var stack: [Int] = []
        fileprivate var found: Int?

        public init() {}

        fileprivate func prepare(for size: Int) {
            found = nil
            guard pcs[0].count < size else { return }
            for list in 0..<2 {
                pcs[list] = Array(repeating: 0, count: size)
                starts[list] = Array(repeating: 0, count: size)
                marks[list] = Array(repeating: 0, count: size)
                generation[list] = 0
            }
        }

        fileprivate func clear(_ list: Int) {
            count[list] = 0
            generation[list] &+= 1
            if generation[list] == 0 {
                for index in marks[list].indices { marks[list][index] = 0 }
                generation[list] = 1
            }
        }

        /// True the first time `pc` is seen in `list` since it was cleared.
        fileprivate func mark(_ pc: Int, list: Int) -> Bool {
            guard marks[list][pc] != generation[list] else { return false }
            marks[list][pc] = generation[list]
            return true
        }

        fileprivate func append(_ pc: Int, start: Int, to list: Int) {
            pcs[list][count[list]] = pc
            starts[list][count[list]] = start
            count[list] += 1
        }

        fileprivate func thread(_ list: Int, _ slot: Int) -> (Int, Int) { (pcs[list][slot], starts[list][slot]) }
    }

    // MARK: - Parsing

    indirect enum Node {
        case empty
        case set(ByteSet)
        /// A class that also matches every non-ASCII character (`.`, `[^...]`, `\D`, `\W`, `\S`).
        case setOrNonASCII(ByteSet)
        case concat([Node])
        case alternate([Node])
        case repeated(Node, min: Int, max: Int?)
        case lineStart, lineEnd
        case wordBoundary(Bool)
    }

    struct Parser {
        let bytes: [UInt8]
        var ignoreCase: Bool
        var index = 0

        init(bytes: [UInt8], ignoreCase: Bool) {
            self.bytes = bytes
            self.ignoreCase = ignoreCase
        }

        mutating func parse() throws(SyntaxError) -> Node {
            if bytes.starts(with: Array("(?i)".utf8)) {
                ignoreCase = true
                index = 4
            }
            let node = try alternation()
            guard index == bytes.count else { throw fail("unmatched )") }
            return node
        }

        func fail(_ what: String) -> SyntaxError {
            SyntaxError(description: "\(what) at offset \(min(index, bytes.count))")
        }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func alternation() throws(SyntaxError) -> Node {
            var branches = [try concatenation()]
            while peek == UInt8(ascii: "|") {
                index += 1
                branches.append(try concatenation())
            }
            return branches.count == 1 ? branches[0] : .alternate(branches)
        }

        mutating func concatenation() throws(SyntaxError) -> Node {
            var items: [Node] = []
            while let byte = peek, byte != UInt8(ascii: "|"), byte != UInt8(ascii: ")") {
                items.append(try repetition())
            }
            return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
        }

        mutating func repetition() throws(SyntaxError) -> Node {
            var node = try atom()
            while let byte = peek {
                let bounds: (Int, Int?)
                switch byte {
                case UInt8(ascii: "*"): bounds = (0, nil); index += 1
                case UInt8(ascii: "+"): bounds = (1, nil); index += 1
                case UInt8(ascii: "?"): bounds = (0, 1); index += 1
                case UInt8(ascii: "{"):
                    guard let counted = try counts() else { return node }
                    bounds = counted
                default: return node
                }
                switch node {
                case .lineStart, .lineEnd, .wordBoundary, .empty: throw fail("nothing to repeat")
                default: break
                }
                if peek == UInt8(ascii: "?") { index += 1 }  // lazy: the same lines match
                if peek == UInt8(ascii: "+") { throw fail("possessive quantifiers are not supported (matching stays linear)") }
                node = .repeated(node, min: bounds.0, max: bounds.1)
            }
            return node
        }

        /// `{m}`, `{m,}` or `{m,n}`; nil (and nothing consumed) when the brace is a literal.
        mutating func counts() throws(SyntaxError) -> (Int, Int?)? {
            var cursor = index + 1
            func number() -> Int? {
                var value: Int?
                while cursor < bytes.count, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39 {
                    value = min(100_000, (value ?? 0) * 10 + Int(bytes[cursor] - 0x30))
                    cursor += 1
                }
                return value
            }
            guard let low = number() else { return nil }
            var high: Int? = low
            if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ",") {
                cursor += 1
                high = number()
            }
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "}") else { return nil }
            index = cursor + 1
            guard low <= 1_000, (high ?? low) <= 1_000 else { throw fail("a repeat count over 1000") }
            if let high, high < low { throw fail("a repeat range {\(low),\(high)} that is empty") }
            return (low, high)
        }

        mutating func atom() throws(SyntaxError) -> Node {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "."):
                var set = ByteSet()
                set.insert(0...0x7F)
                return Node.setOrNonASCII(set).removingNewline
            case UInt8(ascii: "^"): return .lineStart
            case UInt8(ascii: "$"): return .lineEnd
            case UInt8(ascii: "["): return try bracket()
            case UInt8(ascii: "("): return try group()
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"): index -= 1; throw fail("nothing to repeat")
            case UInt8(ascii: "\\"): return try escape(inClass: false).node
            default: return literal(byte)
            }
        }

        func literal(_ byte: UInt8) -> Node {
            var set = ByteSet()
            set.insert(byte)
            return .set(ignoreCase ? set.caseFolded : set)
        }

        mutating func group() throws(SyntaxError) -> Node {
            if peek == UInt8(ascii: "?") {
                let rest = bytes[(index + 1)...]
                if rest.starts(with: Array(":".utf8)) {
                    index += 2
                } else if rest.starts(with: Array("P<".utf8)) || (rest.starts(with: Array("<".utf8)) && !rest.starts(with: Array("<=".utf8)) && !rest.starts(with: Array("<!".utf8))) {
                    guard let close = bytes[index...].firstIndex(of: UInt8(ascii: ">")) else { throw fail("a group name without >") }
                    index = close + 1
                } else if rest.starts(with: Array("=".utf8)) || rest.starts(with: Array("!".utf8)) || rest.starts(with: Array("<".utf8)) {
                    throw fail("lookaround is not supported (matching stays linear)")
                } else {
                    throw fail("this group syntax is not supported (only (?:...), (?<name>...) and a leading (?i))")
                }
            }
            let inner = try alternation()
            guard peek == UInt8(ascii: ")") else { throw fail("missing )") }
            index += 1
            return inner
        }

        /// What a backslash escape stands for: a node, and for classes the set it adds.
        mutating func escape(inClass: Bool) throws(SyntaxError) -> (node: Node, set: ByteSet?, nonASCII: Bool) {
            guard let byte = peek else { throw fail("a trailing backslash") }
            index += 1
            var set = ByteSet()
            switch byte {
            case UInt8(ascii: "d"), UInt8(ascii: "D"):
                set.insert(0x30...0x39)
            case UInt8(ascii: "w"), UInt8(ascii: "W"):
                set.insert(0x30...0x39)
                set.insert(0x41...0x5A)
                set.insert(0x61...0x7A)
                set.insert(0x5F)
            case UInt8(ascii: "s"), UInt8(ascii: "S"):
                for space: UInt8 in [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D] { set.insert(space) }
            case UInt8(ascii: "b") where !inClass: return (.wordBoundary(true), nil, false)
            case UInt8(ascii: "B") where !inClass: return (.wordBoundary(false), nil, false)
            case UInt8(ascii: "A") where !inClass: return (.lineStart, nil, false)
            case UInt8(ascii: "z") where !inClass, UInt8(ascii: "Z") where !inClass: return (.lineEnd, nil, false)
            case 0x31...0x39: index -= 1; throw fail("backreferences are not supported (matching stays linear)")
            case UInt8(ascii: "t"): set.insert(0x09)
            case UInt8(ascii: "n"): set.insert(0x0A)
            case UInt8(ascii: "r"): set.insert(0x0D)
            case UInt8(ascii: "f"): set.insert(0x0C)
            case UInt8(ascii: "v"): set.insert(0x0B)
            case UInt8(ascii: "x"):
                guard index + 2 <= bytes.count, let value = UInt8(String(decoding: bytes[index..<index + 2], as: UTF8.self), radix: 16) else {
                    throw fail("\\x needs two hex digits")
                }
                index += 2
                let node = literal(value)
                if case .set(let folded) = node { return (node, folded, false) }
                return (node, nil, false)
            default:
                guard byte < 0x80, !Self.isAlphanumeric(byte) else { index -= 1; throw fail("an unknown escape \\\(Character(Unicode.Scalar(byte)))") }
                let node = literal(byte)
                if case .set(let folded) = node { return (node, folded, false) }
                return (node, nil, false)
            }
            let negated = byte >= 0x41 && byte <= 0x5A  // \D \W \S
            let effective = negated ? set.asciiComplement : set
            return (negated ? .setOrNonASCII(effective) : .set(effective), effective, negated)
        }

        static func isAlphanumeric(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        }

        mutating func bracket() throws(SyntaxError) -> Node {
            var negated = false
            if peek == UInt8(ascii: "^") {
                negated = true
                index += 1
            }
            var set = ByteSet()
            var nonASCII = false
            var first = true
            while true {
                guard let byte = peek else { throw fail("missing ]") }
                if byte == UInt8(ascii: "]"), !first { index += 1; break }
                first = false
                var low: UInt8
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    let escaped = try escape(inClass: true)
                    guard let escapedSet = escaped.set else { throw fail("this escape cannot stand in a class") }
                    nonASCII = nonASCII || escaped.nonASCII
                    // A single byte may start a range; a class escape cannot.
                    let members = (0...255).filter { escapedSet.contains(UInt8($0)) }
                    guard members.count == 1 || (ignoreCase && members.count == 2 && members[1] - members[0] == 32) else {
                        set = Self.union(set, escapedSet)
                        continue
                    }
                    low = UInt8(members.last!)
                } else if byte == UInt8(ascii: "["), bytes[index...].starts(with: Array("[:".utf8)) {
                    throw fail("POSIX classes like [:alpha:] are not supported; use \\w, \\d, \\s or a range")
                } else {
                    guard byte < 0x80 else { throw fail("a non-ASCII character in [...] is not supported") }
                    low = byte
                    index += 1
                }
                if peek == UInt8(ascii: "-"), index + 1 < bytes.count, bytes[index + 1] != UInt8(ascii: "]") {
                    index += 1
                    var high = bytes[index]
                    if high == UInt8(ascii: "\\") {
                        index += 1
                        let escaped = try escape(inClass: true)
                        let members = (0...255).filter { escaped.set?.contains(UInt8($0)) == true }
                        guard let last = members.last else { throw fail("a range ending in a class escape") }
                        high = UInt8(last)
                    } else {
                        guard high < 0x80 else { throw fail("a non-ASCII character in [...] is not supported") }
                        index += 1
                    }
                    guard low <= high else { throw fail("a range out of order") }
                    set.insert(low...high)
                } else {
                    set.insert(low)
                }
            }
            if ignoreCase { set = set.caseFolded }
            if negated {
                // [^...] matches any character but a newline, non-ASCII ones included, unless the
                // class held those (as [^\D] does): then only the ASCII it left out.
                let complement = set.asciiComplement
                return nonASCII ? .set(complement) : Node.setOrNonASCII(complement).removingNewline
            }
            return nonASCII ? .setOrNonASCII(set) : .set(set)
        }

        static func union(_ a: ByteSet, _ b: ByteSet) -> ByteSet {
            ByteSet(words: (a.words.0 | b.words.0, a.words.1 | b.words.1, a.words.2 | b.words.2, a.words.3 | b.words.3))
        }
    }

    // MARK: - Compiling

    struct Compiler {
        var program: [Instruction] = []

        mutating func emit(_ node: Node) throws(SyntaxError) {
            guard program.count < LineRegex.maxProgram else {
                throw SyntaxError(description: "the pattern is too large (over \(LineRegex.maxProgram) states once its repeats are spelt out)")
            }
            switch node {
            case .empty:
                break
            case .set(let set):
                program.append(.byte(set))
            case .setOrNonASCII(let set):
                // The ASCII members, or one UTF-8 character of two bytes or more (or a stray byte).
                var lead = ByteSet()
                lead.insert(0xC0...0xFF)
                var continuation = ByteSet()
                continuation.insert(0x80...0xBF)
                let split = program.count
                program.append(.split(split + 1, split + 3))
                program.append(.byte(set))
                let skip = program.count
                program.append(.jump(0))
                program.append(.split(split + 4, split + 6))
                program.append(.byte(continuation))  // a stray continuation byte: one character
                let jumpOut = program.count
                program.append(.jump(0))
                program.append(.byte(lead))
                let loop = program.count
                program.append(.split(loop + 1, loop + 3))
                program.append(.byte(continuation))
                program.append(.jump(loop))
                program[skip] = .jump(program.count)
                program[jumpOut] = .jump(program.count)
            case .concat(let items):
                for item in items { try emit(item) }
            case .alternate(let branches):
                var exits: [Int] = []
                for (offset, branch) in branches.enumerated() {
                    if offset < branches.count - 1 {
                        let split = program.count
                        program.append(.split(split + 1, 0))
                        try emit(branch)
                        exits.append(program.count)
                        program.append(.jump(0))
                        program[split] = .split(split + 1, program.count)
                    } else {
                        try emit(branch)
                    }
                }
                for exit in exits { program[exit] = .jump(program.count) }
            case .repeated(let inner, let low, let high):
                for _ in 0..<low { try emit(inner) }
                if let high {
                    var splits: [Int] = []
                    for _ in low..<high {
                        splits.append(program.count)
                        program.append(.split(program.count + 1, 0))
                        try emit(inner)
                    }
                    for split in splits { program[split] = .split(split + 1, program.count) }
                } else {
                    let loop = program.count
                    program.append(.split(loop + 1, 0))
                    try emit(inner)
                    program.append(.jump(loop))
                    program[loop] = .split(loop + 1, program.count)
                }
            case .lineStart:
                program.append(.lineStart)
            case .lineEnd:
                program.append(.lineEnd)
            case .wordBoundary(let wanted):
                program.append(.wordBoundary(wanted))
            }
        }
    }
}

extension LineRegex.Node {
    /// The same class without the newline byte (`.` and `[^...]` never match one).
    var removingNewline: LineRegex.Node {
        switch self {
        case .setOrNonASCII(var set):
            set = LineRegex.ByteSet(words: (set.words.0 & ~(UInt64(1) << 10), set.words.1, set.words.2, set.words.3))
            return .setOrNonASCII(set)
        default: return self
        }
    }
}
