/// An agent's steering, held to the guardrails: each configuration it proposes is checked against
/// the space, the trials that ran and the failure memory, and what it adds against the agent
/// policy, before anything is applied (docs/agents.md, Guardrails).
extension CoordinatorMachine {
    /// What became of one proposed configuration.
    public enum ProposalVerdict: Sendable, Equatable {
        /// Nothing speaks against it: it is enqueued.
        case accepted
        /// A trial already ran (or runs, or waits to run) this very configuration: it is answered
        /// with that trial, not run again.
        case ranAlready(TrialID, String)
        /// Refused, with why (the failure's signature and excerpt, the limit).
        case refused(String)
    }

    /// Checks proposed configurations (already normalized to the space) in order: outside the
    /// space; the same as an earlier one of the same request; the same as a trial of the first
    /// stage that failed with a `user` error (refused with its signature and excerpt) or that ran
    /// otherwise (answered with it); in a region a tripped circuit breaker blocks.
    public func review(_ configurations: [Parameters]) -> [ProposalVerdict] {
        guard !configurations.isEmpty else { return [] }
        // The first stage's trials by configuration (the first of equal ones), and each trial's
        // latest `user` failure.
        var byConfiguration: [Parameters: TrialID] = [:]
        for trial in trials.values where trial.stage == 0 && byConfiguration[trial.parameters] == nil {
            byConfiguration[trial.parameters] = trial.id
        }
        var userFailure: [TrialID: AttemptRecord] = [:]
        for attempt in attempts.values where attempt.failureClass == .user {
            if let known = userFailure[attempt.trial], known.id > attempt.id { continue }
            userFailure[attempt.trial] = attempt
        }
        var seen: [Parameters: Int] = [:]
        return configurations.enumerated().map { index, configuration in
            defer { if seen[configuration] == nil { seen[configuration] = index + 1 } }
            guard spec.space.contains(configuration) else { return .refused(outsideSpace(configuration)) }
            if let earlier = seen[configuration] { return .refused("the same as configuration \(earlier) of this request") }
            if let id = byConfiguration[configuration], let trial = trials[id] {
                if trial.status == .failed, let failure = userFailure[id] {
                    return .refused("trial \(id) ran this configuration and failed with a user error, \(Self.signature(failure)); change what caused it before proposing it again")
                }
                return .ranAlready(id, Self.outcome(of: trial))
            }
            let probe = TrialRecord(id: 0, parameters: configuration, createdAt: 0)
            if let trip = breaker.trips.first(where: { $0.blocks(breakerPairs(probe)) }) {
                return .refused("the circuit breaker blocks it: \(trip.reason)")
            }
            return .accepted
        }
    }

    /// Why a configuration is not in the space: missing or unknown names, a value outside its domain.
    func outsideSpace(_ configuration: Parameters) -> String {
        let names = spec.space.parameters.map(\.name)
        let missing = names.filter { configuration[$0] == nil }, unknown = configuration.names.filter { !names.contains($0) }
        var why: [String] = []
        if !missing.isEmpty { why.append("missing \(missing.joined(separator: ", "))") }
        if !unknown.isEmpty { why.append("unknown \(unknown.joined(separator: ", "))") }
        if why.isEmpty {
            let outside = spec.space.parameters.filter { parameter in configuration[parameter.name].map { !parameter.domain.contains($0) } ?? false }
            why.append("outside its domain: " + outside.map { "\($0.name) (\($0.domain.summary))" }.joined(separator: ", "))
        }
        return "not in the space: " + why.joined(separator: "; ")
    }

    /// `signature 3fa2b9c1 (ModuleNotFoundError: …)`.
    static func signature(_ attempt: AttemptRecord) -> String {
        var text = "signature \(attempt.failureSignature.map { String($0.prefix(8)) } ?? "unknown")"
        if let excerpt = attempt.failureExcerpt ?? attempt.failureReason, !excerpt.isEmpty {
            text += ": " + String(excerpt.prefix(300))
        }
        return text
    }

    /// A trial's state in a few words: `completed, objective 0.312`, `running`, `completed, infeasible`.
    static func outcome(of trial: TrialRecord) -> String {
        var text = trial.status.rawValue
        if trial.feasible == false { text += ", infeasible (broke a constraint)" }
        if let objective = trial.objective { text += ", objective \(objective)" }
        if let note = trial.note, trial.status != .completed { text += ": " + String(note.prefix(200)) }
        return text
    }

    /// An agent's `add` (`actor` an `agent:` name), held to the guardrails: every configuration is
    /// reviewed (``review(_:)``); the accepted ones and the trials and budget it adds must fit
    /// `policy` (resolved: the spec's, tightened by the request's), or nothing is applied; every outcome is
    /// an event with the actor. The answer lists what became of each configuration and is
    /// `.declined` when anything was refused.
    public mutating func add(
        configurations: [Parameters], trials: Int, hours: Double, gpuHours: Double, actor: String, policy: AgentPolicy, now: Timestamp
    ) -> Effects {
        let normalized = configurations.map(spec.space.normalized)
        let verdicts = review(normalized)
        let accepted = zip(normalized, verdicts).compactMap { $1 == .accepted ? $0 : nil }
        var effects = Effects()
        var lines: [String] = []
        var declined = verdicts.contains { if case .refused = $0 { true } else { false } }
        if let refusal = policy.refusal(trials: accepted.count + trials, hours: hours, gpuHours: gpuHours, used: adjustments) {
            lines.append("refused: " + refusal)
            declined = true
        } else if !accepted.isEmpty || trials > 0 || hours > 0 || gpuHours > 0 {
            let first = nextTrial
            let steered = add(configurations: accepted, trials: trials, hours: hours, gpuHours: gpuHours, now: now)
            if steered.declined {
                lines.append("refused: " + (steered.said ?? ""))
                declined = true
            } else {
                effects.append(steered.attributed(to: actor))
                meter.adjustments.agentTrials += accepted.count + trials
                meter.adjustments.agentHours += hours
                meter.adjustments.agentGPUHours += gpuHours
                effects.changes.append(.campaignAdjusted(adjustments))
                lines.append(steered.said ?? "")
                var next = first
                for (index, verdict) in verdicts.enumerated() where verdict == .accepted {
                    lines.append("configuration \(index + 1) (\(normalized[index])): enqueued as trial \(next)")
                    next += 1
                }
            }
        } else if verdicts.isEmpty {
            lines.append("nothing to add")
        }
        for (index, verdict) in verdicts.enumerated() {
            switch verdict {
            case .accepted: continue
            case .ranAlready(let trial, let outcome):
                lines.append("configuration \(index + 1) (\(normalized[index])): already trial \(trial) (\(outcome)); not run again")
            case .refused(let why):
                lines.append("configuration \(index + 1) (\(normalized[index])): refused: \(why)")
            }
        }
        let unapplied = lines.filter { $0.hasPrefix("refused") || $0.contains(": refused: ") || $0.contains(": already trial ") }
        if !unapplied.isEmpty {
            effects.changes.append(.event(CampaignEvent(
                kind: declined ? "agent.refused" : "agent.answered", message: "\(actor): " + unapplied.joined(separator: "; "), at: now, actor: actor)))
        }
        let text = lines.joined(separator: "\n")
        effects.answer = declined ? .declined(text) : .said(text)
        return settled(effects, now: now)
    }
}
