/// The bytes of the metric grammar and the byte-level tests shared by the metric parsers
/// (`MetricLineParser`, `TrainerMetricsBlock`, `OutputLineParser`, `EvalResults`): names, escapes,
/// character classes. Line shapes and numbers are in the `+LineShapes` and `MetricScanner+Numbers` files.
enum MetricBytes {
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openParen = UInt8(ascii: "(")
    static let closeParen = UInt8(ascii: ")")
    static let doubleQuote = UInt8(ascii: "\"")
    static let singleQuote = UInt8(ascii: "'")
    static let backslash = UInt8(ascii: "\\")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let equals = UInt8(ascii: "=")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let lowerE = UInt8(ascii: "e")
    static let upperE = UInt8(ascii: "E")

    /// For the eight-bytes-at-a-time scans.
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Space, tab, `\n`, `\v`, `\f`, `\r`.
    @inline(__always) static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || (b >= 0x09 && b <= 0x0D)
    }

    /// What is ignored at both ends of a line: whitespace, and the backspaces (0x08) that Keras
    /// ends each progress redraw with.
    @inline(__always) static func isBlank(_ b: UInt8) -> Bool {
        b == 0x20 || (b >= 0x08 && b <= 0x0D)
    }

    /// A control character: below 0x20, or DEL.
    @inline(__always) static func isControl(_ b: UInt8) -> Bool { b < 0x20 || b == 0x7F }

    /// The value of an ASCII digit, or nil.
    @inline(__always) static func digit(_ b: UInt8) -> UInt64? {
        b >= zero && b <= nine ? UInt64(b &- zero) : nil
    }

    /// An ASCII letter or `_`: what starts a bare word.
    @inline(__always) static func isIdentStart(_ b: UInt8) -> Bool {
        let lower = b | 0x20
        return (lower >= 0x61 && lower <= 0x7A) || b == 0x5F
    }

    /// An ASCII letter, digit or `_`.
    @inline(__always) static func isIdentChar(_ b: UInt8) -> Bool {
        isIdentStart(b) || (b >= zero && b <= nine)
    }

    /// No control character and valid UTF-8: exactly what `ArraySink.makeName` accepts, without
    /// making a `String` (its validating initialiser allocates for names over 15 bytes).
    static func isValidName(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        var ascii = true
        if n >= 4 {
            // Eight bytes at a time, the last word overlapping the one before (or, under eight
            // bytes, two overlapping four-byte halves): checking a byte twice is harmless.
            var i = 0
            var high: UInt64 = 0
            while true {
                let at = min(i, n - 8)
                let w = n >= 8
                    ? bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                    : UInt64(bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                        | UInt64(bytes.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << 32
                // (x - 0x01…) & ~x & 0x80… is non-zero exactly when some byte of x is zero;
                // applied to x - 0x20… (a byte below 0x20) and x ^ 0x7F… (DEL).
                let del = w ^ (ones &* 0x7F)
                if ((w &- ones &* 0x20) & ~w & highs) | ((del &- ones) & ~del & highs) != 0 { return false }
                high |= w
                if n < 8 || at == n - 8 { break }
                i += 8
            }
            ascii = high & highs == 0
        } else {
            for b in bytes {
                if isControl(b) { return false }
                if b >= 0x80 { ascii = false }
            }
        }
        if ascii { return true }
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// The value of `count` hex digits at `start`, or nil when there are fewer or one is not a hex digit.
    static func hex(_ s: UnsafeRawBufferPointer, at start: Int, count: Int) -> UInt32? {
        guard start >= 0, start + count <= s.count else { return nil }
        var v: UInt32 = 0
        for k in start..<(start + count) {
            let b = s[k]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    /// Resolves `\\ \" \' \/ \xNN \uNNNN (with JSON surrogate pairs) \UNNNNNNNN` into UTF-8.
    /// Nil for any other escape (those stand for control characters, or are malformed).
    static func unescape(_ s: UnsafeRawBufferPointer) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        let n = s.count
        func hex(_ start: Int, _ count: Int) -> UInt32? { MetricBytes.hex(s, at: start, count: count) }
        while i < n {
            let b = s[i]
            guard b == backslash else {
                out.append(b)
                i += 1
                continue
            }
            guard i + 1 < n else { return nil }
            let e = s[i + 1]
            var scalarValue: UInt32
            switch e {
            case backslash, doubleQuote, singleQuote, UInt8(ascii: "/"):
                out.append(e)
                i += 2
                continue
            case UInt8(ascii: "x"):
                guard let v = hex(i + 2, 2) else { return nil }
                scalarValue = v
                i += 4
            case UInt8(ascii: "u"):
                guard let v = hex(i + 2, 4) else { return nil }
                scalarValue = v
                i += 6
                if v >= 0xD800, v <= 0xDBFF {  // a JSON surrogate pair
                    guard i + 1 < n, s[i] == backslash, s[i + 1] == UInt8(ascii: "u"),
                          let low = hex(i + 2, 4), low >= 0xDC00, low <= 0xDFFF
                    else { return nil }
                    scalarValue = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
            case UInt8(ascii: "U"):
                guard let v = hex(i + 2, 8) else { return nil }
                scalarValue = v
                i += 10
            default:
                return nil
            }
            guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
            UTF8.encode(scalar) { out.append($0) }
        }
        return out
    }
}
