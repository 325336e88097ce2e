import Foundation
import InternCore
import InternStore
import Logging

/// Control requests people make through the store (`intern cancel`, `drain`, `add`, `pause`, `resume`, `validate --results`).
extension Coordinator {
    /// Carries out what admin commands asked for through the store (`intern cancel`, `intern drain`).
    func applyControlRequests() {
        guard let requests = try? store.pendingControlRequests(), !requests.isEmpty else { return }
        let now = Self.now()
        for request in requests {
            // Taken before it is applied: a request whose handling stopped the coordinator is
            // never replayed into the next one.
            guard (try? store.take(request.id, now: now)) != nil else { return }
            var outcome: String
            var refused = false
            let actor = request.actor
            let agent = AgentPolicy.isAgent(actor)
            let policy = machine.spec.agentPolicy.tightened(by: request.policy ?? AgentPolicy()).resolved(specTrials: machine.spec.trials)
            switch request.kind {
            case .cancelTrial:
                if agent, policy.mayCancel != true {
                    outcome = "refused: this campaign's agent policy does not let agents cancel trials (agent.may_cancel)"
                    refused = true
                    carryOut(Effects.event(CampaignEvent(kind: "agent.refused", message: "\(actor ?? ""): cancel trial \(request.target): \(outcome)", at: now, actor: actor)))
                } else if let id = Int(request.target), let trial = machine.trials[id], !trial.status.isTerminal {
                    carryOut(machine.cancel(trial: id, now: now).attributed(to: actor))
                    outcome = "cancelled"
                } else {
                    outcome = "trial \(request.target) is not pending or running"
                    refused = true
                }
            case .drainWorker:
                let worker = WorkerID(request.target)
                if machine.workers[worker]?.state == .active {
                    carryOut(machine.drain(worker: worker, now: now).attributed(to: actor))
                    outcome = "draining"
                } else {
                    outcome = "worker \(request.target) is not active"
                    refused = true
                }
            case .add:
                if let add = try? JSONDecoder().decode(AddRequest.self, from: Data(request.target.utf8)) {
                    let effects = if let actor, agent {
                        machine.add(
                            configurations: add.configurations, trials: add.trials, hours: add.hours, gpuHours: add.gpuHours,
                            actor: actor, policy: policy, now: now)
                    } else {
                        machine.add(
                            configurations: add.configurations, trials: add.trials, hours: add.hours, gpuHours: add.gpuHours, now: now
                        ).attributed(to: actor)
                    }
                    carryOut(effects)
                    outcome = effects.said ?? "nothing added"
                    refused = effects.declined
                } else {
                    outcome = "nothing added: the request is not valid JSON for intern add"
                    refused = true
                }
            case .validate:
                let amounts = Self.validationAmounts(request.target)
                let effects = machine.validate(top: amounts.top, repeats: amounts.repeats, actor: actor, now: now)
                carryOut(effects)
                outcome = effects.said ?? "nothing validated"
                refused = effects.declined
            case .pauseCampaign, .resumeCampaign:
                let pause = request.kind == .pauseCampaign
                if machine.isFinished {
                    outcome = "the campaign is finished"
                    refused = true
                } else if machine.isPaused == pause {
                    outcome = pause ? "already paused" : "not paused"
                } else {
                    carryOut(machine.setPaused(pause, now: now).attributed(to: actor))
                    outcome = pause
                        ? "paused: no new attempts; \(machine.attemptsInFlight) running go on"
                        : "resumed"
                }
            }
            try? store.markHandled(request.id, outcome: outcome, refused: refused, now: now)
            logger.info("control request", metadata: [
                "kind": "\(request.kind.rawValue)", "target": "\(request.target)", "actor": "\(actor ?? "")", "outcome": "\(outcome)"])
        }
    }
}
