/// Validation (`validate:`): once a stage has ended, its best configurations, and its baseline,
/// run again with new seeds, as ordinary trials of the stage (see ``ValidationPolicy`` for the
/// seeds, ``ValidationVerdict`` for the judgement).
extension CoordinatorMachine {
    /// Gives every stage with `validate:` that has ended, and has not been validated yet, its
    /// repeats. Runs after every change that may end a trial, before later stages are fed (so a
    /// stage waiting on a validated one waits for the repeats too).
    mutating func validateEndedStages(now: Timestamp, effects: inout Effects) {
        guard budgetSpent == nil, stoppedReason == nil else { return }
        for index in stages.indices where !validatedStages.contains(index) {
            guard let policy = stages[index].validation, feeder.hasEnded(stage: index, totalTrials: totalTrials) else { continue }
            _ = scheduleValidation(of: index, policy: policy, actor: nil, now: now, effects: &effects)
        }
    }

    /// `intern validate --results`: validates the selection stage's best now, with `top` and
    /// `repeats` (default: the stage's `validate:`, else 3 and 3), whether or not the stage has
    /// ended. Answers with what it did (`.said`) or why not (`.declined`). `reopen`: a finished
    /// campaign (not a stopped one) takes it too and is no longer finished (the coordinator
    /// passes it for the requests waiting when it starts, before it would end).
    public mutating func validate(top: Int?, repeats: Int?, actor: String? = nil, reopen: Bool = false, now: Timestamp) -> Effects {
        var effects = Effects()
        let reopening = reopen && isFinished && stoppedReason == nil
        guard !isOver || reopening else {
            effects.answer = .declined("the campaign is over; nothing to validate now")
            return settled(effects, now: now)
        }
        guard let index = spec.selectionStage, stages[index].extraObjectives.isEmpty else {
            effects.answer = .declined("the campaign has no single objective to validate a best by")
            return settled(effects, now: now)
        }
        let declared = stages[index].validation
        let policy = ValidationPolicy(
            top: top ?? declared?.top ?? 3, repeats: repeats ?? declared?.repeats ?? 3, seedParameter: declared?.seedParameter)
        guard (1...1000).contains(policy.top), (2...1000).contains(policy.repeats), policy.top >= 2 || stages[index].baseline != nil else {
            effects.answer = .declined("nothing validated: top must be 2 to 1000 (1 with a baseline), repeats 2 to 1000")
            return settled(effects, now: now)
        }
        let queued = requeued.count
        let (configurations, count) = scheduleValidation(of: index, policy: policy, actor: actor, now: now, effects: &effects)
        if reopening, count > 0 {
            isFinished = false
            effects.changes.append(.campaignReopened)
        }
        effects.answer = count == 0
            ? .declined("nothing validated: stage \(stages[index].name) has no completed, feasible trial with \(stages[index].objective?.metric ?? "an objective") yet")
            : .said("\(count) repeat trials queued to validate the best \(configurations) of stage \(stages[index].name)")
        if requeued.count > queued { effects.append(dispatch(now: now)) }
        return settled(effects, now: now)
    }

    /// Creates the repeats of a stage's `policy.top` best completed, feasible first results (and
    /// of its baseline), `policy.repeats` each, queued next; returns how many configurations
    /// (the baseline apart) and how many trials. Each repeat keeps
    /// its original's parameters (the seed parameter set to the repeat's seed), feeding trial and
    /// inputs; a baseline in a fed stage takes the best's inputs (the same upstream run, its own
    /// parameters).
    mutating func scheduleValidation(
        of index: Int, policy: ValidationPolicy, actor: String?, now: Timestamp, effects: inout Effects
    ) -> (configurations: Int, trials: Int) {
        let stage = stages[index]
        guard let objective = stage.objective else { return (0, 0) }
        let candidates = trials(where: { $0.isResult(ofStage: index) && $0.objective != nil })
            .sorted { a, b in a.objective! == b.objective! ? a.id < b.id : objective.isBetter(a.objective!, than: b.objective!) }
            .prefix(policy.top)
        guard let best = candidates.first else { return (0, 0) }
        validatedStages.insert(index)
        var seeded = stage
        seeded.validation = policy
        var runs: [(of: TrialRecord?, parameters: Parameters)] = candidates.map { (Optional($0), $0.parameters) }
        if let baseline = stage.baseline { runs.append((nil, stage.space.normalized(baseline))) }
        var created: [TrialID] = []
        for run in runs {
            // Asked again (`intern validate --results`), a configuration's repeats continue its
            // numbering, and so get new seeds.
            let previous = trials(where: { $0.stage == index && $0.isRepeat }).filter { $0.repeatOf == run.of?.id }.compactMap(\.repeatNumber).max() ?? 0
            for number in (previous + 1)...(previous + policy.repeats) {
                let seed = ValidationPolicy.seed(repeat: number, of: seeded)
                var parameters = run.parameters
                if let name = policy.seedParameter { parameters[name] = .int(seed) }
                var trial = TrialRecord(id: nextTrial, parameters: parameters, createdAt: now)
                nextTrial += 1
                trial.stage = index
                trial.parent = run.of?.parent ?? best.parent
                trial.inputs = run.of?.inputs ?? best.inputs
                trial.repeatOf = run.of?.id
                trial.repeatNumber = number
                trial.seed = seed
                record(trial)
                requeued.append(trial.id)
                effects.changes.append(.trial(trial))
                created.append(trial.id)
            }
        }
        let originals = candidates.map { "\($0.id)" }.joined(separator: ", ")
        effects.changes.append(.event(CampaignEvent(
            kind: "stage.validating",
            message: "stage \(stage.name) validates its best \(candidates.count) by \(objective.metric) (trial\(candidates.count == 1 ? "" : "s") \(originals))"
                + (stage.baseline == nil ? "" : " and its baseline") + ": \(policy.repeats) repeats each with new seeds, trials \(created.first!)-\(created.last!)",
            at: now, actor: actor)))
        return (candidates.count, created.count)
    }

    /// The verdict on a stage's validation so far (`nil`: nothing repeated yet).
    public func validationVerdict(stage index: Int) -> ValidationVerdict? {
        // A stage has repeats exactly when it is in `validatedStages` (``record(_:shortfall:)``):
        // a campaign without validation pays no walk of its trials for every progress snapshot.
        guard validatedStages.contains(index), let objective = stages[index].objective else { return nil }
        return ValidationVerdict.judge(trials(where: { $0.stage == index }), objective: objective)
    }
}
