import InternCore
import Yams

/// The search space (`space:`, its parameters' domains and `when:` conditions) and the sampler that draws from it.
extension SpecReader {
    /// `space:`: the parameters by name, each with its domain and, optionally, its `when:` condition.
    mutating func readSpace(_ node: Node) throws(SpecError) -> ParameterSpace {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "space", expected: "a mapping of parameter names to definitions, e.g. lr: {type: loguniform, low: 1.0e-4, high: 0.1}")
        }
        var parameters: [Parameter] = []
        for (key, value) in map {
            let name = try keyText(key, parent: "space")
            let path = "space.\(name)"
            marks[path] = Position(key.mark)
            parameters.append(Parameter(name: name, domain: try readDomain(value, path), condition: try readCondition(value, path)))
        }
        return ParameterSpace(parameters)
    }

    /// `when: {optimizer: sgd}` or `when: {optimizer: [sgd, momentum]}` on a parameter's mapping.
    private mutating func readCondition(_ node: Node, _ path: String) throws(SpecError) -> Parameter.Condition? {
        guard case .mapping(let map) = node, let entry = map.first(where: { $0.key.scalar?.string == "when" }) else { return nil }
        marks["\(path).when"] = Position(entry.key.mark)
        guard case .mapping(let condition) = entry.value, condition.count == 1, let (key, value) = condition.first else {
            throw typeMismatch(entry.value, "\(path).when", expected: "one parameter and its value(s), e.g. when: {optimizer: sgd}")
        }
        let parent = try keyText(key, parent: "\(path).when")
        let values: [ParameterValue]
        if case .sequence(let sequence) = value {
            values = try choiceValues(sequence, at: Position(value.mark), "\(path).when.\(parent)")
        } else {
            values = [try choiceValue(value, "\(path).when.\(parent)")]
        }
        return Parameter.Condition(parameter: parent, values: values)
    }

    /// The keys each parameter type takes.
    private static let domainKeys: [String: [String]] = [
        "choice": ["type", "values", "when"],
        "uniform": ["type", "low", "high", "when"],
        "loguniform": ["type", "low", "high", "when"],
        "int": ["type", "low", "high", "step", "log", "when"],
    ]
    /// The parameter types, in documentation order.
    private static let domainTypes = ["choice", "uniform", "loguniform", "int"]

    /// A parameter's domain: a mapping with a `type`, a list of values (a choice), or one value (fixed).
    private mutating func readDomain(_ node: Node, _ path: String) throws(SpecError) -> Parameter.Domain {
        switch node {
        case .sequence(let sequence):
            return .choice(try choiceValues(sequence, at: Position(node.mark), "\(path).values"))
        case .scalar:
            if isNull(node) {
                throw typeMismatch(node, path, expected: "a definition such as {type: uniform, low: 0, high: 1}, a list of values, or one fixed value")
            }
            marks["\(path).values"] = Position(node.mark)
            marks["\(path).values[0]"] = Position(node.mark)
            return .choice([try choiceValue(node, "\(path).values[0]")])
        case .mapping(let map):
            guard let typePair = map.first(where: { $0.key.scalar?.string == "type" }) else {
                let keys = map.compactMap { $0.key.scalar?.string }
                let hint = keys.contains("values") ? " (type: choice for a list of values)" : ""
                throw missing("type", in: path, at: Position(node.mark),
                              hint: "one of \(Self.domainTypes.joined(separator: ", "))\(hint)")
            }
            let type = try text(typePair.value, "\(path).type")
            guard let allowed = Self.domainKeys[type] else {
                let suggestion = NameSuggestion.closest(to: type, among: Self.domainTypes)
                var message = "unknown parameter type '\(type)'"
                if let suggestion { message += "; did you mean '\(suggestion)'?" }
                message += " (valid types: \(Self.domainTypes.joined(separator: ", ")))"
                throw error(.invalidValue, at: Position(typePair.value.mark), "\(path).type", message, suggestion: suggestion)
            }
            let fields = try mapping(map, at: Position(node.mark), keyPath: path, allowed: allowed, context: "in a \(type) parameter")
            func required(_ key: String, _ hint: String) throws(SpecError) -> Node {
                guard let entry = fields[key] else { throw missing(key, in: path, at: Position(node.mark), hint: hint) }
                return entry.value
            }
            switch type {
            case "choice":
                let valuesNode = try required("values", "the list of values to choose from, e.g. values: [32, 64, 128]")
                guard case .sequence(let sequence) = valuesNode else {
                    throw typeMismatch(valuesNode, "\(path).values", expected: "a list of values, e.g. [32, 64, 128]")
                }
                return .choice(try choiceValues(sequence, at: Position(valuesNode.mark), "\(path).values"))
            case "uniform", "loguniform":
                let low = try number(try required("low", "the smallest value, e.g. low: 0.0"), "\(path).low")
                let high = try number(try required("high", "the largest value, e.g. high: 1.0"), "\(path).high")
                return type == "uniform" ? .uniform(low: low, high: high) : .logUniform(low: low, high: high)
            default: // int
                let low = try integer(try required("low", "the smallest integer, e.g. low: 1"), "\(path).low")
                let high = try integer(try required("high", "the largest integer, e.g. high: 10"), "\(path).high")
                var step = 1
                if let entry = fields["step"] { step = try integer(entry.value, "\(path).step") }
                var log = false
                if let entry = fields["log"] { log = try boolean(entry.value, "\(path).log") }
                return .integer(low: low, high: high, step: step, log: log)
            }
        case .alias:
            throw typeMismatch(node, path, expected: "a parameter definition")
        }
    }

    /// A choice's values (at least one), each marked.
    private mutating func choiceValues(_ sequence: Node.Sequence, at mark: Position?, _ path: String) throws(SpecError) -> [ParameterValue] {
        marks[path] = mark
        if sequence.isEmpty {
            throw error(.invalidValue, at: mark, path, "a choice needs at least one value, e.g. [32, 64, 128]")
        }
        var values: [ParameterValue] = []
        for (index, element) in sequence.enumerated() {
            let elementPath = "\(path)[\(index)]"
            marks[elementPath] = Position(element.mark)
            values.append(try choiceValue(element, elementPath))
        }
        return values
    }

    /// One value of a choice: a number, a string or a boolean.
    func choiceValue(_ node: Node, _ path: String) throws(SpecError) -> ParameterValue {
        guard case .scalar(let scalar) = node else {
            throw typeMismatch(node, path, expected: "a number, a string or a boolean")
        }
        switch classify(scalar) {
        case .null:
            throw error(.typeMismatch, at: Position(node.mark), path,
                        "null is not a value; quote it (\"null\") for the string, or remove it")
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .float(let value): return .double(value)
        case .string(let value): return .string(value)
        case .bigInteger(let text):
            throw error(.invalidValue, at: Position(node.mark), path, "\(text) does not fit in a 64-bit integer; quote it for a string")
        }
    }

    /// `sampler:`: `random`, `grid` or `tpe`, or a mapping with a `type` and its `seed` (and, for TPE, `startup`).
    mutating func readSampler(_ node: Node) throws(SpecError) -> SamplerKind {
        marks["sampler"] = Position(node.mark)
        let kinds = ["random", "grid", "tpe", "gp"]
        func kind(_ name: String, _ node: Node, _ path: String) throws(SpecError) -> String {
            guard kinds.contains(name) else {
                let suggestion = NameSuggestion.closest(to: name, among: kinds)
                var message = "unknown sampler '\(name)'"
                if let suggestion { message += "; did you mean '\(suggestion)'?" }
                throw error(.invalidValue, at: Position(node.mark), path, message + " (valid: random, grid, tpe, gp)", suggestion: suggestion)
            }
            return name
        }
        switch node {
        case .scalar(let scalar) where !isNull(node):
            switch try kind(scalar.string, node, "sampler") {
            case "grid": return .grid
            case "tpe": return .tpe(seed: 0, startup: 10)
            case "gp": return .gp(seed: 0, startup: 10)
            default: return .random(seed: 0)
            }
        case .mapping(let map):
            let fields = try mapping(
                map, at: Position(node.mark), keyPath: "sampler", allowed: ["type", "seed", "startup", "multivariate"], context: "in sampler")
            guard let typeEntry = fields["type"] else {
                throw missing("type", in: "sampler", at: Position(node.mark), hint: "random, grid, tpe or gp")
            }
            let name = try kind(try text(typeEntry.value, "sampler.type"), typeEntry.value, "sampler.type")
            if name != "tpe", let multivariate = fields["multivariate"] {
                throw error(.invalidValue, at: Position(multivariate.key.mark), "sampler.multivariate",
                            "multivariate (one joint model or one per parameter) is for type: tpe")
            }
            if name == "grid" {
                if let seed = fields["seed"] {
                    throw error(.invalidValue, at: Position(seed.key.mark), "sampler.seed",
                                "a grid is not random and takes no seed; remove seed, or use type: random")
                }
                return .grid
            }
            if name == "random", let startup = fields["startup"] {
                throw error(.invalidValue, at: Position(startup.key.mark), "sampler.startup",
                            "startup (random trials before the Bayesian sampler) is for type: tpe or gp")
            }
            let seed = try fields["seed"].map { entry throws(SpecError) in try readSeed(entry.value) } ?? 0
            guard name != "random" else { return .random(seed: seed) }
            let startup = try fields["startup"].map { entry throws(SpecError) in try integer(entry.value, "sampler.startup") } ?? 10
            if name == "gp" { return .gp(seed: seed, startup: startup) }
            let multivariate = try fields["multivariate"].map { entry throws(SpecError) in try boolean(entry.value, "sampler.multivariate") } ?? true
            return multivariate ? .tpe(seed: seed, startup: startup) : .independentTPE(seed: seed, startup: startup)
        default:
            throw typeMismatch(node, "sampler", expected: "random, grid, tpe, gp, or a mapping such as {type: tpe, seed: 7}")
        }
    }

    /// `sampler.seed`: an integer from 0 to `UInt64.max`.
    private mutating func readSeed(_ seedNode: Node) throws(SpecError) -> UInt64 {
        guard case .scalar(let scalar) = seedNode, !isNull(seedNode) else {
            throw typeMismatch(seedNode, "sampler.seed", expected: "an integer from 0 to \(UInt64.max)")
        }
        let raw = scalar.string.replacingOccurrences(of: "_", with: "")
        if let seed = UInt64(raw) { return seed }
        switch classify(scalar) {
        case .int(let value) where value >= 0: return UInt64(value)
        case .int, .bigInteger:
            throw error(.invalidValue, at: Position(seedNode.mark), "sampler.seed", "the seed must be an integer from 0 to \(UInt64.max), got \(scalar.string)")
        default:
            throw typeMismatch(seedNode, "sampler.seed", expected: "an integer from 0 to \(UInt64.max)")
        }
    }
}
