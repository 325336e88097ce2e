import InternCore
import Yams

/// The campaign-wide policies: what is retried after which failure (`retry:`), how failures are told
/// apart and when they stop the campaign (`failures:`), and what the campaign may spend (`budget:`).
extension SpecReader {
    /// `retry:`: retries per failure class, the per-trial and campaign limits, and the backoff, into `policy`.
    mutating func readRetry(_ node: Node, into policy: inout FailurePolicy) throws(SpecError) {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "retry", expected: "a mapping of failure classes to retries, e.g. retry: {oom: 1, infra: 3}")
        }
        if let unknown = map.first(where: { $0.key.scalar?.string == "unknown" }) {
            throw error(.unknownKey, at: Position(unknown.key.mark), "retry.unknown",
                        "the retries for unknown failures are the top-level 'retries' (retries: 1), not retry.unknown")
        }
        let fields = try mapping(map, at: Position(node.mark), keyPath: "retry", allowed: CampaignSpecParser.retryKeys,
                                 context: "in retry")
        for failureClass in FailureClass.allCases {
            guard let entry = fields[failureClass.rawValue] else { continue }
            policy.retries[failureClass] = try integer(entry.value, "retry.\(failureClass)")
        }
        if let entry = fields["per_trial"], !isNull(entry.value) {
            policy.maxRetriesPerTrial = try integer(entry.value, "retry.per_trial")
        }
        if let entry = fields["campaign"], !isNull(entry.value) {
            policy.campaignRetryBudget = try integer(entry.value, "retry.campaign")
        }
        if let entry = fields["backoff"] {
            policy.backoffSeconds = try readDuration(entry.value, "retry.backoff")
        }
    }

    /// `failures:`: the patterns that classify a failure, the circuit breaker and the quarantine
    /// threshold, into `policy`.
    mutating func readFailures(_ node: Node, into policy: inout FailurePolicy) throws(SpecError) {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "failures", expected: "a mapping, e.g. failures: {infra_patterns: [\"NCCL WARN\"], circuit_breaker: 3}")
        }
        let fields = try mapping(map, at: Position(node.mark), keyPath: "failures", allowed: CampaignSpecParser.failuresKeys,
                                 context: "in failures")
        if let entry = fields["infra_patterns"], !isNull(entry.value) {
            policy.infraPatterns = try patterns(entry.value, "failures.infra_patterns")
        }
        if let entry = fields["user_patterns"], !isNull(entry.value) {
            policy.userPatterns = try patterns(entry.value, "failures.user_patterns")
        }
        if let entry = fields["circuit_breaker"] {
            policy.circuitBreakerTrials = try integer(entry.value, "failures.circuit_breaker")
        }
        if let entry = fields["quarantine_after"] {
            policy.quarantineAfter = try integer(entry.value, "failures.quarantine_after")
        }
    }

    /// A list of strings (each element any non-null scalar, as written).
    private mutating func patterns(_ node: Node, _ path: String) throws(SpecError) -> [String] {
        guard case .sequence(let sequence) = node else {
            throw typeMismatch(node, path, expected: "a list of strings, e.g. [\"NCCL WARN\", \"slurmstepd: error\"]")
        }
        var patterns: [String] = []
        for (index, element) in sequence.enumerated() {
            let elementPath = "\(path)[\(index)]"
            marks[elementPath] = Position(element.mark)
            patterns.append(try text(element, elementPath))
        }
        return patterns
    }

    /// `budget:`: hours, GPU-hours, and what happens when either is spent.
    mutating func readBudget(_ node: Node) throws(SpecError) -> Budget {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "budget", expected: "a mapping such as {hours: 72, gpu_hours: 500, on_exhausted: finish}")
        }
        marks["budget"] = Position(node.mark)
        let fields = try mapping(map, at: Position(node.mark), keyPath: "budget", allowed: ["hours", "gpu_hours", "on_exhausted"], context: "in budget")
        var budget = Budget()
        if let entry = fields["hours"] { budget.hours = try number(entry.value, "budget.hours") }
        if let entry = fields["gpu_hours"] { budget.gpuHours = try number(entry.value, "budget.gpu_hours") }
        if let entry = fields["on_exhausted"] {
            let value = try text(entry.value, "budget.on_exhausted")
            guard let policy = Budget.Exhausted(rawValue: value) else {
                throw invalidChoice(value, entry.value, "budget.on_exhausted", Budget.Exhausted.allCases.map(\.rawValue))
            }
            budget.onExhausted = policy
        }
        return budget
    }

    /// `agent:`: what an agent may do to the campaign (docs/agents.md, Policy).
    mutating func readAgentPolicy(_ node: Node) throws(SpecError) -> AgentPolicy {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "agent", expected: "a mapping such as {max_trials: 20, max_hours: 0, may_cancel: false}")
        }
        marks["agent"] = Position(node.mark)
        let fields = try mapping(
            map, at: Position(node.mark), keyPath: "agent", allowed: ["max_trials", "max_hours", "max_gpu_hours", "may_cancel"], context: "in agent")
        var policy = AgentPolicy()
        if let entry = fields["max_trials"] {
            let value = try integer(entry.value, "agent.max_trials")
            guard value >= 0, value <= CampaignLimits.maxTrials else {
                throw error(.invalidValue, at: Position(entry.value.mark), "agent.max_trials", "must be 0 to \(CampaignLimits.maxTrials)")
            }
            policy.maxTrials = value
        }
        for (key, limit) in [("max_hours", CampaignLimits.maxHours), ("max_gpu_hours", CampaignLimits.maxGPUHours)] {
            guard let entry = fields[key] else { continue }
            let value = try number(entry.value, "agent.\(key)")
            guard CampaignLimits.isAmount(value, atMost: limit) else {
                throw error(.invalidValue, at: Position(entry.value.mark), "agent.\(key)", "must be a number from 0 to \(Int(limit))")
            }
            if key == "max_hours" { policy.maxHours = value } else { policy.maxGPUHours = value }
        }
        if let entry = fields["may_cancel"] { policy.mayCancel = try boolean(entry.value, "agent.may_cancel") }
        return policy
    }
}
