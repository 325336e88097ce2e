import Foundation
import InternCore
import InternStore
import Logging

/// Control requests people make through the store (`intern cancel`, `drain`, `add`, `pause`, `resume`).
extension Coordinator {
    /// Carries out what admin commands asked for through the store (`intern cancel`, `intern drain`).
    func applyControlRequests() {
        guard let requests = try? store.pendingControlRequests(), !requests.isEmpty else { return }
        let now = Self.now()
        for request in requests {
            // Taken before it is applied: a request whose handling stopped the coordinator is
            // never replayed into the next one.
            guard (try? store.take(request.id, now: now)) != nil else { return }
            let outcome: String
            switch request.kind {
            case .cancelTrial:
                if let id = Int(request.target), let trial = machine.trials[id], !trial.status.isTerminal {
                    carryOut(machine.cancel(trial: id, now: now))
                    outcome = "cancelled"
                } else {
                    outcome = "trial \(request.target) is not pending or running"
                }
            case .drainWorker:
                let worker = WorkerID(request.target)
                if machine.workers[worker]?.state == .active {
                    carryOut(machine.drain(worker: worker, now: now))
                    outcome = "draining"
                } else {
                    outcome = "worker \(request.target) is not active"
                }
            case .add:
                if let add = try? JSONDecoder().decode(AddRequest.self, from: Data(request.target.utf8)) {
                    let effects = machine.add(
                        configurations: add.configurations, trials: add.trials, hours: add.hours, gpuHours: add.gpuHours, now: now)
                    carryOut(effects)
                    outcome = effects.said ?? "nothing added"
                } else {
                    outcome = "nothing added: the request is not valid JSON for intern add"
                }
            case .pauseCampaign, .resumeCampaign:
                let pause = request.kind == .pauseCampaign
                if machine.isFinished {
                    outcome = "the campaign is finished"
                } else if machine.isPaused == pause {
                    outcome = pause ? "already paused" : "not paused"
                } else {
                    carryOut(machine.setPaused(pause, now: now))
                    outcome = pause
                        ? "paused: no new attempts; \(machine.attemptsInFlight) running go on"
                        : "resumed"
                }
            }
            try? store.markHandled(request.id, outcome: outcome, now: now)
            logger.info("control request", metadata: ["kind": "\(request.kind.rawValue)", "target": "\(request.target)", "outcome": "\(outcome)"])
        }
    }
}
