/// Workers: hello, leases, heartbeats, drains; attempts taken back after a cut, or lost with their worker.
extension CoordinatorMachine {
    /// A worker introduced itself. A known worker with the same incarnation re-attaches (its
    /// attempts keep running); a new incarnation replaces the old one, whose attempts are lost.
    /// `held` are the attempts the worker still holds (running, or ended and not yet reported):
    /// those declared lost while it was cut off are taken back here, before any work request of
    /// its can hand their trials out again.
    public mutating func hello(
        worker id: WorkerID, incarnation: Incarnation, hostname: String, pid: Int, slots: Int, gpus: [String],
        cpus: Int = 0, memoryBytes: Int = 0, held: [AttemptID] = [], now: Timestamp
    ) -> Effects {
        var effects = Effects()
        if let known = registry[id], known.incarnation != incarnation, known.state != .lost {
            effects.append(loseWorker(id, reason: "worker \(id) restarted (new incarnation)", now: now))
        }
        let rejoining = registry[id]?.incarnation == incarnation
        var record = WorkerRecord(
            id: id, incarnation: incarnation, hostname: hostname, pid: pid, slots: max(1, slots), gpus: gpus,
            cpus: cpus, memoryBytes: memoryBytes, joinedAt: rejoining ? registry[id]!.joinedAt : now, lastSeen: now)
        if rejoining, registry[id]!.state == .draining { record.state = .draining }
        // Quarantined (its infra/oom failures succeeded elsewhere): it gets no work, whatever
        // incarnation it comes back as.
        if health.isQuarantined(id) { record.state = .draining }
        registry.join(record, rejoining: rejoining)
        note(deadline: now + config.leaseTimeoutMillis + 1)
        effects.changes.append(.worker(record))
        for (shortfall, stageNames) in shortfalls(of: record) {
            let what = stageNames.count == stages.count ? "it gets none" : "it gets no trials of stage \(stageNames.joined(separator: ", "))"
            effects.changes.append(.event(CampaignEvent(
                kind: "worker.too_small", message: "worker \(id) offers \(shortfall): \(what)", worker: id, at: now)))
        }
        effects.changes.append(.event(CampaignEvent(
            kind: rejoining ? "worker.reattached" : "worker.joined",
            message: "worker \(id) on \(hostname) (pid \(pid), \(record.slots) slots) \(rejoining ? "re-attached" : "joined")",
            worker: id, at: now)))
        if rejoining { effects.append(takeBack(held, worker: id, incarnation: incarnation, now: now)) }
        return settled(effects, now: now)
    }

    /// A request from this worker incarnation arrived: accepted (its lease is renewed, and the
    /// answer is nil) or refused.
    public mutating func touch(worker id: WorkerID, incarnation: Incarnation, now: Timestamp) -> Effects {
        var effects = Effects()
        if let refusal = registry.touch(id, incarnation: incarnation, now: now) { effects.answer = .refused(refusal) }
        return settled(effects, now: now)
    }

    /// Stops giving work to a worker (`intern drain`); it finishes what it runs.
    public mutating func drain(worker id: WorkerID, now: Timestamp) -> Effects {
        let effects = stopGivingWork(to: id, now: now)
        return settled(effects, now: now)
    }

    /// Drains a worker: its parked requests are answered, it gets nothing new.
    mutating func stopGivingWork(to id: WorkerID, now: Timestamp) -> Effects {
        guard registry[id]?.state == .active, let record = registry.setState(.draining, of: id) else { return Effects() }
        var effects = Effects()
        effects.changes.append(.worker(record))
        effects.changes.append(.event(CampaignEvent(kind: "worker.draining", message: "worker \(id) is draining", worker: id, at: now)))
        for token in parked.removeAll(of: id) {
            effects.replies.append(.init(token: token, reply: .noWork(.draining)))
        }
        return effects
    }

    /// A worker's heartbeat: renews its lease, confirms the attempts it runs, and collects the
    /// cancels meant for it.
    public mutating func heartbeat(
        worker id: WorkerID, incarnation: Incarnation, running: [AttemptID], leaving: Bool = false, now: Timestamp
    ) -> Effects {
        var answer = HeartbeatAnswer()
        var effects = Effects()
        if let refusal = registry.touch(id, incarnation: incarnation, now: now) {
            effects.answer = .refused(refusal)
            return settled(effects, now: now)
        }
        // Once the campaign is finished a leaving heartbeat is a worker's goodbye: nothing to stop.
        if leaving, !isFinished {
            // It takes no more work: its parked requests are answered, and what was assigned to
            // it but is not running there never will (the reply reached a closed request).
            effects.append(stopGivingWork(to: id, now: now))
            for attemptID in active.sorted() {
                guard var attempt = attempts[attemptID], attempt.worker == id, attempt.incarnation == incarnation,
                      attempt.status == .assigned, !running.contains(attemptID) else { continue }
                attempt.status = .preempted
                attempt.detail = "worker \(id) left before starting it"
                attempt.endedAt = now
                settleFailure(attempt, evidence: FailureEvidence(kind: .preempted, killedByIntern: true), now: now, effects: &effects)
            }
        }
        effects.append(takeBack(running, worker: id, incarnation: incarnation, now: now))
        for attemptID in running {
            guard var attempt = attempts[attemptID], attempt.worker == id, attempt.incarnation == incarnation,
                  !attempt.status.isTerminal
            else {
                // Not ours to run (lost and requeued, or from another life): stop it.
                answer.cancel.append(attemptID)
                toldToStop.insert(attemptID)
                continue
            }
            if attempt.status == .assigned {
                attempt.status = .running
                record(attempt)
                effects.changes.append(.attempt(attempt))
            }
            if cancelling.contains(attemptID) { answer.cancel.append(attemptID) }
        }
        answer.drain = registry[id]!.state == .draining
        answer.shutdown = isOver && running.isEmpty
        effects.answer = .heartbeat(answer)
        return settled(effects, now: now)
    }

    /// A worker incarnation speaks of attempts it still runs (in a heartbeat or a report). An
    /// attempt of that incarnation that was declared lost while the worker was cut off, and
    /// whose trial has not run again since, is taken back: it continues where it is instead of
    /// running twice. Any other lost attempt stays lost (the worker is told to stop it).
    mutating func takeBack(_ ids: [AttemptID], worker id: WorkerID, incarnation: Incarnation, now: Timestamp) -> Effects {
        var effects = Effects()
        for attemptID in ids {
            guard !toldToStop.contains(attemptID), var attempt = attempts[attemptID], attempt.status == .lost, attempt.worker == id,
                  registry.refusal(of: id, incarnation: incarnation) == nil, attempt.incarnation == incarnation,
                  var trial = trials[attempt.trial], trial.status == .pending,
                  !active.contains(where: { attempts[$0]?.trial == trial.id })
            else { continue }
            // Its GPUs went to another attempt meanwhile: it cannot continue (the worker is told to stop it).
            guard heldGPUs(onHostOf: id).isDisjoint(with: attempt.gpus) else {
                toldToStop.insert(attemptID)
                continue
            }
            attempt.status = .running
            attempt.detail = nil
            attempt.endedAt = nil
            attempt.failureClass = nil
            attempt.failureSignature = nil
            attempt.failureReason = nil
            attempt.signatureText = nil
            attempt.failureExcerpt = nil
            record(attempt)
            // The loss did not happen after all: its retry is given back.
            trial.status = .running
            trial.notBefore = nil
            trial.lostCount = max(0, trial.lostCount - 1)
            if trial.retryCounts[.lost] > 0 {
                trial.retryCounts.byClass[.lost]! -= 1
                trial.retriesUsed = max(0, trial.retriesUsed - 1)
                campaignRetriesUsed = max(0, campaignRetriesUsed - 1)
            }
            record(trial)
            requeued.removeAll { $0 == trial.id }
            effects.changes.append(.attempt(attempt))
            effects.changes.append(.trial(trial))
            effects.changes.append(.event(CampaignEvent(
                kind: "attempt.reattached",
                message: "attempt \(attempt.id) of trial \(trial.id) re-attached: worker \(id) still runs it after being cut off",
                trial: trial.id, attempt: attempt.id, worker: id, at: now)))
        }
        return effects
    }

    // MARK: - Time

    /// Advances time: expires leases and unconfirmed assignments, answers long-polls that
    /// waited long enough, checks the budget, and dispatches what became possible (a retry whose
    /// backoff passed). The shell calls it at the effects' `nextDeadline`; calling it at any
    /// other time is harmless.
    public mutating func tick(now: Timestamp) -> Effects {
        var effects = Effects()
        effects.append(checkBudget(now: now))
        for worker in registry.expired(now: now) {
            effects.append(loseWorker(worker.id, reason: "worker \(worker.id) missed its heartbeats for \(now - worker.lastSeen) ms", now: now))
        }
        for id in active.sorted() {
            guard let attempt = attempts[id], attempt.status == .assigned,
                  now - attempt.assignedAt > config.leaseTimeoutMillis else { continue }
            effects.append(loseAttempt(id, reason: "worker \(attempt.worker) never confirmed the assignment", now: now))
        }
        for token in parked.expire(now: now) {
            effects.replies.append(.init(token: token, reply: .noWork(.idle)))
        }
        effects.append(dispatch(now: now))
        effects.append(finishIfDone(now: now))
        // The one place every deadline is worked out again (what events noted may be stale).
        dueBy = nextDeadline(now: now)
        return settled(effects, now: now)
    }

    mutating func loseWorker(_ id: WorkerID, reason: String, now: Timestamp) -> Effects {
        var effects = Effects()
        guard let worker = registry.setState(.lost, of: id) else { return effects }
        effects.changes.append(.worker(worker))
        effects.changes.append(.event(CampaignEvent(kind: "worker.lost", message: reason, worker: id, at: now)))
        let held = active.filter { attempts[$0].map { $0.worker == id && $0.incarnation == worker.incarnation } ?? false }.sorted()
        // Those queued ahead first: while the attempt they wait behind is in flight they have
        // not started (losing that one first would count them as started).
        for attemptID in held.filter(queuedAhead.isQueued) + held.filter({ !queuedAhead.isQueued($0) }) {
            effects.append(loseAttempt(attemptID, reason: reason, now: now))
        }
        for token in parked.removeAll(of: id) {
            effects.replies.append(.init(token: token, reply: .refused(.unknownWorker)))
        }
        return effects
    }

    mutating func loseAttempt(_ id: AttemptID, reason: String, now: Timestamp) -> Effects {
        var effects = Effects()
        guard var attempt = attempts[id], !attempt.status.isTerminal else { return effects }
        // Queued ahead, not started: its loss says nothing of its trial and costs it no retry
        // of `lost`; it is handed back as never started (preempted, as when a worker leaves
        // before starting what it was assigned), and its trial runs again.
        let started = !queuedAhead.isQueued(id)
        attempt.status = started ? .lost : .preempted
        attempt.detail = started ? reason : "\(reason); it was queued ahead and had not started"
        attempt.endedAt = now
        cancelling.remove(id)
        effects.changes.append(.event(CampaignEvent(
            kind: "attempt.lost", message: attempt.detail!, trial: attempt.trial, attempt: id, worker: attempt.worker, at: now)))
        settleFailure(
            attempt, evidence: started ? FailureEvidence(kind: .lost) : FailureEvidence(kind: .preempted, killedByIntern: true),
            now: now, effects: &effects)
        return effects
    }
}
