/// Finds a job's declared outputs in one line it printed (or in the file it wrote at
/// `$INTERN_OUTPUT_FILE`, ``parseFile(_:)``): a JSON object with the single key
/// `intern_output` whose value is an object of names to strings, numbers or booleans,
/// `{"intern_output": {"checkpoint": "/runs/7/model.pt", "epochs": 12}}`. A later stage's
/// command receives them as `{stage.name}`. Runs on the worker for every line, next to the
/// metric parser: a line that does not start with `{"intern_output"` costs a few byte compares.
///
/// Numbers are kept as printed; `true`/`false` as those words; `null` drops the name. A line
/// with anything else (a nested object or list, a second top-level key, bad JSON, more than
/// ``maxOutputs`` names, a name longer than ``maxNameLength`` or a value longer than
/// ``maxValueLength`` bytes, a name that is not `[A-Za-z0-9_.-]`) gives no outputs at all.
public struct OutputLineParser: Sendable {
    public static let maxOutputs = 64
    public static let maxNameLength = 200
    public static let maxValueLength = 4096

    public init() {}

    private static let key = Array("\"intern_output\"".utf8)

    /// The outputs on `line`, in order, or `nil` when it is not a valid output line.
    public func parse(_ line: UnsafeRawBufferPointer) -> [(name: String, value: String)]? {
        var s = Scanner(bytes: line)
        s.skipSpace()
        guard s.take(UInt8(ascii: "{")) else { return nil }
        s.skipSpace()
        guard s.take(Self.key) else { return nil }
        s.skipSpace()
        guard s.take(UInt8(ascii: ":")) else { return nil }
        s.skipSpace()
        guard let outputs = Self.object(&s) else { return nil }
        s.skipSpace()
        guard s.take(UInt8(ascii: "}")) else { return nil }
        s.skipSpace()
        return s.atEnd ? outputs : nil
    }

    /// The outputs in the file a job wrote at `$INTERN_OUTPUT_FILE`: one JSON object of names to
    /// values, the same as the inner object of an output line (whitespace and newlines allowed),
    /// or `nil` when it is anything else.
    public func parseFile(_ bytes: [UInt8]) -> [(name: String, value: String)]? {
        bytes.withUnsafeBytes { buffer in
            var s = Scanner(bytes: buffer)
            s.skipSpace()
            guard let outputs = Self.object(&s) else { return nil }
            s.skipSpace()
            return s.atEnd ? outputs : nil
        }
    }

    /// `{"name": scalar, ...}`: each name once, a later value winning.
    private static func object(_ s: inout Scanner) -> [(name: String, value: String)]? {
        guard s.take(UInt8(ascii: "{")) else { return nil }
        var outputs: [(name: String, value: String)] = []
        s.skipSpace()
        if s.take(UInt8(ascii: "}")) { return outputs }
        while true {
            s.skipSpace()
            guard let name = s.string(limit: maxNameLength), ParameterSpace.isValidName(name) else { return nil }
            s.skipSpace()
            guard s.take(UInt8(ascii: ":")) else { return nil }
            s.skipSpace()
            guard let value = s.scalar(limit: maxValueLength) else { return nil }
            if let value {
                outputs.removeAll { $0.name == name }
                outputs.append((name, value))
                if outputs.count > maxOutputs { return nil }
            }
            s.skipSpace()
            if s.take(UInt8(ascii: ",")) { continue }
            return s.take(UInt8(ascii: "}")) ? outputs : nil
        }
    }

    /// Whether an output received from elsewhere (a worker's report) keeps the rules a parsed
    /// one keeps: a valid name within ``maxNameLength``, a value within ``maxValueLength``
    /// without NUL (it could not be passed in argv or the environment).
    public static func isAcceptable(name: String, value: String) -> Bool {
        name.utf8.count <= maxNameLength && ParameterSpace.isValidName(name) && value.utf8.count <= maxValueLength
            && !value.utf8.contains(0)
    }

    /// Convenience for tests and callers holding a `String`.
    public func parse(_ line: String) -> [(name: String, value: String)]? {
        var line = line
        return line.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        var atEnd: Bool { i >= bytes.count }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }

        mutating func take(_ word: [UInt8]) -> Bool {
            guard bytes.count - i >= word.count else { return false }
            for k in word.indices where bytes[i + k] != word[k] { return false }
            i += word.count
            return true
        }

        /// A string, number or boolean as text; `.some(nil)` for `null`; `nil` for anything else.
        mutating func scalar(limit: Int) -> String?? {
            guard i < bytes.count else { return nil }
            switch bytes[i] {
            case UInt8(ascii: "\""):
                return string(limit: limit).map { .some($0) }
            case UInt8(ascii: "t"):
                return take(Array("true".utf8)) ? .some("true") : nil
            case UInt8(ascii: "f"):
                return take(Array("false".utf8)) ? .some("false") : nil
            case UInt8(ascii: "n"):
                return take(Array("null".utf8)) ? .some(nil) : nil
            default:
                let start = i
                while i < bytes.count, Self.isNumberByte(bytes[i]) { i += 1 }
                guard i > start, i - start <= limit else { return nil }
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                return Double(text) == nil ? nil : .some(text)
            }
        }

        static func isNumberByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
        }

        /// A JSON string (escapes decoded), or `nil` when malformed, longer than `limit` bytes,
        /// or holding a control character or NUL.
        mutating func string(limit: Int) -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var out: [UInt8] = []
            while i < bytes.count {
                let b = bytes[i]
                i += 1
                switch b {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: out, as: UTF8.self) else { return nil }
                    return text
                case UInt8(ascii: "\\"):
                    guard i < bytes.count else { return nil }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var scalar = hex4() else { return nil }
                        if scalar >= 0xD800, scalar < 0xDC00 {
                            guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hex4(), low >= 0xDC00, low < 0xE000 else { return nil }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard scalar != 0, let unicode = Unicode.Scalar(scalar) else { return nil }
                        out.append(contentsOf: Array(String(Character(unicode)).utf8))
                    default: return nil
                    }
                default:
                    guard b >= 0x20 else { return nil }
                    out.append(b)
                }
                if out.count > limit { return nil }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard let value = MetricBytes.hex(bytes, at: i, count: 4) else { return nil }
            i += 4
            return value
        }
    }
}
