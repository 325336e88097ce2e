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
    /// The default `maxNameLength`: 200 bytes.
    public static let defaultMaxNameLength = 200

    /// The prefix that marks `key=value` lines, or nil when that form is off.
    /// An empty prefix is treated as nil.
    public let keyValuePrefix: String?
    /// Longer metric names (in UTF-8 bytes) are dropped. Clamped to 0...65536.
    public let maxNameLength: Int

    /// `keyValuePrefix`'s UTF-8 bytes (empty when the form is off).
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
    /// blanks, an object is read as it is and only a line where the scan met an ESC (or that fails
    /// and holds one) asks to be read again without them, and a candidate for the other forms is
    /// looked through for an ESC first. The forms see the line up to its trailing blanks (indices
    /// are the line's own). The tokens are `MetricScanner`'s, the shapes of forms 3 to 5
    /// `MetricBytes`' (`MetricBytes+LineShapes.swift`).
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

    /// Form 2 after the prefix (which ends at `start`): `key=value` pairs separated by whitespace
    /// and/or commas, or an object (read as form 1).
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
