/// Pipelines: later stages fed from their feeders' completed trials.
extension CoordinatorMachine {
    /// Feeds later stages: a streaming stage gets trials for each newly completed, feasible trial
    /// of its feeder; a waiting stage (`top:`, `barrier:`) gets its trials once its feeder has
    /// ended (its `top` best, or all). Runs after every change that may end a trial; feeding
    /// twice is impossible (each stage remembers the trials that fed it).
    mutating func feedStages(now: Timestamp, effects: inout Effects) {
        guard stages.count > 1, budgetSpent == nil, stoppedReason == nil else { return }
        for (consumer, parent) in feeder.takeStreamingFeeds() {
            feed(stage: consumer, from: parent, now: now, effects: &effects)
        }
        while let (index, feeder) = self.feeder.takeWaitingStageDue(totalTrials: totalTrials) {
            guard let input = stages[index].input else { continue }
            effects.changes.append(.stagesFed(self.feeder.fedStages.sorted()))
            var candidates = trials(where: { $0.isResult(ofStage: feeder) })
            var how = "every completed trial"
            if input.validated {
                // Only a best whose advantage held over its repeats; none when it did not.
                let verdict = validationVerdict(stage: feeder)
                candidates = verdict.flatMap { $0.isValidated ? $0.best : nil }.flatMap { trials[$0] }.map { [$0] } ?? []
                if candidates.isEmpty {
                    effects.changes.append(.event(CampaignEvent(
                        kind: "stage.fed",
                        message: "stage \(stages[index].name) runs nothing: \(stages[feeder].name) has no validated best (\(verdict?.summary ?? "nothing was repeated"))",
                        at: now)))
                    continue
                }
                how = "the validated best"
            } else if let top = input.top, let objective = stages[feeder].objective {
                candidates = candidates.filter { $0.objective != nil }.sorted { a, b in
                    a.objective! == b.objective! ? a.id < b.id : objective.isBetter(a.objective!, than: b.objective!)
                }
                candidates = Array(candidates.prefix(top))
                how = "the best \(top) by \(objective.metric)"
            } else {
                candidates.sort { $0.id < $1.id }
            }
            if input.reduce {
                // One trial for all of them: its parents are every completed trial of the feeder.
                effects.changes.append(.event(CampaignEvent(
                    kind: "stage.fed",
                    message: candidates.isEmpty
                        ? "stage \(stages[index].name) runs nothing: \(stages[feeder].name) ended with no completed, feasible trial"
                        : "stage \(stages[index].name) reduces the \(candidates.count) completed trial\(candidates.count == 1 ? "" : "s") of \(stages[feeder].name)",
                    at: now)))
                if !candidates.isEmpty { reduce(stage: index, from: candidates.map(\.id), now: now, effects: &effects) }
                continue
            }
            let chosen = candidates.map { "\($0.id)" }.joined(separator: ", ")
            effects.changes.append(.event(CampaignEvent(
                kind: "stage.fed",
                message: candidates.isEmpty
                    ? "stage \(stages[index].name) runs nothing: \(stages[feeder].name) ended with no completed, feasible trial"
                    : "stage \(stages[index].name) starts from \(how) of \(stages[feeder].name): trial\(candidates.count == 1 ? "" : "s") \(chosen)",
                at: now)))
            for parent in candidates { feed(stage: index, from: parent.id, now: now, effects: &effects) }
        }
    }

    /// Creates a reduce stage's one trial, fed by all of `parents` at once (its lineage names
    /// them all; its plan carries their outputs, ``ReduceInputs``).
    mutating func reduce(stage index: Int, from parents: [TrialID], now: Timestamp, effects: inout Effects) {
        guard let first = parents.first else { return }
        for parent in parents { self.feeder.feeding(index, from: parent) }
        openFedTrial(stage: index, ofInput: 0, parent: first, parents: parents, now: now, effects: &effects)
    }

    /// Creates a stage's trials for one input: the feeding trial's parameters and outputs, and
    /// the inputs it had itself, all named `stage.key`.
    mutating func feed(stage index: Int, from parent: TrialID, now: Timestamp, effects: inout Effects) {
        guard let source = trials[parent] else { return }
        self.feeder.feeding(index, from: parent)
        let feeder = stages[source.stage].name
        var inputs = source.inputs
        for (name, value) in source.parameters.values { inputs["\(feeder).\(name)"] = value.text }
        for (key, value) in source.outputs { inputs["\(feeder).\(key)"] = value }
        for number in 0..<stages[index].trials {
            openFedTrial(stage: index, ofInput: number, parent: parent, inputs: inputs, now: now, effects: &effects)
        }
    }

    /// Creates one trial of a fed stage, queued ahead of new draws.
    private mutating func openFedTrial(
        stage index: Int, ofInput number: Int, parent: TrialID, inputs: StageInputs = [:], parents: [TrialID] = [], now: Timestamp,
        effects: inout Effects
    ) {
        var trial = TrialRecord(id: nextTrial, parameters: draw(stage: index, ofInput: number), createdAt: now)
        nextTrial += 1
        trial.stage = index
        trial.parent = parent
        trial.inputs = inputs
        trial.parents = parents
        record(trial)
        requeued.append(trial.id)
        effects.changes.append(.trial(trial))
    }
}
