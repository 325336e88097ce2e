/// What `MetricScanner` found at its position.
enum ScannedValue {
    /// `exactInteger` is set when the token was an integer literal that fits (for steps).
    case number(Double, exactInteger: Int64?)
    /// A well-formed value that is not a number: string, bool, None, nested object, list…
    case other
    /// Not a value of the grammar (the object that holds it is malformed).
    case malformed
}

/// Reads the tokens of an object's keys and values (and the number tokens of the other forms) in
/// `p[i..<end]`, moving `i` past each token it reads. Iterative (no recursion) and bounds-checked:
/// hostile bytes give `.malformed`, never a trap. Numbers are read in `MetricScanner+Numbers.swift`.
struct MetricScanner {
    /// The line.
    let p: UnsafeRawBufferPointer
    /// Where the next token starts.
    var i: Int
    /// Where the scan must stop (exclusive).
    let end: Int
    /// An ESC was met inside a string or a nested group (where it is not malformed).
    var sawEscape = false

    /// The byte at `i`; callers check `i < end` first.
    var byte: UInt8 { p[i] }

    /// Moves past whitespace.
    mutating func skipSpace() {
        while i < end, MetricBytes.isSpace(p[i]) { i += 1 }
    }

    /// The value at `i` (a string, a group, a number or a bare word), moving past it.
    mutating func scanValue() -> ScannedValue {
        guard i < end else { return .malformed }
        let c = p[i]
        switch c {
        case MetricBytes.doubleQuote, MetricBytes.singleQuote:
            guard let string = scanString() else { return .malformed }
            // transformers 5 and TRL print every value as a string: '4.703', 'nan', '5e-05'.
            guard !string.escaped, let first = string.range.first, MetricBytes.mayStartNumber(p[first]) else { return .other }
            var number = MetricScanner(p: p, i: string.range.lowerBound, end: string.range.upperBound)
            if case .number(let value, let exact) = number.scanNumber(), number.i == string.range.upperBound {
                return .number(value, exactInteger: exact)
            }
            return .other
        case MetricBytes.openBrace, MetricBytes.openBracket, MetricBytes.openParen:
            return skipBalanced() ? .other : .malformed
        case MetricBytes.minus, MetricBytes.plus, MetricBytes.dot, MetricBytes.zero...MetricBytes.nine:
            return scanNumber()
        default:
            return MetricBytes.isIdentStart(c) ? scanWord() : .malformed
        }
    }

    /// At a quote: moves past the closing quote and returns the range inside the quotes.
    /// Nil (unterminated) leaves `i` unspecified.
    mutating func scanString() -> (range: Range<Int>, escaped: Bool)? {
        let quote = p[i]
        var j = i + 1
        var escaped = false
        let quotes = MetricBytes.ones &* UInt64(quote)
        let backslashes = MetricBytes.ones &* UInt64(MetricBytes.backslash)
        let escapes = MetricBytes.ones &* UInt64(TerminalEscapes.escape)
        while j < end {
            // Skip eight bytes at a time up to the first quote, backslash or ESC (the lowest
            // flagged byte of the zero-byte test is exact; see `LineSplitter.firstTerminator`).
            while j + 8 <= end {
                let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: j, as: UInt64.self))
                let q = w ^ quotes
                let s = w ^ backslashes
                let e = w ^ escapes
                let hits = ((q &- MetricBytes.ones) & ~q | (s &- MetricBytes.ones) & ~s | (e &- MetricBytes.ones) & ~e) & MetricBytes.highs
                if hits != 0 {
                    j += hits.trailingZeroBitCount / 8
                    break
                }
                j += 8
            }
            guard j < end else { break }
            let b = p[j]
            if b == quote {
                let range = (i + 1)..<j
                i = j + 1
                return (range, escaped)
            }
            if b == MetricBytes.backslash {
                escaped = true
                // The escaped byte may be an ESC too (removing it would leave the backslash to
                // escape what follows).
                if j + 1 < end, p[j + 1] == TerminalEscapes.escape { sawEscape = true }
                j += 2
            } else {
                if b == TerminalEscapes.escape { sawEscape = true }
                j += 1
            }
        }
        return nil
    }

    /// At `{`, `[` or `(`: moves past the matching closer (any closer counts; strings inside
    /// are skipped). False when the line ends first.
    mutating func skipBalanced() -> Bool {
        var depth = 0
        while i < end {
            switch p[i] {
            case MetricBytes.openBrace, MetricBytes.openBracket, MetricBytes.openParen:
                depth += 1
                i += 1
            case MetricBytes.closeBrace, MetricBytes.closeBracket, MetricBytes.closeParen:
                depth -= 1
                i += 1
                if depth == 0 { return true }
            case MetricBytes.doubleQuote, MetricBytes.singleQuote:
                if scanString() == nil { return false }
            case TerminalEscapes.escape:
                sawEscape = true
                i += 1
            default:
                i += 1
            }
        }
        return false
    }

    /// A bare word: `nan`/`inf`/`Infinity` are numbers, `np.float64(0.5)` is its argument,
    /// `b'…'` is a string, anything else (`True`, `None`, `null`…) is skipped.
    mutating func scanWord() -> ScannedValue {
        let start = i
        var j = i
        while j < end, MetricBytes.isIdentChar(p[j]) || p[j] == MetricBytes.dot { j += 1 }
        if let special = MetricBytes.specialValue(p, start..<j) {
            i = j
            return .number(special, exactInteger: nil)
        }
        if j < end, p[j] == MetricBytes.openParen {
            var inner = MetricScanner(p: p, i: j + 1, end: end)
            inner.skipSpace()
            if inner.i < end, case .number(let value, let exact) = inner.scanNumber() {
                inner.skipSpace()
                if inner.i < end, inner.byte == MetricBytes.closeParen {
                    i = inner.i + 1
                    return .number(value, exactInteger: exact)
                }
                if inner.i < end, inner.byte == MetricBytes.comma {
                    i = j
                    return skipBalanced() ? .number(value, exactInteger: exact) : .malformed
                }
            }
            i = j
            return skipBalanced() ? .other : .malformed
        }
        if j < end, p[j] == MetricBytes.doubleQuote || p[j] == MetricBytes.singleQuote {
            guard j - start <= 2 else { return .malformed }  // string prefixes: b'', rb'', u''
            i = j
            return scanString() == nil ? .malformed : .other
        }
        i = j
        return .other
    }

}
