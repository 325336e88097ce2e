/// The blocks the Hugging Face `Trainer.log_metrics` prints (the transformers examples, such as
/// `run_clm.py`, call it after `train()` and `evaluate()`; a final `evaluate()` prints its results
/// nowhere else):
///
///     ***** eval metrics *****
///       epoch                   =        1.0
///       eval_loss               =      1.849
///       eval_runtime            = 0:00:00.01
///
/// Read line by line, one reader per stream. With escape sequences removed and trailing blanks
/// trimmed (as for the other forms, docs/campaign.md): a line `***** NAME metrics *****` opens a
/// block; each line after it of the form two spaces, KEY (no space, no `=`), one or more spaces,
/// `=`, one or more spaces, VALUE (no space) to the end, is a row, and a VALUE that is a number is
/// a point named KEY (`0:00:00.01` and `0GF` are skipped; `step` and `global_step` are never
/// points); the first other line closes the block.
public struct TrainerMetricsBlock: Sendable {
    /// Whether a block is open: the next line may be one of its rows.
    public private(set) var isOpen = false
    private var cleaned: [UInt8] = []

    public init() {}

    /// Whether `line` must go through ``read(_:)``: a block is open, or its first byte that is not
    /// blank is `*` or ESC. Every other line is answered here, by a byte compare or two.
    @inline(__always)
    public func wants(_ line: UnsafeRawBufferPointer) -> Bool {
        if isOpen { return true }
        guard let first = line.first(where: { !MetricBytes.isBlank($0) }) else { return false }
        return first == UInt8(ascii: "*") || first == TerminalEscapes.escape
    }

    /// The points of one line (most lines: none), updating the block's state.
    public mutating func read(_ line: UnsafeRawBufferPointer) -> [MetricPoint] {
        guard TerminalEscapes.contains(line) else { return take(line) }
        var clean = cleaned
        clean.removeAll(keepingCapacity: true)
        TerminalEscapes.strip(line, into: &clean)
        defer { cleaned = clean }
        return clean.withUnsafeBytes { take($0) }
    }

    private mutating func take(_ line: UnsafeRawBufferPointer) -> [MetricPoint] {
        var end = line.count
        while end > 0, MetricBytes.isBlank(line[end - 1]) { end -= 1 }
        let text = UnsafeRawBufferPointer(rebasing: line[..<end])
        if Self.isHeader(text) {
            isOpen = true
            return []
        }
        guard isOpen, let (key, value) = Self.row(text) else {
            isOpen = false
            return []
        }
        guard let number = MetricBytes.wholeNumber(text, value) else { return [] }
        let bytes = UnsafeRawBufferPointer(rebasing: text[key])
        guard key.count <= MetricLineParser.defaultMaxNameLength, MetricBytes.isValidName(bytes) else { return [] }
        let name = String(decoding: bytes, as: UTF8.self)
        guard name != "step", name != "global_step" else { return [] }
        return [MetricPoint(name: name, value: number)]
    }

    private static let headerStart = Array("***** ".utf8)
    private static let headerEnd = Array(" metrics *****".utf8)

    /// `***** NAME metrics *****` (NAME not empty), leading blanks allowed.
    static func isHeader(_ text: UnsafeRawBufferPointer) -> Bool {
        var start = 0
        while start < text.count, MetricBytes.isBlank(text[start]) { start += 1 }
        let length = text.count - start
        guard length > headerStart.count + headerEnd.count else { return false }
        for k in 0..<headerStart.count where text[start + k] != headerStart[k] { return false }
        let tail = text.count - headerEnd.count
        for k in 0..<headerEnd.count where text[tail + k] != headerEnd[k] { return false }
        return true
    }

    /// `  KEY<spaces>=<spaces>VALUE`: the ranges of KEY and VALUE.
    static func row(_ text: UnsafeRawBufferPointer) -> (Range<Int>, Range<Int>)? {
        let n = text.count
        guard n > 2, text[0] == 0x20, text[1] == 0x20 else { return nil }
        var i = 2
        let keyStart = i
        while i < n, text[i] != 0x20, text[i] != UInt8(ascii: "=") { i += 1 }
        let keyEnd = i
        guard keyEnd > keyStart else { return nil }
        let spaces = i
        while i < n, text[i] == 0x20 { i += 1 }
        guard i > spaces, i < n, text[i] == UInt8(ascii: "=") else { return nil }
        i += 1
        let after = i
        while i < n, text[i] == 0x20 { i += 1 }
        guard i > after, i < n else { return nil }
        let valueStart = i
        while i < n, text[i] != 0x20 { i += 1 }
        guard i == n else { return nil }
        return (keyStart..<keyEnd, valueStart..<n)
    }
}
