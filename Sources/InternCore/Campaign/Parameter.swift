/// One dimension of the search: a name (the placeholder `{name}` in the command) and the values it may take.
public struct Parameter: Sendable, Hashable, Codable {
    /// The parameter's name: `[A-Za-z_][A-Za-z0-9_.-]*`, at most 64 characters, not a builtin placeholder.
    public var name: String
    /// The values the parameter may take.
    public var domain: Domain
    /// When set, the parameter exists only in trials where an earlier choice parameter has one of
    /// the listed values (spec: `when: {optimizer: sgd}`); elsewhere it is absent.
    public var condition: Condition?

    /// A parameter that exists only for some values of an earlier choice parameter.
    public struct Condition: Sendable, Hashable, Codable {
        public var parameter: String
        public var values: [ParameterValue]

        public init(parameter: String, values: [ParameterValue]) {
            self.parameter = parameter
            self.values = values
        }
    }

    /// Creates a parameter.
    public init(name: String, domain: Domain, condition: Condition? = nil) {
        self.name = name
        self.domain = domain
        self.condition = condition
    }

    /// The values a parameter may take.
    ///
    /// Encodes as `{"type":"choice","values":[...]}`, `{"type":"uniform","low":0,"high":1}`,
    /// `{"type":"loguniform","low":0.0001,"high":0.3}` or `{"type":"int","low":1,"high":9,"step":1,"log":false}`.
    public enum Domain: Sendable, Hashable, Codable {
        /// One of the listed values; on a grid, every one in order.
        case choice([ParameterValue])
        /// A double drawn uniformly from `low..<high`. Continuous: random sampler only.
        case uniform(low: Double, high: Double)
        /// A double whose logarithm is uniform between `log(low)` and `log(high)`; `low > 0`. Continuous: random sampler only.
        case logUniform(low: Double, high: Double)
        /// An integer `low, low+step, ...` up to `high` inclusive. Random sampling picks one of those steps
        /// uniformly, or, with `log`, draws in log space over `[low-0.5, high+0.5]` and rounds to the
        /// nearest step (`log` needs `low >= 1`). On a grid, every step in order (`log` does not matter).
        case integer(low: Int, high: Int, step: Int, log: Bool)

        /// The domain in a few words: `one of 16, 32, 64`, `int 1 to 8`, `uniform 0.0 to 1.0`.
        public var summary: String {
            switch self {
            case .choice(let values): "one of " + values.map(\.text).joined(separator: ", ")
            case .uniform(let low, let high): "uniform \(low) to \(high)"
            case .logUniform(let low, let high): "loguniform \(low) to \(high)"
            case .integer(let low, let high, let step, let log): "int \(low) to \(high)" + (step == 1 ? "" : " by \(step)") + (log ? " (log)" : "")
            }
        }

        /// The name used for this kind of domain in specs: `choice`, `uniform`, `loguniform` or `int`.
        public var typeName: String {
            switch self {
            case .choice: return "choice"
            case .uniform: return "uniform"
            case .logUniform: return "loguniform"
            case .integer: return "int"
            }
        }

        /// Whether the domain is continuous (`uniform`, `loguniform`), which a grid cannot enumerate.
        public var isContinuous: Bool {
            switch self {
            case .uniform, .logUniform: return true
            case .choice, .integer: return false
            }
        }

        /// How many points a grid enumerates for this domain: the number of choices or integer steps;
        /// `nil` for a continuous domain or an integer range too wide to count in an `Int`.
        public var gridCount: Int? {
            switch self {
            case .choice(let values):
                return values.count
            case .uniform, .logUniform:
                return nil
            case .integer(let low, let high, let step, _):
                guard step >= 1, low <= high else { return nil }
                let (span, overflow) = high.subtractingReportingOverflow(low)
                guard !overflow else { return nil }
                let (count, overflow2) = (span / step).addingReportingOverflow(1)
                return overflow2 ? nil : count
            }
        }

        /// The grid point at `index` (`0..<gridCount`): the index-th choice, or `low + index*step`.
        /// - Precondition: the domain is discrete and `index` is in range.
        public func gridValue(at index: Int) -> ParameterValue {
            switch self {
            case .choice(let values):
                return values[index]
            case .integer(let low, _, let step, _):
                return .int(low + index * step)
            case .uniform, .logUniform:
                preconditionFailure("a grid cannot enumerate a continuous domain")
            }
        }

        /// Whether `value` is one this domain can produce (a double for a continuous domain may
        /// also be given as an integer).
        public func contains(_ value: ParameterValue) -> Bool {
            switch self {
            case .choice(let values):
                return values.contains(value)
            case .uniform(let low, let high), .logUniform(let low, let high):
                guard let number = value.doubleValue else { return false }
                return number >= low && number <= high
            case .integer(let low, let high, let step, _):
                guard case .int(let number) = value, number >= low, number <= high, step >= 1 else { return false }
                return (number - low) % step == 0
            }
        }

        /// Everything wrong with this domain, reported under `keyPath` (e.g. `space.lr`).
        public func problems(keyPath: String) -> [CampaignProblem] {
            var problems: [CampaignProblem] = []
            func add(_ key: String?, _ message: String) {
                problems.append(CampaignProblem(keyPath: key.map { "\(keyPath).\($0)" } ?? keyPath, message: message))
            }
            switch self {
            case .choice(let values):
                if values.isEmpty {
                    add("values", "a choice needs at least one value")
                }
                var seen = Set<ParameterValue>()
                for (index, value) in values.enumerated() {
                    let key = "values[\(index)]"
                    switch value {
                    case .double(let number) where !number.isFinite:
                        add(key, "\(number) is not a finite number")
                    case .string(let text) where text.utf8.contains(0):
                        add(key, "a value cannot contain a NUL character")
                    default:
                        break
                    }
                    if !seen.insert(value).inserted {
                        add(key, "'\(value.text)' is listed twice; choice values must be distinct")
                    }
                }
            case .uniform(let low, let high), .logUniform(let low, let high):
                if !low.isFinite { add("low", "low must be a finite number, not \(low)") }
                if !high.isFinite { add("high", "high must be a finite number, not \(high)") }
                if case .logUniform = self, low.isFinite, low <= 0 {
                    add("low", "loguniform needs low > 0, got \(low); use type: uniform for ranges that include 0")
                }
                if low.isFinite, high.isFinite, !(low < high) {
                    add("high", "high must be greater than low (low: \(low), high: \(high)); for a fixed value use a choice of one")
                }
            case .integer(let low, let high, let step, let log):
                if step < 1 {
                    add("step", "step must be an integer >= 1, got \(step)")
                }
                if low > high {
                    add("high", "high must be >= low (low: \(low), high: \(high))")
                } else if step >= 1, gridCount == nil {
                    add("high", "the range \(low)...\(high) is too wide")
                }
                if log, low < 1 {
                    add("low", "an int range with log: true needs low >= 1, got \(low)")
                }
            }
            return problems
        }

        private enum CodingKeys: String, CodingKey {
            case type, values, low, high, step, log
        }

        /// Decodes `{"type": ..., ...}`.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let type = try container.decode(String.self, forKey: .type)
            switch type {
            case "choice":
                self = .choice(try container.decode([ParameterValue].self, forKey: .values))
            case "uniform":
                self = .uniform(low: try container.decode(Double.self, forKey: .low),
                                high: try container.decode(Double.self, forKey: .high))
            case "loguniform":
                self = .logUniform(low: try container.decode(Double.self, forKey: .low),
                                   high: try container.decode(Double.self, forKey: .high))
            case "int":
                self = .integer(low: try container.decode(Int.self, forKey: .low),
                                high: try container.decode(Int.self, forKey: .high),
                                step: try container.decodeIfPresent(Int.self, forKey: .step) ?? 1,
                                log: try container.decodeIfPresent(Bool.self, forKey: .log) ?? false)
            default:
                throw DecodingError.dataCorruptedError(
                    forKey: .type, in: container,
                    debugDescription: "unknown domain type '\(type)'; valid: choice, uniform, loguniform, int")
            }
        }

        /// Encodes `{"type": ..., ...}`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(typeName, forKey: .type)
            switch self {
            case .choice(let values):
                try container.encode(values, forKey: .values)
            case .uniform(let low, let high), .logUniform(let low, let high):
                try container.encode(low, forKey: .low)
                try container.encode(high, forKey: .high)
            case .integer(let low, let high, let step, let log):
                try container.encode(low, forKey: .low)
                try container.encode(high, forKey: .high)
                try container.encode(step, forKey: .step)
                try container.encode(log, forKey: .log)
            }
        }
    }
}

/// The search space: an ordered list of parameters. The order is the grid's order
/// (the first parameter varies slowest, the last fastest).
public struct ParameterSpace: Sendable, Hashable, Codable, ExpressibleByArrayLiteral {
    /// The parameters, in spec order.
    public var parameters: [Parameter]

    /// Creates a space from parameters in order.
    public init(_ parameters: [Parameter] = []) {
        self.parameters = parameters
    }

    /// Creates a space from a literal list of parameters.
    public init(arrayLiteral elements: Parameter...) {
        self.parameters = elements
    }

    /// Decodes a plain array of parameters.
    public init(from decoder: any Decoder) throws {
        self.parameters = try decoder.singleValueContainer().decode([Parameter].self)
    }

    /// Encodes a plain array of parameters.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(parameters)
    }

    /// The parameter names in order.
    public var names: [String] { parameters.map(\.name) }

    /// The named parameter, or `nil`.
    public subscript(name: String) -> Parameter? {
        parameters.first { $0.name == name }
    }

    /// Whether every parameter is discrete (a choice or an int range), so a grid can enumerate the space.
    public var isDiscrete: Bool { parameters.allSatisfy { !$0.domain.isContinuous } }

    /// The number of points of the full grid (the product of every parameter's ``Parameter/Domain/gridCount``;
    /// 1 for an empty space); `nil` if a parameter is continuous or the product does not fit in an `Int`.
    public var gridSize: Int? {
        var size = 1
        for parameter in parameters {
            guard let count = parameter.domain.gridCount else { return nil }
            let (product, overflow) = size.multipliedReportingOverflow(by: count)
            if overflow { return nil }
            size = product
        }
        return size
    }

    /// The names reserved for the builtin placeholders: `trial`, `attempt`, `campaign`.
    public static let reservedNames: Set<String> = CommandTemplate.builtins

    /// Whether `name` is a valid parameter name: `[A-Za-z_][A-Za-z0-9_.-]*`, 1 to 64 characters.
    /// (The builtin names are valid names but reserved; see ``reservedNames``.)
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64 else { return false }
        func isLetter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        guard isLetter(first) else { return false }
        return bytes.dropFirst().allSatisfy { isLetter($0) || isDigit($0) || $0 == 46 || $0 == 45 }
    }

    /// Everything wrong with the space on its own: names (valid, distinct, not reserved) and domains.
    public func problems(keyPath: String = "space") -> [CampaignProblem] {
        var problems: [CampaignProblem] = []
        var seen = Set<String>()
        for parameter in parameters {
            let path = "\(keyPath).\(parameter.name)"
            if !Self.isValidName(parameter.name) {
                problems.append(CampaignProblem(
                    keyPath: path,
                    message: "'\(parameter.name)' is not a valid parameter name: use letters, digits, '_', '.' and '-', starting with a letter or '_', at most 64 characters"))
            } else if Self.reservedNames.contains(parameter.name) {
                problems.append(CampaignProblem(
                    keyPath: path,
                    message: "'\(parameter.name)' is reserved for the builtin placeholder {\(parameter.name)}; choose another name"))
            }
            if !seen.insert(parameter.name).inserted {
                problems.append(CampaignProblem(keyPath: path, message: "parameter '\(parameter.name)' is defined twice"))
            }
            problems += parameter.domain.problems(keyPath: path)
            if let condition = parameter.condition {
                let earlier = parameters.prefix { $0.name != parameter.name }
                guard let parent = earlier.first(where: { $0.name == condition.parameter }), case .choice(let options) = parent.domain else {
                    problems.append(CampaignProblem(
                        keyPath: "\(path).when",
                        message: "when: names '\(condition.parameter)', which must be a choice parameter defined before '\(parameter.name)'"))
                    continue
                }
                if condition.values.isEmpty {
                    problems.append(CampaignProblem(keyPath: "\(path).when", message: "when: lists no value of '\(condition.parameter)'"))
                }
                for value in condition.values where !options.contains(value) {
                    problems.append(CampaignProblem(
                        keyPath: "\(path).when", message: "when: '\(value.text)' is not a value of '\(condition.parameter)' (\(options.map(\.text).joined(separator: ", ")))"))
                }
            }
        }
        return problems
    }

    /// Whether the space has parameters that exist only for some values of another.
    public var isConditional: Bool { parameters.contains { $0.condition != nil } }

    /// `parameters` without the values of parameters whose condition does not hold.
    public func active(_ parameters: Parameters) -> Parameters {
        guard isConditional else { return parameters }
        var result = parameters
        for parameter in self.parameters {
            guard let condition = parameter.condition else { continue }
            if !(result[condition.parameter].map(condition.values.contains) ?? false) { result.values[parameter.name] = nil }
        }
        return result
    }

    /// Everything wrong with sampling this space with `sampler`: the space's own problems and, for a grid,
    /// each continuous parameter and a grid too large to count.
    public func problems(for sampler: SamplerKind, keyPath: String = "space") -> [CampaignProblem] {
        var problems = self.problems(keyPath: keyPath)
        guard case .grid = sampler else { return problems }
        if let conditional = parameters.first(where: { $0.condition != nil }) {
            problems.append(CampaignProblem(
                keyPath: "\(keyPath).\(conditional.name).when",
                message: "sampler grid does not enumerate conditional parameters; use sampler random or tpe"))
        }
        for parameter in parameters where parameter.domain.isContinuous {
            problems.append(CampaignProblem(
                keyPath: "\(keyPath).\(parameter.name)",
                message: "sampler grid cannot enumerate the continuous parameter '\(parameter.name)' (\(parameter.domain.typeName)); list the values to try with `type: choice`, or use `sampler: random`"))
        }
        if isDiscrete, problems.isEmpty, gridSize == nil {
            problems.append(CampaignProblem(keyPath: keyPath, message: "the grid has more points than an Int can count; use `sampler: random`"))
        }
        return problems
    }

    /// `parameters` with each value converted to its domain's type where JSON lost it: an integer given
    /// for a `uniform`/`loguniform` parameter, or for a choice that lists that number only as a double,
    /// becomes `.double`. Values of unknown parameters are kept as they are.
    public func normalized(_ parameters: Parameters) -> Parameters {
        var result = parameters
        for parameter in self.parameters {
            guard case .int(let number)? = parameters[parameter.name] else { continue }
            switch parameter.domain {
            case .uniform, .logUniform:
                result[parameter.name] = .double(Double(number))
            case .choice(let values):
                if !values.contains(.int(number)), values.contains(.double(Double(number))) {
                    result[parameter.name] = .double(Double(number))
                }
            case .integer:
                break
            }
        }
        return result
    }

    /// Whether `parameters` assigns exactly this space's active parameters (those whose condition
    /// holds), each a value its domain can produce.
    public func contains(_ parameters: Parameters) -> Bool {
        var expected = 0
        for parameter in self.parameters {
            let active = parameter.condition.map { condition in parameters[condition.parameter].map(condition.values.contains) ?? false } ?? true
            guard active else { continue }
            expected += 1
            guard let value = parameters[parameter.name], parameter.domain.contains(value) else { return false }
        }
        return parameters.count == expected
    }
}
