/// Failures: a failed, lost or preempted attempt's class, and its trial's retry or end.
extension CoordinatorMachine {
    /// Records a failed, lost or preempted attempt with its class and signature, feeds the
    /// circuit breaker and worker health, and decides its trial: retried (after its backoff,
    /// within the budgets of its class, the trial and the campaign) or failed, with why.
    mutating func settleFailure(_ attempt: AttemptRecord, evidence: FailureEvidence, now: Timestamp, effects: inout Effects) {
        var attempt = attempt
        let diagnosis = classifier.classify(evidence)
        let failure = diagnosis.failureClass
        let signature = diagnosis.signature ?? FailureSignature.make(fallback: "\(failure): \(Self.describe(attempt))")
        attempt.failureClass = failure
        attempt.failureSignature = signature.digest
        attempt.failureReason = diagnosis.reason
        attempt.signatureText = signature.text
        attempt.failureExcerpt = signature.excerpt
        record(attempt)
        effects.changes.append(.attempt(attempt))

        guard var trial = trials[attempt.trial] else { return }
        health.recordFailure(worker: attempt.worker, trial: trial.id, failure: failure)
        if let trip = breaker.record(
            failure: failure, signature: signature.digest, trial: trial.id, parameters: breakerPairs(trial),
            summary: signature.excerpt) {
            effects.changes.append(.event(CampaignEvent(kind: "circuit.tripped", message: trip.reason, trial: trial.id, at: now)))
            if trip.blocksAll, stoppedReason == nil {
                // Nothing more is dispatched; workers learn it now, running attempts finish.
                stoppedReason = trip.reason
                effects.changes.append(.campaignStopped(reason: trip.reason, at: now))
                for token in parked.removeAll() {
                    effects.replies.append(.init(token: token, reply: .noWork(.finished)))
                }
            }
        }
        guard trial.status == .running else { return }
        if failure == .lost { trial.lostCount += 1 }
        switch spec.retryDecision(for: failure, trial: trial.retryCounts, campaignRetriesUsed: campaignRetriesUsed) {
        case .retry(let after, let consumesBudget):
            trial.retryCounts.record(failure)
            if consumesBudget {
                trial.retriesUsed += 1
                campaignRetriesUsed += 1
            }
            trial.status = .pending
            trial.notBefore = after > 0 ? now + after : nil
            if let notBefore = trial.notBefore { note(deadline: notBefore) }
            requeued.append(trial.id)
            effects.changes.append(.event(CampaignEvent(
                kind: "trial.retried",
                message: "trial \(trial.id) runs again\(after > 0 ? " in \(Double(after) / 1000) s" : ""): attempt \(attempt.id) \(failure) (\(diagnosis.reason))",
                trial: trial.id, attempt: attempt.id, at: now)))
        case .giveUp(let why):
            trial.status = .failed
            trial.endedAt = now
            trial.note = "\(failure): \(diagnosis.reason); \(why)"
        }
        record(trial)
        effects.changes.append(.trial(trial))
    }

    /// How an attempt ended, in words, for a signature when its log says nothing.
    static func describe(_ attempt: AttemptRecord) -> String {
        if let code = attempt.exitCode { return "exit code \(code)" }
        if let signal = attempt.signal { return "signal \(signal)" }
        return attempt.status.rawValue
    }

    /// Workers newly found unhealthy stop getting work (they drain), with why.
    mutating func quarantine(_ ids: [WorkerID], now: Timestamp) -> Effects {
        var effects = Effects()
        for id in ids {
            let reason = health.quarantined[id] ?? "too many infra/oom failures that succeeded elsewhere"
            effects.changes.append(.event(CampaignEvent(kind: "worker.quarantined", message: "worker \(id) quarantined: \(reason)", worker: id, at: now)))
            effects.append(drain(worker: id, now: now))
        }
        return effects
    }
}
