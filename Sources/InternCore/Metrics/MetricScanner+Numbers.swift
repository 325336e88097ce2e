extension MetricScanner {
    /// A number: `[+-]` then digits with optional fraction and exponent, or `nan`/`inf`/
    /// `infinity` in any case. The token must not run on into letters, digits or a dot.
    mutating func scanNumber() -> ScannedValue {
        let start = i
        var j = i
        guard j < end else { return .malformed }
        var negative = false
        if p[j] == MetricBytes.minus || p[j] == MetricBytes.plus {
            negative = p[j] == MetricBytes.minus
            j += 1
        }
        if j < end, MetricBytes.isIdentStart(p[j]) {
            let wordStart = j
            while j < end, MetricBytes.isIdentChar(p[j]) { j += 1 }
            guard let special = MetricBytes.specialValue(p, wordStart..<j) else { return .malformed }
            if j < end, p[j] == MetricBytes.dot { return .malformed }
            i = j
            return .number(negative ? -special : special, exactInteger: nil)
        }

        var mantissa: UInt64 = 0
        var digits = 0
        var scale = 0
        var isInteger = true
        while j < end, let d = MetricBytes.digit(p[j]) {
            if digits < 19 { mantissa = mantissa &* 10 &+ d }
            digits += 1
            j += 1
        }
        if j < end, p[j] == MetricBytes.dot {
            isInteger = false
            j += 1
            while j < end, let d = MetricBytes.digit(p[j]) {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ d
                    scale -= 1
                }
                digits += 1
                j += 1
            }
        }
        guard digits > 0 else { return .malformed }
        var exponent = 0
        if j < end, p[j] == MetricBytes.lowerE || p[j] == MetricBytes.upperE {
            isInteger = false
            j += 1
            var exponentNegative = false
            if j < end, p[j] == MetricBytes.minus || p[j] == MetricBytes.plus {
                exponentNegative = p[j] == MetricBytes.minus
                j += 1
            }
            var exponentDigits = 0
            while j < end, let d = MetricBytes.digit(p[j]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(d) }
                exponentDigits += 1
                j += 1
            }
            guard exponentDigits > 0 else { return .malformed }
            if exponentNegative { exponent = -exponent }
        }
        if j < end, MetricBytes.isIdentChar(p[j]) || p[j] == MetricBytes.dot { return .malformed }

        let value: Double
        let power = scale + exponent
        if digits <= 19, mantissa == 0 {
            value = negative ? -0.0 : 0.0
        } else if digits <= 19, mantissa <= 1 << 53, power >= -22, power <= 22 {
            // Both operands are exact, so one IEEE operation rounds correctly (Clinger).
            var d = Double(mantissa)
            if power < 0 { d /= MetricBytes.powerOfTen(-power) } else if power > 0 { d *= MetricBytes.powerOfTen(power) }
            value = negative ? -d : d
        } else if digits <= 19, power >= -27, power <= 27, let d = MetricBytes.extendedPrecision(mantissa, power: power) {
            // Python prints floats with up to 17 significant digits (`1.9973333333333337e-05`),
            // too many for the fast path above; this one avoids a String and strtod per number.
            value = negative ? -d : d
        } else {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<j]), as: UTF8.self)
            guard let d = Double(text) else { return .malformed }
            value = d
        }
        var exact: Int64?
        if isInteger, digits <= 18 {
            exact = negative ? -Int64(mantissa) : Int64(mantissa)
        }
        i = j
        return .number(value, exactInteger: exact)
    }
}

/// The number tokens' helpers: what may start one, `nan`/`inf`, and the fast paths of the float
/// parser (Clinger's exact case, then one rounding in x87 extended precision) before `Double(String)`.
extension MetricBytes {
    /// Whether a number token can start with `b`: a sign, a digit, a dot, or the `n`/`i` of
    /// `nan`/`inf`/`infinity`.
    @inline(__always) static func mayStartNumber(_ b: UInt8) -> Bool {
        let lower = b | 0x20
        return (b >= zero && b <= nine) || b == minus || b == plus || b == dot || lower == 0x6E || lower == 0x69
    }

    /// `nan`, `inf` or `infinity` in any case.
    static func specialValue(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Double? {
        func matches(_ word: StaticString) -> Bool {
            guard r.count == word.utf8CodeUnitCount else { return false }
            let w = word.utf8Start
            for k in 0..<r.count where p[r.lowerBound + k] | 0x20 != w[k] { return false }
            return true
        }
        switch r.count {
        case 3: return matches("nan") ? .nan : (matches("inf") ? .infinity : nil)
        case 8: return matches("infinity") ? .infinity : nil
        default: return nil
        }
    }

    /// The value of `line[range]` when all of it is one number token (the grammar's), else nil.
    static func wholeNumber(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Double? {
        guard !range.isEmpty else { return nil }
        var scanner = MetricScanner(p: line, i: range.lowerBound, end: range.upperBound)
        guard case .number(let value, _) = scanner.scanNumber(), scanner.i == range.upperBound else { return nil }
        return value
    }

    /// `mantissa × 10^power`, correctly rounded to a Double, computed in x87 extended precision:
    /// the mantissa (< 2^64) and 10^k for k <= 27 (5^27 < 2^64) are exact there, so one extended
    /// operation rounds once to 64 significant bits. Rounding that to 53 bits is wrong only when
    /// it landed on a Double halfway point or one extended ulp from it (the low 11 bits are
    /// 0x3FF...0x401): then, and for results outside the normal range, this returns nil and the
    /// caller uses the exact slow path. Elsewhere (no Float80) it always returns nil.
    static func extendedPrecision(_ mantissa: UInt64, power: Int) -> Double? {
        #if arch(x86_64) && !os(Windows)
        var x = Float80(mantissa)
        let scale = extendedPowersOfTen[abs(power)]
        if power < 0 { x /= scale } else { x *= scale }
        let low = x.significandBitPattern & 0x7FF
        if low >= 0x3FF, low <= 0x401 { return nil }
        let d = Double(x)
        return d.isNormal ? d : nil
        #else
        return nil
        #endif
    }

    #if arch(x86_64) && !os(Windows)
    /// 10^0 … 10^27, each exact in Float80.
    static let extendedPowersOfTen: [Float80] = {
        var powers: [Float80] = [1]
        for _ in 1...27 { powers.append(powers.last! * 10) }
        return powers
    }()
    #endif

    /// 10^k for 0 ≤ k ≤ 22, all exact in a Double (a switch: no array to retain).
    @inline(__always) static func powerOfTen(_ k: Int) -> Double {
        switch k {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        default: 1e22
        }
    }
}
