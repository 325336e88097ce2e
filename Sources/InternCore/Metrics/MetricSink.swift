/// Where the forms put each number that has a string key: the key's bytes as printed (quotes
/// excluded), whether they hold backslash escapes, and the value. The sink validates the name
/// and tells steps from points.
protocol MetricSink {
    mutating func number(_ line: UnsafeRawBufferPointer, key: Range<Int>, escaped: Bool, value: Double, exact: Int64?)
}

/// Builds `[MetricPoint]`, making a `String` of every name as soon as it is read.
struct ArraySink: MetricSink {
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

    /// The name of the key at `range` (unescaped when `escaped`), or nil when it is empty, too long,
    /// not valid UTF-8 or holds a control character.
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
struct ByteSink: MetricSink, Sendable {
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

    /// Forgets the previous line (keeping every array's capacity).
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

    /// Hands each point to `body`, in the line's order, with the line's step; `line` is the one the
    /// entries were read from.
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
struct StepKeys: Sendable {
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

    /// Keeps `value` when it is an integer (given exactly, or a finite whole number up to 2^53).
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

    /// Gives every point the line's step (`step`, else `global_step`), when it had one.
    func apply(to points: inout [MetricPoint]) {
        guard let s = step ?? globalStep else { return }
        for k in points.indices { points[k].step = s }
    }
}
