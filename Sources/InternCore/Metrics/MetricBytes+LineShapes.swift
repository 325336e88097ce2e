/// The shapes of forms 3 to 5, found in a line's bytes before anything is parsed: which last byte
/// may end one, a tqdm bar's `[...]` group, and Keras' ` - NAME: VALUE` pairs.
extension MetricBytes {
    /// Whether a line whose last non-space byte is `b` may have form 3, 4 or 5: `}`, `]`, or the
    /// last byte of a number (a digit, a dot, the `n`/`f`/`y` of `nan`/`inf`/`infinity`).
    @inline(__always) static func mayEndForm(_ b: UInt8) -> Bool {
        let lower = b | 0x20
        return b == closeBrace || b == closeBracket || (b >= zero && b <= nine) || b == dot
            || lower == 0x6E || lower == 0x66 || lower == 0x79
    }

    /// The last `[` in `line[from..<before]`, and whether a `=`, and whether an ESC or BEL, lie
    /// after it: one backward pass, eight bytes at a time (a tqdm bar's group, on every redraw).
    @inline(__always) static func lastGroup(_ line: UnsafeRawBufferPointer, from lower: Int, before upper: Int) -> (open: Int?, equals: Bool, escape: Bool) {
        // Exactly 0x80 in each byte of `x` that is zero (no borrow between bytes).
        @inline(__always) func zeros(_ x: UInt64) -> UInt64 {
            let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
            return ~(((x & low) &+ low) | x | low)
        }
        let brackets = ones &* UInt64(openBracket), equalSigns = ones &* UInt64(equals)
        let escapes = ones &* UInt64(TerminalEscapes.escape), bells = ones &* UInt64(TerminalEscapes.bell)
        var sawEquals = false, sawEscape = false
        var k = upper
        while k - 8 >= lower {
            let w = line.loadUnaligned(fromByteOffset: k - 8, as: UInt64.self)
            let bracket = zeros(w ^ brackets)
            let equal = zeros(w ^ equalSigns)
            let escape = zeros(w ^ escapes) | zeros(w ^ bells)
            if bracket != 0 {
                let byte = (63 - bracket.leadingZeroBitCount) / 8
                let after: UInt64 = byte == 7 ? 0 : ~0 << UInt64((byte + 1) * 8)
                return (k - 8 + byte, sawEquals || equal & after != 0, sawEscape || escape & after != 0)
            }
            sawEquals = sawEquals || equal != 0
            sawEscape = sawEscape || escape != 0
            k -= 8
        }
        while k > lower {
            k -= 1
            let b = line[k]
            if b == openBracket { return (k, sawEquals, sawEscape) }
            if b == equals { sawEquals = true } else if b == TerminalEscapes.escape || b == TerminalEscapes.bell { sawEscape = true }
        }
        return (nil, sawEquals, sawEscape)
    }

    /// The index of the last `[` in `line[from..<before]` when a tqdm time follows it (one or more
    /// digits, `:`, two digits: the elapsed time that opens `[00:01<00:35, 3.30it/s]`).
    static func isProgressGroup(_ line: UnsafeRawBufferPointer, lastBefore before: Int, from: Int) -> Int? {
        var open = before - 1
        while open >= from, line[open] != openBracket { open -= 1 }
        guard open >= from else { return nil }
        var k = open + 1
        let digitsStart = k
        while k < line.count, digit(line[k]) != nil { k += 1 }
        guard k > digitsStart, k + 2 < line.count, line[k] == colon,
              digit(line[k + 1]) != nil, digit(line[k + 2]) != nil
        else { return nil }
        return open
    }

    /// A ` - NAME: VALUE` pair (form 5): where it starts (at its ` - `), ends, its name and value.
    struct DashPair {
        var start: Int
        var end: Int
        var name: Range<Int>
        var value: Double
        var exact: Int64?
    }

    /// The pair that ends at `end` (exclusive) and starts at `from` or later, or nil.
    static func dashPair(_ line: UnsafeRawBufferPointer, from lower: Int, endingAt end: Int) -> DashPair? {
        var valueStart = end
        while valueStart > lower, !isSpace(line[valueStart - 1]) { valueStart -= 1 }
        guard valueStart < end, valueStart >= lower + 2, line[valueStart - 1] == 0x20, line[valueStart - 2] == colon else { return nil }
        let nameEnd = valueStart - 2
        var nameStart = nameEnd
        while nameStart > lower, !isPairNameEnd(line[nameStart - 1]) { nameStart -= 1 }
        guard nameStart < nameEnd, nameStart >= lower + 3, line[nameStart - 1] == 0x20, line[nameStart - 2] == minus,
              line[nameStart - 3] == 0x20
        else { return nil }
        var scanner = MetricScanner(p: line, i: valueStart, end: end)
        guard case .number(let value, let exact) = scanner.scanNumber(), scanner.i == end else { return nil }
        return DashPair(start: nameStart - 3, end: end, name: nameStart..<nameEnd, value: value, exact: exact)
    }

    /// The pair whose ` - ` is at `start`, within `line[..<end]`, or nil.
    static func dashPair(_ line: UnsafeRawBufferPointer, startingAt start: Int, end: Int) -> DashPair? {
        guard start + 3 <= end, line[start] == 0x20, line[start + 1] == minus, line[start + 2] == 0x20 else { return nil }
        let nameStart = start + 3
        var nameEnd = nameStart
        while nameEnd < end, !isPairNameEnd(line[nameEnd]) { nameEnd += 1 }
        guard nameEnd > nameStart, nameEnd + 2 <= end, line[nameEnd] == colon, line[nameEnd + 1] == 0x20 else { return nil }
        let valueStart = nameEnd + 2
        var valueEnd = valueStart
        while valueEnd < end, !isSpace(line[valueEnd]) { valueEnd += 1 }
        var scanner = MetricScanner(p: line, i: valueStart, end: valueEnd)
        guard valueEnd > valueStart, case .number(let value, let exact) = scanner.scanNumber(), scanner.i == valueEnd else { return nil }
        return DashPair(start: start, end: valueEnd, name: nameStart..<nameEnd, value: value, exact: exact)
    }

    /// Space, tab and `:` end a pair's name.
    @inline(__always) private static func isPairNameEnd(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == colon
    }

}
