import InternCore
import Yams

/// How trials are judged: `objective:`/`objectives:` and `pruning:` (constraints are read with the stage keys).
extension SpecReader {
    /// An objective (`objective:`, or one of `objectives:` at `path`): a metric, a direction and a
    /// summary (`last` or `best`).
    mutating func readObjective(_ node: Node, _ path: String = "objective") throws(SpecError) -> Objective {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, path, expected: "a mapping such as {metric: eval_accuracy, direction: maximize}")
        }
        marks[path] = Position(node.mark)
        let fields = try mapping(map, at: Position(node.mark), keyPath: path, allowed: ["metric", "direction", "summary"], context: "in \(path)")
        guard let metric = fields["metric"] else {
            throw missing("metric", in: path, at: Position(node.mark), hint: "the name of the metric to optimize, e.g. metric: eval_accuracy")
        }
        guard let directionEntry = fields["direction"] else {
            throw missing("direction", in: path, at: Position(node.mark), hint: "minimize or maximize")
        }
        let metricName = try text(metric.value, "\(path).metric")
        let direction = try readDirection(directionEntry.value, "\(path).direction")
        var summary = Objective.Summary.last
        if let entry = fields["summary"] {
            let summaryText = try text(entry.value, "\(path).summary")
            guard let value = Objective.Summary(rawValue: summaryText) else {
                throw invalidChoice(summaryText, entry.value, "\(path).summary", ["last", "best"])
            }
            summary = value
        }
        return Objective(metric: metricName, direction: direction, summary: summary)
    }

    /// `minimize` (or `min`) or `maximize` (or `max`).
    private mutating func readDirection(_ node: Node, _ path: String) throws(SpecError) -> Objective.Direction {
        let value = try text(node, path)
        switch value {
        case "minimize", "min": return .minimize
        case "maximize", "max": return .maximize
        default: throw invalidChoice(value, node, path, ["minimize", "maximize"])
        }
    }

    /// `pruning:`: the rule, and the metric and direction it judges by (by default the objective's).
    mutating func readPruning(_ node: Node, objective: Objective?) throws(SpecError) -> PruningPolicy {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "pruning", expected: "a mapping such as {rule: asha, metric: eval_loss, min_step: 1, reduction: 3}")
        }
        marks["pruning"] = Position(node.mark)
        let fields = try mapping(
            map, at: Position(node.mark), keyPath: "pruning", allowed: ["rule", "metric", "direction", "min_step", "reduction", "min_trials"],
            context: "in pruning")
        guard let ruleEntry = fields["rule"] else {
            throw missing("rule", in: "pruning", at: Position(node.mark), hint: "asha or median")
        }
        let ruleText = try text(ruleEntry.value, "pruning.rule")
        guard let rule = PruningPolicy.Rule(rawValue: ruleText) else {
            throw invalidChoice(ruleText, ruleEntry.value, "pruning.rule", PruningPolicy.Rule.allCases.map(\.rawValue))
        }
        var metric = objective?.metric
        if let entry = fields["metric"] { metric = try text(entry.value, "pruning.metric") }
        guard let metric else {
            throw missing("metric", in: "pruning", at: Position(node.mark), hint: "the intermediate metric to judge trials by, e.g. metric: eval_loss (default: the objective's)")
        }
        var direction = objective?.direction
        if let entry = fields["direction"] { direction = try readDirection(entry.value, "pruning.direction") }
        guard let direction else {
            throw missing("direction", in: "pruning", at: Position(node.mark), hint: "minimize or maximize (default: the objective's)")
        }
        var policy = PruningPolicy(rule: rule, metric: metric, direction: direction)
        if let entry = fields["min_step"] { policy.minStep = try integer(entry.value, "pruning.min_step") }
        if let entry = fields["reduction"] { policy.reduction = try integer(entry.value, "pruning.reduction") }
        if let entry = fields["min_trials"] { policy.minTrials = try integer(entry.value, "pruning.min_trials") }
        return policy
    }
}
