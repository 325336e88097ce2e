/// A map stage's items (`map: {over: "data/shards/*.jsonl"}` or `map: {items: [a, b]}`): the
/// stage runs one trial per item, in order, each with the item as `{item}` and `INTERN_ITEM`.
///
/// A map stage is a grid over one choice parameter named ``parameterName`` whose values are the
/// items, so retries, failure classes, the circuit breaker and every report treat its trials as
/// any others. A glob is resolved once, when the campaign is created; the list is stored with
/// the campaign, so a resumed campaign maps over the same items even if files came or went.
public struct ItemMap: Sendable, Hashable, Codable {
    /// The glob as written in the spec (relative to the spec's directory), or `nil` for `items:`.
    public var pattern: String?
    /// The items, in the order trials run them: for a glob, the matching paths, absolute, sorted.
    public var items: [String]

    /// The parameter that carries the item: `{item}` in the command, `INTERN_PARAM_ITEM` and
    /// `INTERN_ITEM` in the environment.
    public static let parameterName = "item"
    /// The environment variable that carries a map trial's item.
    public static let environmentName = "INTERN_ITEM"

    /// Creates a map over `items` (`pattern`: the glob they were resolved from, if any).
    public init(pattern: String? = nil, items: [String]) {
        self.pattern = pattern
        self.items = items
    }

    /// The space a map stage searches: one choice parameter, ``parameterName``, over the items.
    public var space: ParameterSpace {
        ParameterSpace([Parameter(name: Self.parameterName, domain: .choice(items.map { .string($0) }))])
    }

    /// The item a trial of a map stage ran, from its parameters.
    public static func item(of parameters: Parameters) -> String? {
        parameters[parameterName]?.text
    }

    /// What is wrong with the items: none, an empty or duplicated item, or one holding a NUL
    /// (it could not reach argv or the environment); reported under `keyPath`.
    public func problems(keyPath: String) -> [CampaignProblem] {
        var problems: [CampaignProblem] = []
        if items.isEmpty {
            let what = pattern.map { "the glob '\($0)' matches no file" } ?? "map.items is empty"
            problems.append(CampaignProblem(keyPath: keyPath, message: "\(what): a map stage needs at least one item"))
        }
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            if item.isEmpty || item.utf8.contains(0) {
                problems.append(CampaignProblem(keyPath: "\(keyPath)[\(index)]", message: "an item must be non-empty text without NUL"))
            } else if !seen.insert(item).inserted {
                problems.append(CampaignProblem(keyPath: "\(keyPath)[\(index)]", message: "'\(item)' is listed twice: each item runs once"))
            }
        }
        return problems
    }
}
