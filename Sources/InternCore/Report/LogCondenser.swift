/// A job's log, condensed for reading (`intern logs TRIAL --condensed`): what it said, without
/// what it said a thousand times.
///
/// - `\r` progress bars keep their last state, and ANSI escapes are dropped;
/// - runs of metric lines (lines the metric parser reads whose values are all numbers: a
///   structured log line with text in it is kept as it is) become one line per run with each
///   metric's first → last value and its minimum;
/// - a line repeated becomes the line and a count; a run of lines that differ only in their
///   numbers becomes its first and last line and a count, unless they speak of an error (`error`,
///   `fail`, `exception`, `killed`, `exit`, `warn`, `nan`...: those are all kept);
/// - a Python traceback becomes its frame count, its last two frames and the exception.
///
/// Linear in the log's size; binary garbage is shown as it decodes (invalid UTF-8 replaced).
public struct LogCondenser: Sendable {
    public let parser: MetricLineParser
    /// Lines longer than this are cut (with `…`).
    public var maxLineLength = 400

    public init(metricPrefix: String?) {
        parser = MetricLineParser(keyValuePrefix: metricPrefix)
    }

    public func condense(_ bytes: [UInt8]) -> [String] {
        var output: [String] = []
        var pending = Pending.none
        let lines = Self.cleanLines(bytes)
        var index = 0
        func flush() {
            output += pending.render(maxLineLength: maxLineLength)
            pending = .none
        }
        while index < lines.count {
            let line = lines[index]
            if line.trimmingSpaces == "Traceback (most recent call last):" {
                flush()
                var end = index + 1
                var frames: [String] = []
                while end < lines.count, lines[end].first == " " || lines[end].first == "\t" {
                    frames.append(lines[end].trimmingSpaces)
                    end += 1
                }
                let exception = end < lines.count ? lines[end] : ""
                let fileLines = frames.enumerated().filter { $0.element.hasPrefix("File ") }
                let kept = fileLines.suffix(2).flatMap { entry -> [String] in
                    let code = entry.offset + 1 < frames.count && !frames[entry.offset + 1].hasPrefix("File ") ? frames[entry.offset + 1] : nil
                    return ["  " + entry.element] + (code.map { ["    " + $0] } ?? [])
                }
                output.append("Traceback (\(fileLines.count) frame\(fileLines.count == 1 ? "" : "s")\(fileLines.count > 2 ? ", last 2" : "")):")
                output += kept.map { Self.cut($0, maxLineLength) }
                if !exception.isEmpty { output.append(Self.cut(exception, maxLineLength)) }
                index = end < lines.count ? end + 1 : end
                continue
            }
            let points = Self.hasTextValue(line) ? [] : parser.parse(line)
            if !points.isEmpty {
                if case .metrics = pending {} else { flush() }
                pending.addMetrics(points)
                index += 1
                continue
            }
            // An error-like line folds only with exact copies of itself (its shape is itself).
            let shape = Self.speaksOfErrors(line) ? "\u{0}" + line : Self.shape(line)
            if case .repeated(let first, _, let count, let lastShape) = pending, lastShape == shape {
                pending = .repeated(first: first, last: line, count: count + 1, shape: lastShape)
            } else {
                flush()
                pending = .repeated(first: line, last: line, count: 1, shape: shape)
            }
            index += 1
        }
        flush()
        return output
    }

    private enum Pending {
        case none
        case repeated(first: String, last: String, count: Int, shape: String)
        /// Metric names in first-seen order, with first, last and min value, and the line count.
        case metrics(order: [String], values: [String: (first: Double, last: Double, min: Double, count: Int)], lines: Int)

        mutating func addMetrics(_ points: [MetricPoint]) {
            var order: [String] = [], values: [String: (first: Double, last: Double, min: Double, count: Int)] = [:], lines = 0
            if case .metrics(let o, let v, let l) = self { order = o; values = v; lines = l }
            for point in points {
                if var entry = values[point.name] {
                    entry.last = point.value
                    if point.value < entry.min || entry.min.isNaN { entry.min = point.value }
                    entry.count += 1
                    values[point.name] = entry
                } else {
                    order.append(point.name)
                    values[point.name] = (point.value, point.value, point.value, 1)
                }
            }
            self = .metrics(order: order, values: values, lines: lines + 1)
        }

        func render(maxLineLength: Int) -> [String] {
            switch self {
            case .none:
                return []
            case .repeated(let first, let last, let count, _):
                if count == 1 { return [LogCondenser.cut(first, maxLineLength)] }
                if first == last { return [LogCondenser.cut(first, maxLineLength) + "  [×\(count)]"] }
                if count == 2 { return [LogCondenser.cut(first, maxLineLength), LogCondenser.cut(last, maxLineLength)] }
                return [LogCondenser.cut(first, maxLineLength), "  … \(count - 2) more like it …", LogCondenser.cut(last, maxLineLength) + "  [\(count) similar lines]"]
            case .metrics(let order, let values, let lines):
                if lines == 1, order.count <= 8 {
                    return ["[metrics] " + order.map { "\($0)=\(ImportanceAnalysis.format(values[$0]!.last))" }.joined(separator: " ")]
                }
                let shown = order.prefix(8).map { name -> String in
                    let entry = values[name]!
                    return entry.count == 1 ? "\(name) \(ImportanceAnalysis.format(entry.last))"
                        : "\(name) \(ImportanceAnalysis.format(entry.first))→\(ImportanceAnalysis.format(entry.last)) (min \(ImportanceAnalysis.format(entry.min)))"
                }
                let more = order.count > 8 ? ", +\(order.count - 8) more" : ""
                return ["[\(lines) metric lines] " + shown.joined(separator: ", ") + more]
            }
        }
    }

    /// The log's lines as text, cleaned as ``LogText`` cleans a log tail.
    static func cleanLines(_ bytes: [UInt8]) -> [String] {
        LogText.cleanLines(bytes).map { String(decoding: $0, as: UTF8.self) }
    }

    static let errorWords = ["error", "fail", "exception", "traceback", "killed", "exit", "abort", "warn", "nan", "fatal", "denied", "timeout", "timed out"]

    /// Whether a line mentions something going wrong (case-insensitive, ASCII).
    static func speaksOfErrors(_ line: String) -> Bool {
        let lowered = line.lowercased()
        return errorWords.contains { lowered.contains($0) }
    }

    /// Whether an object line has a quoted text value (`"msg": "NCCL timeout"`, `'level': 'error'`):
    /// it is a structured log line, not a metric line.
    static func hasTextValue(_ line: String) -> Bool {
        let bytes = Array(line.utf8)
        guard bytes.first(where: { $0 != 0x20 && $0 != 0x09 }) == UInt8(ascii: "{") else { return false }
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: ":") {
                var j = i + 1
                while j < bytes.count, bytes[j] == 0x20 { j += 1 }
                if j < bytes.count, bytes[j] == UInt8(ascii: "\"") || bytes[j] == UInt8(ascii: "'") { return true }
            }
            i += 1
        }
        return false
    }

    /// The line with every run of digits as `#`: lines of one shape differ only in their numbers.
    static func shape(_ line: String) -> String {
        var out = ""
        var inDigits = false
        for scalar in line.unicodeScalars {
            if scalar.properties.numericType != nil && scalar.isASCII {
                if !inDigits { out.append("#") }
                inDigits = true
            } else {
                out.unicodeScalars.append(scalar)
                inDigits = false
            }
        }
        return out
    }

    static func cut(_ line: String, _ limit: Int) -> String {
        line.count > limit ? String(line.prefix(limit - 1)) + "…" : line
    }

}

private extension String {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
