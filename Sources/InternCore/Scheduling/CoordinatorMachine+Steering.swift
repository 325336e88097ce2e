/// Steering (cancel, add, pause), the budget, and the campaign's end.
extension CoordinatorMachine {
    /// Cancels a trial: a pending one ends at once; a running one is terminated on its worker
    /// (delivered in the worker's next heartbeat reply).
    public mutating func cancel(trial id: TrialID, now: Timestamp) -> Effects {
        var effects = Effects()
        guard trials[id].map({ !$0.status.isTerminal }) == true else { return settled(effects, now: now) }
        endEarly(trial: id, as: .cancelled, note: nil, now: now, effects: &effects)
        effects.changes.append(.event(CampaignEvent(kind: "trial.cancelled", message: "trial \(id) cancelled", trial: id, at: now)))
        effects.append(dispatch(now: now))
        effects.append(finishIfDone(now: now))
        return settled(effects, now: now)
    }

    /// `intern add`: enqueues `configurations` (each a full assignment of the space, run next, in
    /// order), adds `trials` more for the sampler to draw, and raises the budget. Returns what it
    /// did in words (the answer, `.said`), or why nothing was done (a configuration outside the
    /// space, a finished campaign).
    public mutating func add(
        configurations: [Parameters], trials: Int = 0, hours: Double = 0, gpuHours: Double = 0, now: Timestamp
    ) -> Effects {
        let effects = steer(configurations: configurations, trials: trials, hours: hours, gpuHours: gpuHours, now: now)
        return settled(effects, now: now)
    }

    private mutating func steer(
        configurations: [Parameters], trials: Int, hours: Double, gpuHours: Double, now: Timestamp
    ) -> Effects {
        var effects = Effects()
        func nothing(_ why: String) -> Effects {
            var effects = Effects()
            effects.answer = .declined(why)
            return effects
        }
        guard !isFinished else { return nothing("the campaign is finished; nothing added") }
        // A request comes from a person or a peer: every amount is checked before any arithmetic.
        guard trials >= 0, trials <= CampaignLimits.maxTrials, configurations.count <= CampaignLimits.maxTrials,
              CampaignLimits.isAmount(hours, atMost: CampaignLimits.maxHours),
              CampaignLimits.isAmount(gpuHours, atMost: CampaignLimits.maxGPUHours)
        else {
            return nothing("nothing added: --trials must be 0 to \(CampaignLimits.maxTrials), --hours 0 to \(Int(CampaignLimits.maxHours)), --gpu-hours 0 to \(Int(CampaignLimits.maxGPUHours))")
        }
        guard totalTrials + configurations.count + trials <= CampaignLimits.maxTrials else {
            return nothing("nothing added: a campaign has at most \(CampaignLimits.maxTrials) trials (it has \(totalTrials))")
        }
        guard adjustments.extraHours + hours <= CampaignLimits.maxHours, adjustments.extraGPUHours + gpuHours <= CampaignLimits.maxGPUHours else {
            return nothing("nothing added: the budget would exceed \(Int(CampaignLimits.maxHours)) hours or \(Int(CampaignLimits.maxGPUHours)) GPU-hours")
        }
        if trials > 0 || !configurations.isEmpty, let fed = feeder.fedStages.min(), let input = stages[fed].input {
            return nothing("nothing added: stage \(stages[fed].name) has already chosen from the trials of \(input.stage), so trials added now would never reach it")
        }
        let normalized = configurations.map(spec.space.normalized)
        if let index = normalized.firstIndex(where: { !spec.space.contains($0) }) {
            return nothing("nothing added: configuration \(index + 1) (\(normalized[index])) is not in the space")
        }
        // Enqueued configurations take the next trial numbers; the sampler continues after them.
        for parameters in normalized {
            let trial = TrialRecord(id: nextTrial, parameters: parameters, createdAt: now)
            nextTrial += 1
            record(trial)
            requeued.append(trial.id)
            effects.changes.append(.trial(trial))
        }
        meter.adjustments.addedTrials += normalized.count + trials
        // A raised budget may no longer be spent.
        meter.raise(hours: hours, gpuHours: gpuHours)
        if let end = meter.deadline(now: now, holding: gpuHoldings) { note(deadline: end) }
        var said: [String] = []
        if !normalized.isEmpty { said.append("\(normalized.count) configuration\(normalized.count == 1 ? "" : "s") enqueued") }
        if trials > 0 { said.append("\(trials) more trial\(trials == 1 ? "" : "s") to draw") }
        if hours > 0 { said.append("budget +\(hours) hours") }
        if gpuHours > 0 { said.append("budget +\(gpuHours) GPU-hours") }
        let outcome = said.isEmpty ? "nothing to add" : said.joined(separator: ", ") + " (\(totalTrials) trials in all)"
        effects.answer = .said(outcome)
        guard !said.isEmpty else { return effects }
        effects.changes.append(.campaignAdjusted(adjustments))
        effects.changes.append(.event(CampaignEvent(kind: "campaign.added", message: outcome, at: now)))
        effects.append(checkBudget(now: now))
        effects.append(dispatch(now: now))
        return effects
    }

    /// Pauses (`true`) or resumes (`false`) dispatch. Attempts in flight go on either way; a
    /// paused campaign's retries and new trials wait. No change when already so.
    public mutating func setPaused(_ paused: Bool, now: Timestamp) -> Effects {
        var effects = Effects()
        guard paused != isPaused, !isFinished else { return settled(effects, now: now) }
        isPaused = paused
        effects.changes.append(.campaignPaused(paused, at: now))
        if !paused { effects.append(dispatch(now: now)) }
        return settled(effects, now: now)
    }

    /// Ends a trial that has not ended (cancelled, pruned, stopped by the budget): its attempts in
    /// flight are stopped on their workers (in their next heartbeat reply), and nothing reruns it.
    mutating func endEarly(trial id: TrialID, as status: TrialStatus, note: String?, now: Timestamp, effects: inout Effects) {
        guard var trial = trials[id] else { return }
        for attemptID in active where attempts[attemptID]?.trial == id { cancelling.insert(attemptID) }
        trial.status = status
        trial.endedAt = now
        if let note { trial.note = note }
        record(trial)
        effects.changes.append(.trial(trial))
    }


    /// Stops dispatch once the budget is spent; with `on_exhausted: stop`, stops what runs too.
    mutating func checkBudget(now: Timestamp) -> Effects {
        var effects = Effects()
        guard !isFinished, let reason = meter.check(now: now, holding: gpuHoldings) else { return effects }
        let stopping = budget.onExhausted == .stop
        effects.changes.append(.event(CampaignEvent(
            kind: "campaign.budget",
            message: reason + (stopping ? ": stopping the \(attemptsInFlight) attempts in flight" : ": the \(attemptsInFlight) attempts in flight finish, nothing new starts"),
            at: now)))
        if stopping {
            for id in running.sorted() {
                endEarly(trial: id, as: .cancelled, note: "stopped: " + reason, now: now, effects: &effects)
            }
        }
        for token in parked.removeAll() {
            effects.replies.append(.init(token: token, reply: .noWork(.idle)))
        }
        effects.append(finishIfDone(now: now))
        return effects
    }

    mutating func finishIfDone(now: Timestamp) -> Effects {
        var effects = Effects()
        let queued = requeued.count
        validateEndedStages(now: now, effects: &effects)
        feedStages(now: now, effects: &effects)
        if requeued.count > queued { effects.append(dispatch(now: now)) }
        // Stopped (circuit breaker) with trials that would feed later stages: not finished;
        // running the campaign again feeds them.
        if stoppedReason != nil, feeder.hasPendingFeeds(totalTrials: totalTrials) { return effects }
        // Done when the first stage has drawn all its trials and no trial of any stage is open
        // (every waiting stage whose feeder ended has been fed first). A spent budget ends the
        // campaign once nothing is in flight, with the trials not run left as they are.
        let spent = budgetSpent != nil && running.isEmpty && active.isEmpty
        guard !isFinished, spent || (feeder.allEnded(totalTrials: totalTrials) && active.isEmpty)
        else { return effects }
        isFinished = true
        effects.changes.append(.campaignFinished(at: now))
        for token in parked.removeAll() {
            effects.replies.append(.init(token: token, reply: .noWork(.finished)))
        }
        return effects
    }
}
