/// One value of one parameter in one trial: what a placeholder such as `{learning_rate}` becomes.
///
/// Encodes as a plain JSON scalar (`0.001`, `64`, `"adam"`, `true`), so a trial's parameters
/// store as `{"hidden":64,"lr":0.001}`. JSON does not tell `1` from `1.0`: a `.double` whose value
/// is integral decodes as `.int`; ``ParameterSpace/normalized(_:)`` restores the domain's types.
public enum ParameterValue: Sendable, Hashable, Codable, CustomStringConvertible {
    /// An integer, from an `int` domain or an integer choice.
    case int(Int)
    /// A floating-point number, from a `uniform` or `loguniform` domain or a float choice.
    case double(Double)
    /// A string, from a choice.
    case string(String)
    /// A boolean, from a choice.
    case bool(Bool)

    /// The value as it is written into an argv element or an environment variable:
    /// integers plainly (`64`), doubles in Swift's shortest round-trip form (`0.001`, `2e-05`, `1.0`),
    /// booleans as `true`/`false`, strings as they are.
    public var text: String {
        switch self {
        case .int(let value): return String(value)
        case .double(let value): return value.description
        case .string(let value): return value
        case .bool(let value): return value ? "true" : "false"
        }
    }

    /// The value as a number: integers and doubles convert, strings and booleans give `nil`.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        case .string, .bool: return nil
        }
    }

    /// The same as ``text``.
    public var description: String { text }

    /// Decodes a plain scalar: a boolean, then an integer, then a double, then a string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a parameter value is a number, a string or a boolean")
        }
    }

    /// Encodes the value as a plain scalar.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        }
    }
}

/// The assignment of values to parameters for one trial, keyed by parameter name.
///
/// Encodes as a plain JSON object, `{"hidden":64,"lr":0.001}`.
public struct Parameters: Sendable, Hashable, Codable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The values by parameter name.
    public var values: [String: ParameterValue]

    /// Creates an assignment from values by parameter name.
    public init(_ values: [String: ParameterValue] = [:]) {
        self.values = values
    }

    /// Creates an assignment from a literal such as `["lr": .double(0.1)]`.
    public init(dictionaryLiteral elements: (String, ParameterValue)...) {
        self.values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    /// The value of the named parameter, or `nil` if it has none.
    public subscript(name: String) -> ParameterValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// The number of parameters assigned.
    public var count: Int { values.count }

    /// The parameter names, sorted.
    public var names: [String] { values.keys.sorted() }

    /// The (name, value) pairs sorted by name: the stable order for display, hashing and storage.
    public var sortedPairs: [(name: String, value: ParameterValue)] {
        values.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
    }

    /// `name=value` pairs sorted by name and joined with spaces, e.g. `hidden=64 lr=0.001`.
    public var description: String {
        sortedPairs.map { "\($0.name)=\($0.value.text)" }.joined(separator: " ")
    }

    /// Decodes a plain object of scalars.
    public init(from decoder: any Decoder) throws {
        self.values = try decoder.singleValueContainer().decode([String: ParameterValue].self)
    }

    /// Encodes a plain object of scalars.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }
}
