import ArgumentParser
import InternCore
import InternStore

/// What the views need to know of a stored campaign's stages: its spec, parsed from the text it
/// was started with, and how each stage's trials are ordered and chosen.
struct StageView {
    let spec: CampaignSpec
    let stages: [Stage]

    init(info: CampaignInfo) throws {
        spec = try CampaignFile.parse(yaml: info.specYAML, path: info.specPath).spec
        stages = spec.stages
    }

    /// The name of a trial's stage (the first when the trial names none the spec has).
    func name(of trial: TrialRecord) -> String { stages[min(trial.stage, stages.count - 1)].name }

    /// The order of a stage's trials: by its objective, best first.
    func order(stage index: Int) -> ObjectiveOrder {
        ObjectiveOrder(direction: stages[index].objective?.direction.rawValue)
    }

    /// The campaign's best trial: the best feasible one of its selection stage.
    func best(of trials: [TrialRecord]) -> TrialRecord? {
        guard let index = spec.selectionStage else { return nil }
        return order(stage: index).best(of: trials.filter { $0.stage == index })
    }

    /// The direction a metric is better in, when some stage says (an objective, a constraint's
    /// side, a pruning rule); `nil` for a metric nothing judges.
    var metricDirections: [String: Objective.Direction] {
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
    func lineage(of trial: TrialRecord, among byID: [TrialID: TrialRecord]) -> [TrialRecord] {
        var chain = [trial]
        while let parent = chain.last?.parent, let record = byID[parent], !chain.contains(where: { $0.id == parent }) {
            chain.append(record)
        }
        return chain
    }

    /// The line that says where a trial came from: `eval trial 8 <- train trial 4`.
    func lineageLine(of trial: TrialRecord, among byID: [TrialID: TrialRecord]) -> String {
        lineage(of: trial, among: byID).map { "\(name(of: $0)) trial \($0.id)" }.joined(separator: " <- ")
    }
}
