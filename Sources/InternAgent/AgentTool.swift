import InternCore

/// An argument an agent gave a tool, as JSON has it.
public enum ToolValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    /// A list or an object, as JSON text (a tool's configurations).
    case json(String)
}

/// A tool call that cannot run as given: said to the agent as a tool error, nothing run.
public struct ToolError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One parameter of a tool, with what the JSON schema says of it.
public struct ToolParameter: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case string, integer, number, boolean
        /// A list of configurations: objects of parameter values (JSON schema: an array of objects).
        case configurations
    }
    public let name: String
    public let kind: Kind
    public let description: String
    public let required: Bool
    /// For a string: the values it may take (nil: any, within ``maxLength``).
    public let choices: [String]?
    /// For an integer: its bounds.
    public let range: ClosedRange<Int>?

    public init(_ name: String, _ kind: Kind, _ description: String, required: Bool = false, choices: [String]? = nil, range: ClosedRange<Int>? = nil) {
        self.name = name
        self.kind = kind
        self.description = description
        self.required = required
        self.choices = choices
        self.range = range
    }

    /// The longest string an agent may pass (a grep pattern, a campaign name).
    public static let maxLength = 256
    /// The most configurations an agent may propose at once.
    public static let maxConfigurations = 50
    /// The most JSON an agent may pass as configurations.
    public static let maxConfigurationsLength = 64 << 10
}

/// A tool an agent may call: what it does, its parameters, and the `intern` command it runs
/// (the same commands a person types, and `--coordinator` forwards), without where the campaign is.
///
/// Arguments never reach a shell: each becomes one element of the command's argv, after it was
/// checked against the schema (a type, a bound, a choice); free text goes after `--`, so it is
/// never read as an option.
public struct AgentTool: Sendable {
    public let name: String
    public let description: String
    public let parameters: [ToolParameter]
    /// Whether the command prints JSON (returned as structured content when it fits the budget).
    public let printsJSON: Bool
    /// What the tool does to the world, which says how the server runs it.
    public let effect: Effect
    private let command: @Sendable ([String: ToolValue]) -> [String]

    /// What a tool does to the world.
    public enum Effect: Sendable, Equatable {
        /// Reads a campaign; asked again with nothing changed, it is answered in a line.
        case reads
        /// Steers a campaign: run with the agent's name (`--actor agent:NAME`) and the server's
        /// policy flags, so the coordinator holds it to the agent policy and records who asked.
        case steers
        /// Cancels: a steering the policy may forbid (`may_cancel`).
        case cancels
        /// Reads a spec file (`spec`, a path inside the server's spec directory); no campaign.
        case checksSpec
        /// Starts a campaign from a spec file: only when the server allows it (`--allow-start`).
        case startsCampaign
        /// Reads the lab (every campaign under the server's root): run with `--root`.
        case readsLab
        /// Writes a note to the lab: run with `--root`, the campaign, and the agent's name as author.
        case writesLab
    }

    /// Whether the tool changes nothing.
    public var isReadOnly: Bool { effect == .reads || effect == .checksSpec || effect == .readsLab }

    init(
        _ name: String, _ description: String, parameters: [ToolParameter] = [], printsJSON: Bool = false, effect: Effect = .reads,
        command: @escaping @Sendable ([String: ToolValue]) -> [String]
    ) {
        self.name = name
        self.description = description
        // Every tool on a campaign can name the campaign and the page of a long answer.
        let common = [
            ToolParameter("campaign", .string, "The campaign's name (see list_campaigns); may be left out when there is only one."),
            ToolParameter("page", .integer, "The page of a long answer to return (1 first; a cut answer says how many there are).", range: 1...10_000),
        ]
        self.parameters = parameters + (effect == .checksSpec || effect == .startsCampaign ? [common[1]] : common)
        self.printsJSON = printsJSON
        self.effect = effect
        self.command = command
    }

    /// The `intern` arguments of a call, after checking what the agent gave.
    public func arguments(_ given: [String: ToolValue]) throws(ToolError) -> [String] {
        try check(given)
        return command(given)
    }

    /// Checks arguments against the parameters: no unknown name, each of its kind, within its
    /// bounds or choices, the required ones present.
    public func check(_ given: [String: ToolValue]) throws(ToolError) {
        let known = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0) })
        for (name, value) in given.sorted(by: { $0.key < $1.key }) {
            guard let parameter = known[name] else {
                throw ToolError("\(self.name) takes no argument '\(name)'; it takes \(parameters.map(\.name).joined(separator: ", "))")
            }
            switch (parameter.kind, value) {
            case (.string, .string(let text)):
                if let choices = parameter.choices, !choices.contains(text) {
                    throw ToolError("\(name) must be one of \(choices.joined(separator: ", ")), not '\(text)'")
                }
                if text.utf8.count > ToolParameter.maxLength || text.isEmpty {
                    throw ToolError("\(name) must be 1 to \(ToolParameter.maxLength) bytes")
                }
                if text.utf8.contains(0) { throw ToolError("\(name) must not contain a NUL byte") }
                if name == "campaign", !CampaignSpec.isValidName(text) {
                    throw ToolError("campaign takes a campaign's name (letters, digits, '.', '_' or '-'), not '\(text)'")
                }
            case (.integer, .integer(let number)):
                if let range = parameter.range, !range.contains(number) {
                    throw ToolError("\(name) must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
                }
            case (.number, .number(let number)):
                if !number.isFinite || number < 0 || number > Double(parameter.range?.upperBound ?? Int.max) {
                    throw ToolError("\(name) must be a number from 0 to \(parameter.range?.upperBound ?? Int.max), not \(number)")
                }
            case (.number, .integer(let number)):
                if number < 0 || number > (parameter.range?.upperBound ?? Int.max) {
                    throw ToolError("\(name) must be a number from 0 to \(parameter.range?.upperBound ?? Int.max), not \(number)")
                }
            case (.boolean, .boolean):
                break
            case (.configurations, .json(let text)):
                if text.utf8.count > ToolParameter.maxConfigurationsLength {
                    throw ToolError("\(name) must take at most \(ToolParameter.maxConfigurationsLength) bytes of JSON")
                }
            default:
                let article = parameter.kind == .integer ? "an" : "a"
                throw ToolError("\(name) must be \(parameter.kind == .configurations ? "a list of objects of parameter values" : "\(article) \(parameter.kind.rawValue)")")
            }
        }
        if let missing = parameters.first(where: { $0.required && given[$0.name] == nil }) {
            throw ToolError("\(self.name) needs '\(missing.name)': \(missing.description)")
        }
    }
}

extension [String: ToolValue] {
    public func string(_ name: String) -> String? {
        if case .string(let text)? = self[name] { return text }
        return nil
    }

    public func integer(_ name: String) -> Int? {
        if case .integer(let number)? = self[name] { return number }
        return nil
    }

    public func number(_ name: String) -> Double? {
        switch self[name] {
        case .number(let number)?: number
        case .integer(let number)?: Double(number)
        default: nil
        }
    }

    public func json(_ name: String) -> String? {
        if case .json(let text)? = self[name] { return text }
        return nil
    }

    public func boolean(_ name: String) -> Bool? {
        if case .boolean(let flag)? = self[name] { return flag }
        return nil
    }
}
