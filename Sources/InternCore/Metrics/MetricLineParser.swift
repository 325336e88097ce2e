/// Finds metrics in one line a job printed. Runs on the worker for every line, so a line
/// that cannot hold metrics costs a look at its first and last bytes and allocates nothing.
///
/// The grammar is docs/campaign.md's ("Metrics from the job's output"), in full:
///
/// A line is what lies between `\n`, `\r` or `\r\n` (so each tqdm redraw is a line). Terminal
/// escape sequences are removed first (``TerminalEscapes``), then leading and trailing whitespace.
/// Then the first of these forms that applies is the line's form:
///
/// 1. The line starts with `{`: a JSON object or a Python dict repr, `{"loss": 0.42, "step": 100}`,
///    `{'loss': '4.703', 'learning_rate': '5e-05', 'epoch': 0.25}` (transformers 5 and TRL 1.x
///    quote their values), `{'rewards/chosen': -0.12}`.
/// 2. With a `keyValuePrefix` such as `METRIC`, the line starts with it, followed by whitespace,
///    `:` or the end: `METRIC loss=0.3 acc=0.9 step=5`, `METRIC: loss=0.3, acc=0.9`. Pairs are
///    separated by whitespace and/or commas; words without `=` and pairs whose value is not a
///    number are skipped. `METRIC {"loss": 0.3}` is read as form 1.
/// 3. The line ends with `}` and the text before its first `{` is progress-bar text: it ends
///    with `]` and its last `[` is followed by a time (`[00:01<00:35, 3.30it/s]`): the object from
///    that `{` is read as form 1 (a dict printed while tqdm's bar was on the same terminal line,
///    as `2>&1` files and SLURM output files hold them).
/// 4. The line ends with `]` and its last `[` is followed by a time (`digits:dd`): a tqdm bar's
///    `[elapsed<remaining, rate, k=v, k=v]` group. Its items are separated by `, `; each item
///    `KEY=VALUE` whose VALUE is a number is a point (Lightning's `train_loss=0.512`, `v_num=0`).
/// 5. Otherwise, the line ends with one or more ` - NAME: VALUE` pairs (Keras:
///    `... 2ms/step - accuracy: 0.8750 - loss: 0.4276`): NAME has no space, tab or `:`, VALUE is a
///    number; the pairs are read from the last back to the first that does not fit.
///
/// In the object forms every value that is a number gives a point, named by its key exactly
/// as printed: a number literal; `nan`, `inf`, `-inf`, `NaN`, `Infinity`, `-Infinity`; a
/// string whose whole content (no escapes, no spaces) is a number, `'4.703'`, `'nan'`, `'-inf'`;
/// a call whose first argument is a number, `np.float64(0.5)`, `tensor(0.5, device='cuda:0')`.
/// Other strings, booleans, `None`/`null`, bare words, nested objects, lists and tuples are
/// skipped. A number is `[+-]` then digits with an optional fraction and exponent (`.5`, `5.`,
/// `1e-05`), or `nan`/`inf`/`infinity` in any case, and must not run on into letters, digits or
/// a dot. In every form a `step` key (or, failing that, `global_step`) whose value is an integer
/// is not a point: it becomes the `step` of every other point on the line (an `epoch` key IS a
/// point); a line without one gives points without a step (the worker numbers them per name).
///
/// An object must be well formed from `{` to its closing `}` with nothing but whitespace after
/// it; otherwise the line gives no points at all. A name longer than `maxNameLength` bytes,
/// empty, not valid UTF-8 or holding a control character gives no point (the rest of the line
/// is kept). Hostile bytes never trap: scanning is iterative (no recursion), bounds-checked, and
/// linear in the line's length.
public struct MetricLineParser: Sendable {
    /// 200 bytes.
    public static let defaultMaxNameLength = 200

    /// The prefix that marks `key=value` lines, or nil when that form is off.
    /// An empty prefix is treated as nil.
    public let keyValuePrefix: String?
    /// Longer metric names (in UTF-8 bytes) are dropped. Clamped to 0...65536.
    public let maxNameLength: Int

    private let prefix: [UInt8]

    public init(keyValuePrefix: String?, maxNameLength: Int = MetricLineParser.defaultMaxNameLength) {
        if let keyValuePrefix, !keyValuePrefix.isEmpty {
            self.keyValuePrefix = keyValuePrefix
            self.prefix = Array(keyValuePrefix.utf8)
        } else {
            self.keyValuePrefix = nil
            self.prefix = []
        }
        self.maxNameLength = min(max(0, maxNameLength), 65_536)
    }

    /// Storage that `parse(_:using:_:)` reuses from line to line, so that once it has grown to
    /// the widest line seen, parsing a metric line allocates nothing (a key with escapes aside).
    /// Keep one per reader; its contents between calls mean nothing.
    public struct Buffer: Sendable {
        fileprivate var sink = ByteSink()
        /// A line without its escape sequences, when it had some.
        fileprivate var cleaned: [UInt8] = []

        /// An empty buffer.
        public init() {}
    }

    /// The points on `line` (which should not contain its terminator, though a trailing
    /// `\r` or `\n` is tolerated); empty, without allocating, for a line that is not a metric line.
    public func parse(_ line: UnsafeRawBufferPointer) -> [MetricPoint] {
        // The reference path: every name becomes a `String` as soon as it is read. The worker
        // uses `parse(_:using:_:)`, which must give exactly the same points (tests check it).
        var sink = ArraySink(maxNameLength: maxNameLength)
        switch parseLine(line, into: &sink) {
        case .none:
            return []
        case .points:
            break
        case .escaped:
            var cleaned: [UInt8] = []
            TerminalEscapes.strip(line, into: &cleaned)
            sink = ArraySink(maxNameLength: maxNameLength)
            guard cleaned.withUnsafeBytes({ parseLine($0, into: &sink) }) == .points else { return [] }
        }
        sink.steps.apply(to: &sink.points)
        return sink.points
    }

    /// Convenience for tests and callers holding a `String`.
    public func parse(_ line: String) -> [MetricPoint] {
        var line = line
        return line.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// The same points as `parse(_:)`, in the same order, handed to `body` one by one instead
    /// of in an array, and with each name as its UTF-8 bytes instead of a `String`: this is the
    /// per-line path of the worker, which allocates neither an array nor a string per line.
    ///
    /// `name` is valid UTF-8 without control characters (what `String(decoding:as:)` of it gives
    /// is the `MetricPoint.name` that `parse(_:)` would give) and, like `line`, is valid only
    /// during the call. `step` is the line's step, as in `MetricPoint.step`. `body` is called
    /// only after the whole line was found well formed.
    public func parse(
        _ line: UnsafeRawBufferPointer, using buffer: inout Buffer,
        _ body: (_ name: UnsafeRawBufferPointer, _ value: Double, _ step: Int64?) -> Void
    ) {
        buffer.sink.reset(maxNameLength: maxNameLength)
        switch parseLine(line, into: &buffer.sink) {
        case .none:
            return
        case .points:
            buffer.sink.emit(line, body)
            return
        case .escaped:
            break
        }
        // Moved out of the buffer while in use (its capacity stays with it, so no allocation).
        var cleaned: [UInt8] = []
        swap(&cleaned, &buffer.cleaned)
        defer { swap(&cleaned, &buffer.cleaned) }
        cleaned.removeAll(keepingCapacity: true)
        TerminalEscapes.strip(line, into: &cleaned)
        buffer.sink.reset(maxNameLength: maxNameLength)
        cleaned.withUnsafeBytes { clean in
            guard parseLine(clean, into: &buffer.sink) == .points else { return }
            buffer.sink.emit(clean, body)
        }
    }

    // MARK: - Forms

    /// What reading a line came to: points (in the sink), none, or the line holds escape
    /// sequences that may change what it says, so its copy without them must be read instead.
    private enum Outcome: Equatable {
        case none
        case points
        case escaped
    }

    /// Reads one line into `sink`, deciding its form from its first and last bytes: most lines are
    /// answered `.none` there. Escape sequences are removed first by the grammar; here those at the
    /// start, and a complete CSI at the end (tqdm's `ESC[A`, a colour reset), are trimmed like
    /// blanks, an object is read
    /// as it is and only a line where the scan met an ESC (or that fails and holds one) asks to
    /// be read again without them, and a candidate for the other forms is looked through for an
    /// ESC first. The forms see the line up to its trailing blanks (indices are the line's own).
    private func parseLine<Sink: MetricSink>(_ line: UnsafeRawBufferPointer, into sink: inout Sink) -> Outcome {
        let n = line.count
        var i = 0
        // Leading blanks and escape sequences (tqdm's `ESC[A` before a dict, a colour): what a
        // forward reading removes first, so the first byte left is the cleaned line's first.
        while i < n {
            if MetricBytes.isBlank(line[i]) {
                i += 1
            } else if line[i] == TerminalEscapes.escape {
                i = TerminalEscapes.end(of: line, at: i)
            } else {
                break
            }
        }
        guard i < n else { return .none }
        let first = line[i]
        var j = n - 1
        while true {
            while j > i, MetricBytes.isBlank(line[j]) { j -= 1 }
            guard let start = TerminalEscapes.trailingCSIStart(line, last: j), start > i else { break }
            j = start - 1
        }
        let trimmed = UnsafeRawBufferPointer(rebasing: line[...j])
        if first == MetricBytes.openBrace {
            var sawEscape = false
            let parsed = parseObject(trimmed, at: i, into: &sink, sawEscape: &sawEscape)
            if parsed, !sawEscape { return .points }
            return sawEscape || TerminalEscapes.contains(trimmed, from: i) ? .escaped : .none
        }
        if !prefix.isEmpty, first == prefix[0] {
            // An escape could split the prefix (`MET\e[0mRIC`): look for one before deciding.
            if TerminalEscapes.contains(trimmed, from: i) { return .escaped }
            if hasPrefix(trimmed, at: i) {
                return parseKeyValues(trimmed, at: i + prefix.count, into: &sink) ? .points : .none
            }
        }
        // The last byte survives too unless an escape sequence ends there.
        if TerminalEscapes.mayEndInside(line, last: j) { return .escaped }
        guard MetricBytes.mayEndForm(line[j]) else { return .none }
        if line[j] == MetricBytes.closeBracket {
            // Form 4, the commonest candidate (every tqdm redraw): its group is read as it is when
            // the line's last `[` is not part of an escape sequence and nothing after it can start
            // or end one (no ESC, no BEL): removing escapes would then leave the group as it is
            // (escapes before it are removed whole, and add no `[`).
            let (found, equals, escape) = MetricBytes.lastGroup(line, from: i, before: j)
            guard let open = found else { return .none }  // no `[`: none without escapes either
            if !escape, !TerminalEscapes.mayEndInside(line, last: open) {
                // No `k=v` item: a bar without a postfix, the usual case.
                guard equals else { return .none }
                return parseProgressPostfix(trimmed, last: j, into: &sink) ? .points : .none
            }
        }
        // One pass for an ESC and for a byte the form cannot do without (removing escapes adds
        // no byte): a `{` (form 3), a `=` (form 4: most such lines are tqdm bars without a
        // postfix), a `:` (form 5).
        let needed = switch line[j] {
        case MetricBytes.closeBrace: MetricBytes.openBrace
        case MetricBytes.closeBracket: MetricBytes.equals
        default: MetricBytes.colon
        }
        let (hasEscape, hasNeeded) = TerminalEscapes.contains(trimmed, from: i, and: needed)
        guard hasNeeded else { return .none }
        if hasEscape { return .escaped }
        let found = switch line[j] {
        case MetricBytes.closeBrace: parseObjectAfterProgress(trimmed, first: i, into: &sink)
        case MetricBytes.closeBracket: parseProgressPostfix(trimmed, last: j, into: &sink)
        default: parseDashPairs(trimmed, first: i, last: j, into: &sink)
        }
        return found ? .points : .none
    }

    /// Whether the prefix is at `start`, followed by whitespace, `:` or the end of the line.
    private func hasPrefix(_ line: UnsafeRawBufferPointer, at start: Int) -> Bool {
        guard line.count - start >= prefix.count else { return false }
        for k in 0..<prefix.count where line[start + k] != prefix[k] { return false }
        let after = start + prefix.count
        return after == line.count || MetricBytes.isSpace(line[after]) || line[after] == MetricBytes.colon
    }

    /// Form 3: `<progress text ending in a tqdm time group>{...}`.
    private func parseObjectAfterProgress<Sink: MetricSink>(_ line: UnsafeRawBufferPointer, first: Int, into sink: inout Sink) -> Bool {
        var brace = first
        while brace < line.count, line[brace] != MetricBytes.openBrace { brace += 1 }
        guard brace < line.count else { return false }
        var end = brace
        while end > first, MetricBytes.isBlank(line[end - 1]) { end -= 1 }
        guard end > first, line[end - 1] == MetricBytes.closeBracket,
              MetricBytes.isProgressGroup(line, lastBefore: end - 1, from: first) != nil
        else { return false }
        return parseObject(line, at: brace, into: &sink)
    }

    /// Form 4: the `k=v` items of a tqdm bar's last `[...]` group.
    private func parseProgressPostfix<Sink: MetricSink>(_ line: UnsafeRawBufferPointer, last: Int, into sink: inout Sink) -> Bool {
        guard let open = MetricBytes.isProgressGroup(line, lastBefore: last, from: 0) else { return false }
        var itemStart = open + 1
        while itemStart <= last {
            // Items end at ", " or at the closing bracket.
            var itemEnd = itemStart
            while itemEnd < last, !(line[itemEnd] == MetricBytes.comma && itemEnd + 1 < last && line[itemEnd + 1] == 0x20) {
                itemEnd += 1
            }
            var equals = itemStart
            while equals < itemEnd, line[equals] != MetricBytes.equals { equals += 1 }
            if equals < itemEnd, equals > itemStart {
                var v = MetricScanner(p: line, i: equals + 1, end: itemEnd)
                if case .number(let value, let exact) = v.scanNumber(), v.i == itemEnd {
                    sink.number(line, key: itemStart..<equals, escaped: false, value: value, exact: exact)
                }
            }
            itemStart = itemEnd + 2
        }
        return true
    }

    /// Form 5: ` - NAME: VALUE` pairs that run to the end of the line. Found from the end back to
    /// the first that does not fit, then read forwards, so points keep the line's order.
    private func parseDashPairs<Sink: MetricSink>(_ line: UnsafeRawBufferPointer, first: Int, last: Int, into sink: inout Sink) -> Bool {
        var runStart = -1
        var end = last + 1
        // Nothing before `first` (blanks and escapes at the start) is part of the line's text.
        while let pair = MetricBytes.dashPair(line, from: first, endingAt: end) {
            runStart = pair.start
            end = pair.start
        }
        guard runStart >= 0 else { return false }
        var at = runStart
        while at <= last, let pair = MetricBytes.dashPair(line, startingAt: at, end: last + 1) {
            sink.number(line, key: pair.name, escaped: false, value: pair.value, exact: pair.exact)
            at = pair.end
        }
        return true
    }

    /// Form 1 in a line known to hold no ESC.
    private func parseObject<Sink: MetricSink>(_ line: UnsafeRawBufferPointer, at start: Int, into sink: inout Sink) -> Bool {
        var sawEscape = false
        return parseObject(line, at: start, into: &sink, sawEscape: &sawEscape)
    }

    /// Form 1 from the `{` at `start`. `sawEscape` is set when the scan met an ESC inside a string
    /// or a nested group, where it does not make the object malformed (anywhere else it does).
    private func parseObject<Sink: MetricSink>(
        _ line: UnsafeRawBufferPointer, at start: Int, into sink: inout Sink, sawEscape: inout Bool
    ) -> Bool {
        var s = MetricScanner(p: line, i: start + 1, end: line.count)
        defer { sawEscape = sawEscape || s.sawEscape }
        while true {
            s.skipSpace()
            guard s.i < s.end else { return false }
            if s.byte == MetricBytes.closeBrace { s.i += 1; break }

            var key: (range: Range<Int>, escaped: Bool)?
            let c = s.byte
            if c == MetricBytes.doubleQuote || c == MetricBytes.singleQuote {
                guard let k = s.scanString() else { return false }
                key = k
            } else if case .malformed = s.scanValue() {
                return false  // a non-string key (Python allows them) is parsed and ignored
            }
            s.skipSpace()
            guard s.i < s.end, s.byte == MetricBytes.colon else { return false }
            s.i += 1
            s.skipSpace()
            switch s.scanValue() {
            case .malformed:
                return false
            case .other:
                break
            case .number(let value, let exact):
                if let key { sink.number(line, key: key.range, escaped: key.escaped, value: value, exact: exact) }
            }
            s.skipSpace()
            guard s.i < s.end else { return false }
            if s.byte == MetricBytes.comma { s.i += 1; continue }
            if s.byte == MetricBytes.closeBrace { s.i += 1; break }
            return false
        }
        s.skipSpace()
        return s.i == s.end
    }

    private func parseKeyValues<Sink: MetricSink>(_ line: UnsafeRawBufferPointer, at start: Int, into sink: inout Sink) -> Bool {
        let n = line.count
        var i = start
        if i < n {
            let c = line[i]
            guard MetricBytes.isSpace(c) || c == MetricBytes.colon else { return false }
        }
        while i < n, MetricBytes.isSpace(line[i]) { i += 1 }
        if i < n, line[i] == MetricBytes.colon { i += 1 }
        while i < n, MetricBytes.isSpace(line[i]) { i += 1 }
        if i < n, line[i] == MetricBytes.openBrace { return parseObject(line, at: i, into: &sink) }

        while true {
            while i < n, MetricBytes.isSpace(line[i]) || line[i] == MetricBytes.comma { i += 1 }
            guard i < n else { break }
            let keyStart = i
            while i < n, !MetricBytes.isSpace(line[i]), line[i] != MetricBytes.comma, line[i] != MetricBytes.equals {
                i += 1
            }
            let keyEnd = i
            guard i < n, line[i] == MetricBytes.equals else { continue }  // a word without '='
            i += 1
            let valueStart = i
            while i < n, !MetricBytes.isSpace(line[i]), line[i] != MetricBytes.comma { i += 1 }
            let valueEnd = i
            guard keyEnd > keyStart, valueEnd > valueStart else { continue }
            var v = MetricScanner(p: line, i: valueStart, end: valueEnd)
            guard case .number(let value, let exact) = v.scanNumber(), v.i == valueEnd else { continue }
            // Backslashes in a bare key are part of the name, not escapes.
            sink.number(line, key: keyStart..<keyEnd, escaped: false, value: value, exact: exact)
        }
        return true
    }
}

// MARK: - Sinks

/// Where the forms put each number that has a string key: the key's bytes as printed (quotes
/// excluded), whether they hold backslash escapes, and the value. The sink validates the name
/// and tells steps from points.
private protocol MetricSink {
    mutating func number(_ line: UnsafeRawBufferPointer, key: Range<Int>, escaped: Bool, value: Double, exact: Int64?)
}

/// Builds `[MetricPoint]`, making a `String` of every name as soon as it is read.
private struct ArraySink: MetricSink {
    let maxNameLength: Int
    var points: [MetricPoint] = []
    var steps = StepKeys()

    mutating func number(_ line: UnsafeRawBufferPointer, key: Range<Int>, escaped: Bool, value: Double, exact: Int64?) {
        guard let name = makeName(line, key, escaped: escaped) else { return }
        if !steps.take(name, value, exact) {
            if points.isEmpty { points.reserveCapacity(8) }
            points.append(MetricPoint(name: name, value: value))
        }
    }

    private func makeName(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, escaped: Bool) -> String? {
        guard !range.isEmpty else { return nil }
        if !escaped {
            guard range.count <= maxNameLength else { return nil }
            let bytes = UnsafeRawBufferPointer(rebasing: line[range])
            var ascii = true
            for b in bytes {
                if MetricBytes.isControl(b) { return nil }
                if b >= 0x80 { ascii = false }
            }
            // ASCII is valid UTF-8: take the fast, non-validating initialiser.
            return ascii ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
        }
        // An escape is at most 6 bytes per decoded byte (`\u0041` is `A`).
        guard range.count <= maxNameLength * 6,
              let decoded = MetricBytes.unescape(UnsafeRawBufferPointer(rebasing: line[range])),
              !decoded.isEmpty, decoded.count <= maxNameLength
        else { return nil }
        for b in decoded where MetricBytes.isControl(b) { return nil }
        return String(validating: decoded, as: UTF8.self)
    }
}

/// Keeps where each point's name lies (in the line, or decoded into `decoded` when the key had
/// escapes) and its value, in arrays kept from line to line; names stay bytes throughout.
private struct ByteSink: MetricSink, Sendable {
    struct Entry: Sendable {
        /// In the line, or in `decoded`.
        var inLine: Bool
        var start: Int
        var count: Int
        var value: Double
    }

    var maxNameLength = 0
    /// The line's entries are the first `count`; later ones are stale, kept to be overwritten:
    /// a line costs no allocation (nor `removeAll`) once the array has grown.
    var entries: [Entry] = []
    var count = 0
    var decoded: [UInt8] = []
    var steps = StepKeys()

    mutating func reset(maxNameLength: Int) {
        self.maxNameLength = maxNameLength
        count = 0
        if !decoded.isEmpty { decoded.removeAll(keepingCapacity: true) }
        steps = StepKeys()
    }

    private mutating func append(_ entry: Entry) {
        if count < entries.count { entries[count] = entry } else { entries.append(entry) }
        count += 1
    }

    /// The same checks, in the same order, as `ArraySink.makeName`, on bytes.
    mutating func number(_ line: UnsafeRawBufferPointer, key: Range<Int>, escaped: Bool, value: Double, exact: Int64?) {
        guard !key.isEmpty else { return }
        if !escaped {
            guard key.count <= maxNameLength else { return }
            let bytes = UnsafeRawBufferPointer(rebasing: line[key])
            guard MetricBytes.isValidName(bytes) else { return }
            if steps.take(bytes, value, exact) { return }
            append(Entry(inLine: true, start: key.lowerBound, count: key.count, value: value))
            return
        }
        guard key.count <= maxNameLength * 6,
              let name = MetricBytes.unescape(UnsafeRawBufferPointer(rebasing: line[key])),
              !name.isEmpty, name.count <= maxNameLength
        else { return }
        let keep: Bool = name.withUnsafeBytes { bytes in
            MetricBytes.isValidName(bytes) && !steps.take(bytes, value, exact)
        }
        guard keep else { return }
        append(Entry(inLine: false, start: decoded.count, count: name.count, value: value))
        decoded.append(contentsOf: name)
    }

    func emit(_ line: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, Double, Int64?) -> Void) {
        guard count > 0 else { return }
        let step = steps.step ?? steps.globalStep
        decoded.withUnsafeBytes { decoded in
            for entry in entries[..<count] {
                let range = entry.start..<(entry.start + entry.count)
                let name = UnsafeRawBufferPointer(rebasing: entry.inLine ? line[range] : decoded[range])
                body(name, entry.value, step)
            }
        }
    }
}

// MARK: - Step keys

/// Collects `step` / `global_step` while a line is parsed.
private struct StepKeys: Sendable {
    var step: Int64?
    var globalStep: Int64?

    /// True when `name` is a step key (then it is not a point, whatever its value).
    mutating func take(_ name: String, _ value: Double, _ exact: Int64?) -> Bool {
        let count = name.utf8.count
        guard count == 4 || count == 11 else { return false }
        let isStep = name == "step"
        guard isStep || name == "global_step" else { return false }
        record(isStep: isStep, value, exact)
        return true
    }

    /// `take` for a name held as (valid UTF-8) bytes. Comparing bytes is the same as comparing
    /// strings here: a string of 4 (or 11) UTF-8 bytes equal to the ASCII `step` (or
    /// `global_step`) must itself be ASCII, and ASCII strings are equal only byte for byte.
    mutating func take(_ name: UnsafeRawBufferPointer, _ value: Double, _ exact: Int64?) -> Bool {
        let isStep: Bool
        switch name.count {
        case 4: isStep = true
        case 11: isStep = false
        default: return false
        }
        guard Self.equals(name, isStep ? "step" : "global_step") else { return false }
        record(isStep: isStep, value, exact)
        return true
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for k in 0..<bytes.count where bytes[k] != w[k] { return false }
        return true
    }

    private mutating func record(isStep: Bool, _ value: Double, _ exact: Int64?) {
        var integer = exact
        if integer == nil, value.isFinite, value.rounded(.towardZero) == value,
           abs(value) <= 9_007_199_254_740_992 {
            integer = Int64(value)
        }
        if let integer {
            if isStep { step = integer } else { globalStep = integer }
        }
    }

    func apply(to points: inout [MetricPoint]) {
        guard let s = step ?? globalStep else { return }
        for k in points.indices { points[k].step = s }
    }
}

// MARK: - Scanning

private enum ScannedValue {
    /// `exactInteger` is set when the token was an integer literal that fits (for steps).
    case number(Double, exactInteger: Int64?)
    /// A well-formed value that is not a number: string, bool, None, nested object, list…
    case other
    case malformed
}

private struct MetricScanner {
    let p: UnsafeRawBufferPointer
    var i: Int
    let end: Int
    /// An ESC was met inside a string or a nested group (where it is not malformed).
    var sawEscape = false

    /// The byte at `i`; callers check `i < end` first.
    var byte: UInt8 { p[i] }

    mutating func skipSpace() {
        while i < end, MetricBytes.isSpace(p[i]) { i += 1 }
    }

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

// MARK: - Bytes

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

    /// 10^k for 0 ≤ k ≤ 22, all exact in a Double (a switch: no array to retain).
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

    /// Whether a number token can start with `b`: a sign, a digit, a dot, or the `n`/`i` of
    /// `nan`/`inf`/`infinity`.
    @inline(__always) static func mayStartNumber(_ b: UInt8) -> Bool {
        let lower = b | 0x20
        return (b >= zero && b <= nine) || b == minus || b == plus || b == dot || lower == 0x6E || lower == 0x69
    }

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

    /// The value of `line[range]` when all of it is one number token (the grammar's), else nil.
    static func wholeNumber(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Double? {
        guard !range.isEmpty else { return nil }
        var scanner = MetricScanner(p: line, i: range.lowerBound, end: range.upperBound)
        guard case .number(let value, _) = scanner.scanNumber(), scanner.i == range.upperBound else { return nil }
        return value
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

    @inline(__always) static func isControl(_ b: UInt8) -> Bool { b < 0x20 || b == 0x7F }

    @inline(__always) static func digit(_ b: UInt8) -> UInt64? {
        b >= zero && b <= nine ? UInt64(b &- zero) : nil
    }

    @inline(__always) static func isIdentStart(_ b: UInt8) -> Bool {
        let lower = b | 0x20
        return (lower >= 0x61 && lower <= 0x7A) || b == 0x5F
    }

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
