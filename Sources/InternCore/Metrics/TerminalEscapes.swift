/// The terminal escape sequences that progress bars and coloured loggers print (tqdm's `ESC[A`,
/// Keras' `ESC[1m`, rich's colours, hyperlinks), and how they are removed from a line before it is
/// read: one definition, shared by the metric parser, the failure classifier and the log condenser.
///
/// A sequence starts at ESC (0x1B) and is, by ECMA-48:
/// - CSI: `ESC [`, parameter bytes 0x30–0x3F, intermediate bytes 0x20–0x2F, a final byte
///   0x40–0x7E; without its final byte (another byte follows, or the line ends) it ends where the
///   intermediate bytes end;
/// - OSC: `ESC ]`, then any bytes but BEL, ESC, `\n` and `\r`, up to and including BEL or `ESC \`;
///   without that terminator it is only `ESC ]`;
/// - anything else: ESC, intermediate bytes 0x20–0x2F, a final byte 0x30–0x7E (`ESC ( B`, `ESC 7`,
///   `ESC c`); without its final byte, ESC and the intermediate bytes.
///
/// Every byte outside a sequence is kept. (As a regular expression over bytes, tried in this
/// order: `\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?|\x1b\][^\x07\x1b\n\r]*(?:\x07|\x1b\\)|\x1b[\x20-\x2f]*[\x30-\x7e]?`.)
public enum TerminalEscapes {
    /// ESC.
    public static let escape: UInt8 = 0x1B
    static let bell: UInt8 = 0x07

    /// The index just past the sequence that starts at `start` (which holds ESC).
    public static func end(of bytes: UnsafeRawBufferPointer, at start: Int) -> Int {
        let n = bytes.count
        var i = start + 1
        guard i < n else { return i }
        switch bytes[i] {
        case UInt8(ascii: "["):
            i += 1
            while i < n, bytes[i] >= 0x30, bytes[i] <= 0x3F { i += 1 }
            while i < n, bytes[i] >= 0x20, bytes[i] <= 0x2F { i += 1 }
            if i < n, bytes[i] >= 0x40, bytes[i] <= 0x7E { i += 1 }
            return i
        case UInt8(ascii: "]"):
            var j = i + 1
            while j < n {
                let b = bytes[j]
                if b == bell { return j + 1 }
                if b == escape { return j + 1 < n && bytes[j + 1] == UInt8(ascii: "\\") ? j + 2 : i + 1 }
                if b == 0x0A || b == 0x0D { break }
                j += 1
            }
            return i + 1
        default:
            while i < n, bytes[i] >= 0x20, bytes[i] <= 0x2F { i += 1 }
            if i < n, bytes[i] >= 0x30, bytes[i] <= 0x7E { i += 1 }
            return i
        }
    }

    /// Appends `bytes` without their escape sequences to `out`.
    public static func strip(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let n = bytes.count
        var i = 0
        while i < n {
            let start = i
            while i < n, bytes[i] != escape { i += 1 }
            if i > start { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i])) }
            if i < n { i = end(of: bytes, at: i) }
        }
    }

    /// Whether an ESC, and whether `other`, lie in `bytes[from...]`: one pass, eight bytes at a
    /// time, stopping once both are found.
    static func contains(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, and other: UInt8) -> (escape: Bool, other: Bool) {
        let n = bytes.count
        var i = start
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs = ones &* 0x80
        let escapes = ones &* UInt64(escape)
        let others = ones &* UInt64(other)
        var foundEscape = false
        var foundOther = false
        while i + 8 <= n {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let e = w ^ escapes
            let o = w ^ others
            if (e &- ones) & ~e & highs != 0 { foundEscape = true }
            if (o &- ones) & ~o & highs != 0 { foundOther = true }
            if foundEscape, foundOther { return (true, true) }
            i += 8
        }
        while i < n {
            if bytes[i] == escape { foundEscape = true }
            if bytes[i] == other { foundOther = true }
            i += 1
        }
        return (foundEscape, foundOther)
    }

    /// Whether an ESC lies in `bytes[from...]`; eight bytes at a time.
    public static func contains(_ bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Bool {
        let n = bytes.count
        var i = start
        let ones: UInt64 = 0x0101_0101_0101_0101
        let pattern = ones &* UInt64(escape)
        while i + 8 <= n {
            let x = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ pattern
            if (x &- ones) & ~x & (ones &* 0x80) != 0 { return true }
            i += 8
        }
        while i < n {
            if bytes[i] == escape { return true }
            i += 1
        }
        return false
    }

    /// Where a complete CSI sequence that ends at `last` starts (its ESC), or nil: `ESC [`,
    /// parameter bytes, intermediate bytes, a final byte, as the forward reading would take it (an
    /// ESC followed by `[` always starts a sequence), so a line may drop it like a trailing blank.
    @inline(__always) static func trailingCSIStart(_ bytes: UnsafeRawBufferPointer, last: Int) -> Int? {
        guard last >= 2, bytes[last] >= 0x40, bytes[last] <= 0x7E else { return nil }
        var k = last - 1
        while k >= 0, bytes[k] >= 0x20, bytes[k] <= 0x2F { k -= 1 }
        while k >= 0, bytes[k] >= 0x30, bytes[k] <= 0x3F { k -= 1 }
        guard k >= 1, bytes[k] == UInt8(ascii: "["), bytes[k - 1] == escape else { return nil }
        return k - 1
    }

    /// Whether the byte at `last` may belong to an escape sequence (true for every byte that does,
    /// and for a few that do not): looks back only over the run of bytes 0x20–0x3F before it, so a
    /// line that ends in a letter or a number is answered in a few steps. A caller that gets false
    /// knows that removing the escapes keeps that byte.
    @inline(__always) static func mayEndInside(_ bytes: UnsafeRawBufferPointer, last: Int) -> Bool {
        let c = bytes[last]
        if c == escape || c == bell { return true }
        guard c >= 0x20, c <= 0x7E else { return false }
        var k = last - 1
        while k >= 0, bytes[k] >= 0x20, bytes[k] <= 0x3F { k -= 1 }
        guard k >= 0 else { return false }
        if bytes[k] == escape { return true }
        return k >= 1 && bytes[k] == UInt8(ascii: "[") && bytes[k - 1] == escape
    }
}
