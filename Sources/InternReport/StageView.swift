import InternCore
import InternStore

/// What the views need to know of a stored campaign's stages: its spec, parsed from the text it
/// was started with, and how each stage's trials are ordered and chosen.
public struct StageView: Sendable {
    public let spec: CampaignSpec
    public let stages: [Stage]

    /// The view of a parsed spec (``CampaignReport/specOf(_:)`` parses a store's).
    public init(spec: CampaignSpec) {
        self.spec = spec
        stages = spec.stages
    }

    /// The name of a trial's stage (the first when the trial names none the spec has).
    public func name(of trial: TrialRecord) -> String { stages[min(trial.stage, stages.count - 1)].name }

    /// The order of a stage's trials: by its objective, best first.
    public func order(stage index: Int) -> ObjectiveOrder {
        ObjectiveOrder(direction: stages[index].objective?.direction.rawValue)
    }

    /// The campaign's best trial: the best feasible one of its selection stage.
    public func best(of trials: [TrialRecord]) -> TrialRecord? {
        guard let index = spec.selectionStage else { return nil }
        return order(stage: index).best(of: trials.filter { $0.stage == index })
    }

    /// The verdict on the selection stage's validation repeats, if any ran (see ``ValidationVerdict``).
    public func validation(of trials: [TrialRecord]) -> ValidationVerdict? {
        guard let index = spec.selectionStage, let objective = stages[index].objective, stages[index].extraObjectives.isEmpty else { return nil }
        return ValidationVerdict.judge(trials.lazy.filter { $0.stage == index }, objective: objective)
    }

    /// The direction a metric is better in, when some stage says (an objective, a constraint's
    /// side, a pruning rule); `nil` for a metric nothing judges.
    public var metricDirections: [String: Objective.Direction] {
        var directions: [String: Objective.Direction] = [:]
        for stage in stages {
            if let pruning = stage.pruning { directions[pruning.metric] = pruning.direction }
            for constraint in stage.constraints {
                directions[constraint.metric] = constraint.comparison == .atLeast || constraint.comparison == .above ? .maximize : .minimize
            }
            for objective in stage.objectives { directions[objective.metric] = objective.direction }
        }
        return directions
    }

    /// A trial and the trials that fed it, newest first (`trial`, its parent, its parent's parent, ...).
    public func lineage(of trial: TrialRecord, among byID: [TrialID: TrialRecord]) -> [TrialRecord] {
        var chain = [trial]
        while let parent = chain.last?.parent, let record = byID[parent], !chain.contains(where: { $0.id == parent }) {
            chain.append(record)
        }
        return chain
    }

    /// The line that says where a trial came from: `eval trial 8 <- train trial 4`.
    public func lineageLine(of trial: TrialRecord, among byID: [TrialID: TrialRecord]) -> String {
        lineage(of: trial, among: byID).map { "\(name(of: $0)) trial \($0.id)" }.joined(separator: " <- ")
    }
}

/// Orders trials by a stored objective direction.
public struct ObjectiveOrder: Sendable {
    public var maximize: Bool

    public init(direction: String?) { maximize = direction == "maximize" }

    /// Better first; trials without a value last, then by id.
    public func sorted(_ trials: [TrialRecord]) -> [TrialRecord] {
        trials.sorted { a, b in
            switch (a.objective, b.objective) {
            case let (x?, y?) where x != y: return maximize ? x > y : x < y
            case (_?, nil): return true
            case (nil, _?): return false
            default: return a.id < b.id
            }
        }
    }

    /// The best completed trial that reported the objective and met the constraints (a
    /// validation repeat never is).
    public func best(of trials: [TrialRecord]) -> TrialRecord? {
        sorted(trials.filter { $0.status == .completed && $0.objective != nil && $0.feasible != false && !$0.isRepeat }).first
    }
}
