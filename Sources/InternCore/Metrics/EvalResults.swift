/// Evaluation results in the formats the field prints and writes, turned into metric points with
/// no change to the job: EleutherAI lm-evaluation-harness's Markdown results table and its
/// `results*.json`, and any JSON results file (numbers flattened to `a/b/c` names).
///
/// Names follow lm-eval's own structure: `TASK/FILTER/METRIC` (`gsm8k/flexible-extract/exact_match`)
/// with the standard error as `TASK/FILTER/METRIC_stderr`.

/// The lm-eval Markdown table, line by line (`|Tasks|Version|Filter|n-shot|Metric| |Value| |Stderr|`,
/// or `Groups` for the group table). Rows that leave the task empty continue the one above; group
/// members (` - humanities`) are named without their dash; `N/A` gives no point.
public struct LMEvalTableParser: Sendable {
    private var columns: (task: Int, filter: Int?, metric: Int, value: Int, stderr: Int?)?
    private var lastTask = ""
    private var lastFilter = ""

    public init() {}

    /// Whether a table is being read (its header was seen and no other line came since).
    public var isActive: Bool { columns != nil }

    /// The points one line gives (most lines: none, after one byte compare).
    public mutating func parse(_ line: String) -> [MetricPoint] {
        guard let cells = Self.cells(line) else {
            columns = nil
            return []
        }
        let trimmed = cells.map(Self.trim)
        if let task = trimmed.firstIndex(where: { $0 == "Tasks" || $0 == "Groups" }), let metric = trimmed.firstIndex(of: "Metric"),
           let value = trimmed.firstIndex(of: "Value") {
            columns = (task, trimmed.firstIndex(of: "Filter"), metric, value, trimmed.firstIndex(of: "Stderr"))
            lastTask = ""
            lastFilter = ""
            return []
        }
        guard let columns, trimmed.count > max(columns.task, columns.metric, columns.value) else { return [] }
        if trimmed.allSatisfy({ $0.allSatisfy { $0 == "-" || $0 == ":" } }) { return [] } // the |---|:---:| row
        var task = trimmed[columns.task]
        if task.hasPrefix("- ") { task = Self.trim(String(task.dropFirst(2))) }
        if task.isEmpty { task = lastTask } else { lastTask = task }
        var filter = columns.filter.map { trimmed.count > $0 ? trimmed[$0] : "" } ?? ""
        if filter.isEmpty { filter = lastFilter.isEmpty ? "none" : lastFilter } else { lastFilter = filter }
        let metric = trimmed[columns.metric]
        guard !task.isEmpty, !metric.isEmpty else { return [] }
        let name = "\(task)/\(filter)/\(metric)"
        var points: [MetricPoint] = []
        if let value = Double(trimmed[columns.value]) { points.append(MetricPoint(name: name, value: value)) }
        if let index = columns.stderr, trimmed.count > index, let stderr = Double(trimmed[index]) {
            points.append(MetricPoint(name: name + "_stderr", value: stderr))
        }
        return points
    }

    /// The cells of a `|a|b|c|` line, or `nil` when it is not a table row.
    static func cells(_ line: String) -> [String]? {
        let body = trim(line)
        guard body.count >= 3, body.first == "|", body.last == "|" else { return nil }
        return body.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false).map(String.init)
    }

    static func trim(_ text: String) -> String {
        var slice = Substring(text)
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice.removeLast() }
        return String(slice)
    }
}

/// A JSON value, parsed by ``EvalResultsFile`` (no Foundation in this module).
public indirect enum JSONValue: Sendable, Equatable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null): true
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

/// A results file a job wrote (declared in the campaign: `outputs: {results: results.json}`),
/// as metric points: lm-eval's `results*.json` by its `results` section (`"exact_match,strict-match":
/// 0.29` under `"gsm8k"` gives `gsm8k/strict-match/exact_match`), any other JSON by flattening
/// every number to its path (`{"eval": {"acc": 0.9}}` gives `eval/acc`; list items by index).
public enum EvalResultsFile {
    /// The most points one file gives.
    public static let maxPoints = 10_000
    /// Files nested deeper than this are not read.
    public static let maxDepth = 32

    public static func points(json bytes: [UInt8]) -> [MetricPoint]? {
        var parser = JSONParser(bytes: bytes)
        guard let value = parser.parseDocument() else { return nil }
        var points: [MetricPoint] = []
        if case .object(let top) = value, let results = top.first(where: { $0.0 == "results" })?.1, case .object(let tasks) = results,
           tasks.contains(where: { task in
               if case .object(let fields) = task.1 { return fields.contains { $0.0.contains(",") } }
               return false
           }) {
            for (task, fields) in tasks {
                guard case .object(let fields) = fields else { continue }
                for (key, value) in fields {
                    guard case .number(let number) = value else { continue }
                    let parts = key.split(separator: ",", maxSplits: 1).map(String.init)
                    let metric = parts[0], filter = parts.count > 1 ? parts[1] : "none"
                    // lm-eval names the stderr `METRIC_stderr,FILTER`.
                    points.append(MetricPoint(name: "\(task)/\(filter)/\(metric)", value: number))
                }
            }
            return Array(points.prefix(maxPoints))
        }
        flatten(value, path: "", into: &points)
        return Array(points.prefix(maxPoints))
    }

    static func flatten(_ value: JSONValue, path: String, into points: inout [MetricPoint]) {
        guard points.count < maxPoints else { return }
        switch value {
        case .number(let number):
            if !path.isEmpty { points.append(MetricPoint(name: path, value: number)) }
        case .bool(let flag):
            if !path.isEmpty { points.append(MetricPoint(name: path, value: flag ? 1 : 0)) }
        case .array(let items):
            for (index, item) in items.enumerated() { flatten(item, path: path.isEmpty ? "\(index)" : "\(path)/\(index)", into: &points) }
        case .object(let fields):
            for (key, item) in fields { flatten(item, path: path.isEmpty ? key : "\(path)/\(key)", into: &points) }
        case .string, .null:
            break
        }
    }

    /// A small strict JSON parser: iterative depth bound, no recursion past ``maxDepth``.
    struct JSONParser {
        let bytes: [UInt8]
        var i = 0

        mutating func parseDocument() -> JSONValue? {
            skip()
            guard let value = parseValue(depth: 0) else { return nil }
            skip()
            return i == bytes.count ? value : nil
        }

        mutating func skip() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func parseValue(depth: Int) -> JSONValue? {
            guard depth <= EvalResultsFile.maxDepth, i < bytes.count else { return nil }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var fields: [(String, JSONValue)] = []
                skip()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
                while true {
                    skip()
                    guard case .string(let key)? = parseString() else { return nil }
                    skip()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                    i += 1
                    skip()
                    guard let value = parseValue(depth: depth + 1) else { return nil }
                    fields.append((key, value))
                    skip()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
                    return nil
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [JSONValue] = []
                skip()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    skip()
                    guard let value = parseValue(depth: depth + 1) else { return nil }
                    items.append(value)
                    skip()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    return nil
                }
            case UInt8(ascii: "\""):
                return parseString()
            case UInt8(ascii: "t"): return word("true", .bool(true))
            case UInt8(ascii: "f"): return word("false", .bool(false))
            case UInt8(ascii: "n"): return word("null", .null)
            case UInt8(ascii: "N"): return word("NaN", .number(.nan))
            case UInt8(ascii: "I"): return word("Infinity", .number(.infinity))
            default:
                let start = i
                if i < bytes.count, bytes[i] == UInt8(ascii: "-"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "I") {
                    i += 1
                    return word("Infinity", .number(-.infinity))
                }
                while i < bytes.count, (bytes[i] >= 0x30 && bytes[i] <= 0x39) || [0x2B, 0x2D, 0x2E, 0x45, 0x65].contains(bytes[i]) { i += 1 }
                guard i > start, let number = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else { return nil }
                return .number(number)
            }
        }

        mutating func word(_ text: String, _ value: JSONValue) -> JSONValue? {
            let utf8 = Array(text.utf8)
            guard bytes.count - i >= utf8.count, Array(bytes[i..<(i + utf8.count)]) == utf8 else { return nil }
            i += utf8.count
            return value
        }

        mutating func parseString() -> JSONValue? {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < bytes.count {
                let byte = bytes[i]
                i += 1
                if byte == UInt8(ascii: "\"") { return .string(String(decoding: out, as: UTF8.self)) }
                if byte == UInt8(ascii: "\\") {
                    guard i < bytes.count else { return nil }
                    let escaped = bytes[i]
                    i += 1
                    switch escaped {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard let code = hex4() else { return nil }
                        if let scalar = Unicode.Scalar(code) { out.append(contentsOf: Array(String(Character(scalar)).utf8)) } else { out.append(0x3F) }
                    default: out.append(escaped)
                    }
                } else {
                    out.append(byte)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard bytes.count - i >= 4 else { return nil }
            let value = bytes[i..<(i + 4)].withUnsafeBytes { MetricBytes.hex($0, at: 0, count: 4) }
            if value != nil { i += 4 }
            return value
        }
    }
}
