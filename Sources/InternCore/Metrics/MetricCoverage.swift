/// Whether the metrics a campaign counts on are being reported at all: each stage's objectives,
/// constraint metrics and pruning metric. A misspelt objective (`eval_los`), or a job that never
/// prints what the spec names, would otherwise leave a campaign with no objective, nothing pruned
/// and no best trial, without a word. Pure: the coordinator feeds it the names each attempt of a
/// stage reported and each completed trial; `intern status`, the digest and the report build one
/// from the store.
///
/// A metric is *missing* once a trial of its stage has completed and no attempt of the stage has
/// reported it; it stops being missing as soon as one does.
public struct MetricCoverage: Sendable, Equatable {
    /// What a stage counts on a metric for.
    public enum Role: String, Sendable, Hashable, Codable {
        case objective
        case constraint
        case pruning
    }

    /// One metric one stage counts on.
    public struct Requirement: Sendable, Hashable {
        public var stage: Int
        public var metric: String
        public var roles: [Role]
    }

    /// Every metric each stage counts on, in stage order, each metric once per stage.
    public let requirements: [Requirement]
    /// The stages' names, for messages (one stage: no name is shown).
    private let stageNames: [String]
    /// By stage: every metric name any of its attempts reported (at most ``maxSeenNames``).
    private var seen: [Set<String>]
    /// By stage: trials completed so far.
    private var completed: [Int]
    /// Missing metrics already announced (``trialCompleted(stage:)`` returns each once).
    private var announced: Set<Requirement> = []

    /// The most distinct names remembered per stage (a job printing ever new names cannot grow
    /// the coordinator without bound; the names counted on are always checked).
    public static let maxSeenNames = 1_000

    /// Coverage for `stages`, nothing reported yet.
    public init(stages: [Stage]) {
        var requirements: [Requirement] = []
        for (index, stage) in stages.enumerated() {
            var roles: [(String, Role)] = stage.objectives.map { ($0.metric, .objective) }
            roles += stage.constraints.map { ($0.metric, .constraint) }
            if let pruning = stage.pruning { roles.append((pruning.metric, .pruning)) }
            var order: [String] = []
            var byMetric: [String: [Role]] = [:]
            for (metric, role) in roles {
                if byMetric[metric] == nil { order.append(metric) }
                if byMetric[metric]?.contains(role) != true { byMetric[metric, default: []].append(role) }
            }
            requirements += order.map { Requirement(stage: index, metric: $0, roles: byMetric[$0]!) }
        }
        self.requirements = requirements
        stageNames = stages.count > 1 ? stages.map(\.name) : stages.map { _ in "" }
        seen = stages.map { _ in [] }
        completed = stages.map { _ in 0 }
    }

    /// Coverage as a store holds it: trials completed and metric names reported, by stage.
    public init(stages: [Stage], completed: [Int: Int], reported: [Int: Set<String>]) {
        self.init(stages: stages)
        for (stage, count) in completed { setCompleted(count, stage: stage) }
        for (stage, names) in reported { self.reported(names, stage: stage) }
    }

    /// An attempt of `stage` reported these metric names.
    public mutating func reported<S: Sequence<String>>(_ names: S, stage: Int) {
        guard seen.indices.contains(stage) else { return }
        for name in names {
            if seen[stage].count >= Self.maxSeenNames, !requirements.contains(where: { $0.stage == stage && $0.metric == name }) { continue }
            seen[stage].insert(name)
        }
    }

    /// A trial of `stage` completed: the metrics that are missing now and were not announced
    /// before (each is returned once; a metric reported later and missing again is not).
    public mutating func trialCompleted(stage: Int) -> [MissingMetric] {
        guard completed.indices.contains(stage) else { return [] }
        completed[stage] += 1
        let fresh = missing.filter { missing in
            !announced.contains(where: { $0.stage == missing.stageIndex && $0.metric == missing.metric })
        }
        for metric in fresh {
            if let requirement = requirements.first(where: { $0.stage == metric.stageIndex && $0.metric == metric.metric }) {
                announced.insert(requirement)
            }
        }
        return fresh
    }

    /// Marks what is missing now as announced (a restored coordinator: it was said before).
    public mutating func markAnnounced() {
        for metric in missing {
            if let requirement = requirements.first(where: { $0.stage == metric.stageIndex && $0.metric == metric.metric }) {
                announced.insert(requirement)
            }
        }
    }

    /// Trials completed in a stage.
    public func completedTrials(stage: Int) -> Int { completed.indices.contains(stage) ? completed[stage] : 0 }

    /// Records `count` completed trials at once (building from a store).
    public mutating func setCompleted(_ count: Int, stage: Int) {
        if completed.indices.contains(stage) { completed[stage] = count }
    }

    /// Every metric counted on that no attempt of its stage has reported although a trial of the
    /// stage completed, in the order of ``requirements``.
    public var missing: [MissingMetric] {
        requirements.compactMap { requirement in
            let stage = requirement.stage
            guard completed[stage] > 0, !seen[stage].contains(requirement.metric) else { return nil }
            let names = seen[stage].sorted()
            return MissingMetric(
                stage: stageNames[stage], stageIndex: stage, metric: requirement.metric, roles: requirement.roles,
                completedTrials: completed[stage], seen: names,
                suggestion: NameSuggestion.closest(to: requirement.metric, among: names))
        }
    }

    /// Whether one of a stage's objectives is missing: its trials completed without it.
    public func objectiveMissing(stage: Int) -> Bool {
        missing.contains { $0.stageIndex == stage && $0.roles.contains(.objective) }
    }
}

/// A metric a stage counts on that none of its completed trials reported: what intern says about
/// it in the run's progress, `status`, the digest, the report and the `metric.missing` event.
public struct MissingMetric: Sendable, Equatable {
    /// The stage's name (empty for a campaign of one stage) and index.
    public var stage: String
    public var stageIndex: Int
    /// The metric the spec names.
    public var metric: String
    /// What the stage counts on it for.
    public var roles: [MetricCoverage.Role]
    /// Trials of the stage completed without it.
    public var completedTrials: Int
    /// The names the stage's attempts did report, sorted.
    public var seen: [String]
    /// The closest of those to `metric` (`eval_los` -> `eval_loss`), if one is close.
    public var suggestion: String?

    /// The metric and its roles, for a short line: `eval_los (objective, pruning)`.
    public var short: String {
        "\(metric) (\(roles.map(\.rawValue).joined(separator: ", ")))" + (suggestion.map { ": did you mean \($0)?" } ?? "")
    }

    /// One sentence: what is missing, after how many trials, what was seen, the closest name.
    public var message: String {
        let what = roles.map(\.rawValue).joined(separator: " and ")
        let whereText = stage.isEmpty ? "" : " in stage \(stage)"
        var text = "no trial\(whereText) has reported \(metric), its \(what) metric, after \(completedTrials) completed trial\(completedTrials == 1 ? "" : "s")"
        if seen.isEmpty {
            text += "; the jobs printed no metric intern could read (docs/campaign.md, Metrics)"
        } else {
            let shown = seen.prefix(12).joined(separator: ", ")
            text += "; seen: \(shown)\(seen.count > 12 ? " (+\(seen.count - 12) more)" : "")"
        }
        if let suggestion { text += "; did you mean \(suggestion)?" }
        return text
    }
}
