import InternCore
import Yams

/// The readers every section is built on: a mapping's keys checked against the allowed ones, and
/// scalars as text, integers, numbers, booleans, durations and sizes, each with a located error.
extension SpecReader {
    /// The entries of a mapping by key, after checking that every key is a known scalar and recording marks.
    mutating func mapping(_ map: Node.Mapping, at mark: Position?, keyPath: String, allowed: [String],
                          context: String) throws(SpecError) -> [String: (key: Node, value: Node)] {
        var entries: [String: (key: Node, value: Node)] = [:]
        for (key, value) in map {
            let name = try keyText(key, parent: keyPath)
            let path = keyPath.isEmpty ? name : "\(keyPath).\(name)"
            guard allowed.contains(name) else {
                let suggestion = NameSuggestion.closest(to: name, among: allowed)
                var message = "unknown key '\(name)' \(context)"
                if let suggestion { message += "; did you mean '\(suggestion)'?" }
                message += " (valid keys: \(allowed.joined(separator: ", ")))"
                throw error(.unknownKey, at: Position(key.mark), path, message, suggestion: suggestion)
            }
            marks[path] = Position(value.mark)
            entries[name] = (key, value)
        }
        return entries
    }

    /// A mapping's key as text: a plain (non-null) scalar.
    func keyText(_ key: Node, parent: String) throws(SpecError) -> String {
        guard case .scalar(let scalar) = key, !isNull(key) else {
            throw error(.typeMismatch, at: Position(key.mark), parent, "a key must be a plain name, found \(describe(key))")
        }
        return scalar.string
    }

    /// A scalar's value after YAML's tag resolution.
    enum Scalar {
        case null
        case bool(Bool)
        case int(Int)
        case bigInteger(String)
        case float(Double)
        case string(String)
    }

    /// What a scalar is after YAML's tag resolution (quoted scalars are always strings).
    func classify(_ scalar: Node.Scalar) -> Scalar {
        let node = Node.scalar(scalar)
        switch node.tag.rawValue {
        case Tag.Name.null.rawValue:
            return .null
        case Tag.Name.bool.rawValue:
            return node.bool.map(Scalar.bool) ?? .string(scalar.string)
        case Tag.Name.int.rawValue:
            return node.int.map(Scalar.int) ?? .bigInteger(scalar.string)
        case Tag.Name.float.rawValue:
            return node.float.map(Scalar.float) ?? .string(scalar.string)
        default:
            return .string(scalar.string)
        }
    }

    /// Whether `node` is YAML's null (`null`, `~` or nothing).
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        if case .null = classify(scalar) { return true }
        return false
    }

    /// Any non-null scalar, as written.
    func text(_ node: Node, _ path: String) throws(SpecError) -> String {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            throw typeMismatch(node, path, expected: "a string")
        }
        return scalar.string
    }

    /// An integer, or a string of one.
    func integer(_ node: Node, _ path: String) throws(SpecError) -> Int {
        guard case .scalar(let scalar) = node else { throw typeMismatch(node, path, expected: "an integer") }
        switch classify(scalar) {
        case .int(let value):
            return value
        case .bigInteger(let text):
            throw error(.invalidValue, at: Position(node.mark), path, "\(text) does not fit in a 64-bit integer")
        case .float(let value):
            throw error(.typeMismatch, at: Position(node.mark), path, "expected an integer, found the number \(value)")
        case .string(let text):
            if let value = Int(text.trimmingCharacters(in: .whitespaces)) { return value }
            throw error(.typeMismatch, at: Position(node.mark), path, "expected an integer, found the string '\(text)'")
        case .null, .bool:
            throw typeMismatch(node, path, expected: "an integer")
        }
    }

    /// A finite number, or a string of one (`"1e-4"`).
    func number(_ node: Node, _ path: String) throws(SpecError) -> Double {
        guard case .scalar(let scalar) = node else { throw typeMismatch(node, path, expected: "a number") }
        let value: Double
        switch classify(scalar) {
        case .int(let integer): value = Double(integer)
        case .bigInteger(let text): value = Double(text.replacingOccurrences(of: "_", with: "")) ?? .nan
        case .float(let float): value = float
        case .string(let text):
            guard let parsed = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw error(.typeMismatch, at: Position(node.mark), path, "expected a number, found the string '\(text)'")
            }
            value = parsed
        case .null, .bool:
            throw typeMismatch(node, path, expected: "a number")
        }
        guard value.isFinite else {
            throw error(.invalidValue, at: Position(node.mark), path, "expected a finite number, found \(scalar.string)")
        }
        return value
    }

    /// `true` or `false`.
    func boolean(_ node: Node, _ path: String) throws(SpecError) -> Bool {
        if case .scalar(let scalar) = node, case .bool(let value) = classify(scalar) { return value }
        throw typeMismatch(node, path, expected: "true or false")
    }

    /// What `node` is, for a message: "a mapping", "the number 3", "the string 'x'", ...
    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch classify(scalar) {
            case .null: return "null"
            case .bool(let value): return "the boolean \(value)"
            case .int, .bigInteger, .float: return "the number \(scalar.string)"
            case .string(let text): return "the string '\(text)'"
            }
        }
    }

    /// Seconds: a number, or a duration with units (`90s`, `10m`, `1h30m`).
    mutating func readDuration(_ node: Node, _ path: String) throws(SpecError) -> Double {
        marks[path] = Position(node.mark)
        guard case .scalar(let scalar) = node else {
            throw typeMismatch(node, path, expected: "a number of seconds or a duration such as 90s, 10m, 2h, 1h30m")
        }
        switch classify(scalar) {
        case .int(let value): return Double(value)
        case .float(let value): return value
        case .string(let text):
            guard let seconds = CampaignSpecParser.parseDuration(text) else {
                throw error(.invalidValue, at: Position(node.mark), path,
                            "'\(text)' is not a duration; give seconds (600) or a number with units d, h, m, s, ms (90s, 10m, 2h, 1h30m)")
            }
            return seconds
        default:
            throw typeMismatch(node, path, expected: "a number of seconds or a duration such as 90s, 10m, 2h, 1h30m")
        }
    }

    /// Bytes: a number, or a size with a unit (`16GiB`, `512MiB`, `2G`).
    mutating func readSize(_ node: Node, _ path: String) throws(SpecError) -> Int {
        marks[path] = Position(node.mark)
        guard case .scalar(let scalar) = node else {
            throw typeMismatch(node, path, expected: "a size such as 16GiB, 512MiB or a number of bytes")
        }
        switch classify(scalar) {
        case .int(let value) where value >= 0: return value
        case .string(let text):
            guard let bytes = ByteSize.parse(text) else {
                throw error(.invalidValue, at: Position(node.mark), path,
                            "'\(text)' is not a size; give bytes (1000000) or a number with a unit: Ki, Mi, Gi, Ti (or KiB…, powers of 1024), K, M, G, T (powers of 1000), e.g. 16GiB")
            }
            return bytes
        default:
            throw typeMismatch(node, path, expected: "a size such as 16GiB, 512MiB or a number of bytes")
        }
    }
}
