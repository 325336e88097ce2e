/// Reports: what of a report may be stored, and what its stored metrics and attempt ends mean for their trials.
extension CoordinatorMachine {
    /// A report arrives, carrying data (log frames, metric samples, provenance) about the
    /// attempts `dataAbout` and the ends of `endsOf`. First, data about an attempt lost while
    /// its worker was cut off takes it back when its trial has not run again (its output and end
    /// then count, once); then each attempt's data is accepted or refused, all kinds alike.
    /// The answer is the ``ReportAdmission`` (or a refusal: nothing is stored). Data refused
    /// about an attempt means the worker drops what it holds for it: it can no longer be
    /// re-attached. The shell stores what is accepted, then calls ``reportStored``.
    ///
    /// A report is two events around the store because the store decides what is new: a frame
    /// or a sample resent after a lost acknowledgement is stored once, and only what was stored
    /// for the first time counts.
    public mutating func admitReport(
        worker id: WorkerID, incarnation: Incarnation, dataAbout: Set<AttemptID>, endsOf: [AttemptID], now: Timestamp
    ) -> Effects {
        var effects = Effects()
        if let refusal = registry.touch(id, incarnation: incarnation, now: now) {
            effects.answer = .refused(refusal)
            return settled(effects, now: now)
        }
        effects.append(takeBack(dataAbout.union(endsOf).sorted(), worker: id, incarnation: incarnation, now: now))
        var admission = ReportAdmission()
        admission.accepted = dataAbout.filter { accepts(attempt: $0, from: id, incarnation: incarnation) }
        admission.unknown = dataAbout.subtracting(admission.accepted).sorted()
        toldToStop.formUnion(admission.unknown)
        effects.answer = .admitted(admission)
        return settled(effects, now: now)
    }

    /// A metric sample a report stored for the first time.
    public struct StoredSample: Sendable, Equatable {
        public var attempt: AttemptID
        public var name: String
        public var step: Int64
        public var value: Double

        public init(attempt: AttemptID, name: String, step: Int64, value: Double) {
            self.attempt = attempt
            self.name = name
            self.step = step
            self.value = value
        }
    }

    /// What a report stored (after ``admitReport``): the samples stored for the first time, in
    /// order (those of ``watchedMetrics`` count for objectives, constraints and early stopping;
    /// a resent sample is not seen again), then the attempts' ends, in order.
    public mutating func reportStored(
        samples: [StoredSample], ends: [AttemptResult], worker id: WorkerID, incarnation: Incarnation, now: Timestamp
    ) -> Effects {
        var effects = Effects()
        // A chatty job's report carries thousands of samples, in runs of one attempt: each run
        // looks its attempt up once.
        var start = samples.startIndex
        while start < samples.endIndex {
            let attempt = samples[start].attempt
            var end = start + 1
            while end < samples.endIndex, samples[end].attempt == attempt { end += 1 }
            effects.append(metricsStored(attempt: attempt, samples[start..<end], now: now))
            start = end
        }
        for end in ends {
            effects.append(attemptEnded(end, worker: id, incarnation: incarnation, now: now))
        }
        return settled(effects, now: now)
    }


    /// Whether the coordinator stores data (log frames, metrics) about this attempt from this
    /// worker incarnation. Data about an attempt that belongs to someone else is fenced off.
    public func accepts(attempt id: AttemptID, from worker: WorkerID, incarnation: Incarnation) -> Bool {
        guard let attempt = attempts[id] else { return false }
        return attempt.worker == worker && attempt.incarnation == incarnation && attempt.status != .lost
    }

    /// A metric sample newly stored for an attempt (worker-parsed, in order, each sample once):
    /// it counts for the objective, for a constraint, and for early stopping, as the spec says.
    /// The shell passes every such sample of a metric in ``watchedMetrics``.
    public mutating func metricStored(attempt id: AttemptID, name: String, step: Int64, value: Double, now: Timestamp) -> Effects {
        let sample = StoredSample(attempt: id, name: name, step: step, value: value)
        return settled(metricsStored(attempt: id, [sample][...], now: now), now: now)
    }

    /// Samples newly stored for one attempt, in order: each as ``metricStored`` says, with the
    /// attempt read once and written once (and around each early-stopping point, which may end it).
    mutating func metricsStored(attempt id: AttemptID, _ run: ArraySlice<StoredSample>, now: Timestamp) -> Effects {
        var effects = Effects()
        guard var attempt = attempts[id], let trial = trials[attempt.trial] else { return effects }
        let stage = stages[trial.stage]
        var changed = false
        // The stage's few metric names are compared directly: cheaper than hashing each name.
        for sample in run {
            if sample.name == stage.objective?.metric {
                changed = Self.observeObjective(sample.value, of: stage, in: &attempt) || changed
            }
            if stage.constraints.contains(where: { $0.metric == sample.name }) || stage.extraObjectives.contains(where: { $0.metric == sample.name }) {
                changed = Self.observeConstraintMetric(sample.name, sample.value, of: stage, in: &attempt) || changed
            }
            if sample.name == stage.pruning?.metric {
                if changed { record(attempt) }
                changed = false
                effects.append(intermediateObserved(attempt: id, step: sample.step, value: sample.value, now: now))
                guard let current = attempts[id] else { return effects }
                attempt = current
            }
        }
        if changed { record(attempt) }
        return effects
    }

    static func watchedMetrics(of stages: [Stage]) -> Set<String> {
        var names: Set<String> = []
        for stage in stages {
            names.formUnion(stage.constraints.map(\.metric))
            names.formUnion(stage.objectives.map(\.metric))
            if let pruning = stage.pruning { names.insert(pruning.metric) }
        }
        return names
    }

    /// The objective metric of its stage was reported for an attempt (worker-parsed, in order):
    /// whether the attempt's objective changed.
    static func observeObjective(_ value: Double, of stage: Stage, in attempt: inout AttemptRecord) -> Bool {
        guard let objective = stage.objective, !value.isNaN else { return false }
        if objective.summary == .best {
            // An infinite value is a blow-up, never a best (a run that ends infinite is diverged).
            guard value.isFinite else { return false }
            if let current = attempt.objective, !objective.isBetter(value, than: current) { return false }
        }
        attempt.objective = value
        return true
    }

    /// The pruning metric was reported for an attempt at `step` (worker-parsed, in order, each
    /// point once). A trial the rule stops is marked `pruned` and its attempt is stopped on its
    /// worker (delivered in the worker's next heartbeat reply, like a cancel).
    mutating func intermediateObserved(attempt id: AttemptID, step: Int64, value: Double, now: Timestamp) -> Effects {
        var effects = Effects()
        guard let attempt = attempts[id], !attempt.status.isTerminal, let trial = trials[attempt.trial], trial.status == .running,
              pruners[trial.stage] != nil, let reason = pruners[trial.stage]!.observe(trial: attempt.trial, step: step, value: value)
        else { return effects }
        endEarly(trial: attempt.trial, as: .pruned, note: "pruned: " + reason, now: now, effects: &effects)
        if let pruned = trials[attempt.trial] { recordPruned(pruned, step: step, value: value) }
        effects.changes.append(.event(CampaignEvent(
            kind: "trial.pruned", message: "trial \(attempt.trial) pruned: \(reason)", trial: attempt.trial, attempt: id, at: now)))
        effects.append(dispatch(now: now))
        effects.append(finishIfDone(now: now))
        return effects
    }

    /// A constrained metric, or an objective after the first, was reported for an attempt: a
    /// constraint judges its last value; an objective keeps its last or best, as it says.
    /// Whether the attempt changed.
    static func observeConstraintMetric(_ name: String, _ value: Double, of stage: Stage, in attempt: inout AttemptRecord) -> Bool {
        guard !attempt.status.isTerminal else { return false }
        if let objective = stage.extraObjectives.first(where: { $0.metric == name }) {
            guard !value.isNaN, value.isFinite || objective.summary == .last else { return false }
            if objective.summary == .best, let current = attempt.constraintValues[name], !objective.isBetter(value, than: current) { return false }
        } else if !stage.constraints.contains(where: { $0.metric == name }) {
            return false
        }
        attempt.constraintValues[name] = value
        return true
    }

    /// An attempt's process ended. Its trial completes, is retried within the budget, or fails.
    /// An end for an attempt that is unknown, fenced, or already terminal is recorded as an
    /// event and changes nothing (so a repeated report is harmless).
    public mutating func attemptEnded(_ end: AttemptResult, worker id: WorkerID, incarnation: Incarnation, now: Timestamp) -> Effects {
        var effects = Effects()
        guard var attempt = attempts[end.attempt], attempt.worker == id, attempt.incarnation == incarnation else {
            effects.changes.append(.event(CampaignEvent(
                kind: "attempt.end_fenced", message: "ignored the end of attempt \(end.attempt) from \(id): not its attempt",
                attempt: end.attempt, worker: id, at: now)))
            return settled(effects, now: now)
        }
        guard !attempt.status.isTerminal else {
            if attempt.status == .lost {
                effects.changes.append(.event(CampaignEvent(
                    kind: "attempt.late_end", message: "attempt \(attempt.id) ended after it was declared lost; not counted",
                    trial: attempt.trial, attempt: attempt.id, worker: id, at: now)))
            }
            return settled(effects, now: now)
        }
        cancelling.remove(attempt.id)
        attempt.status = end.outcome.attemptStatus
        attempt.startedAt = end.startedAt
        attempt.endedAt = end.endedAt
        attempt.wallMillis = end.wallMillis
        attempt.userCPUMillis = end.userCPUMillis
        attempt.systemCPUMillis = end.systemCPUMillis
        attempt.peakRSSBytes = end.peakRSSBytes
        switch end.outcome {
        case .exited(let code): attempt.exitCode = code
        case .signaled(let signal): attempt.signal = signal
        case .failedToStart(let reason): attempt.detail = reason
        case .timedOut:
            let timeout = trials[attempt.trial].flatMap { stages[$0.stage].timeoutSeconds }
            attempt.detail = "timed out after \(timeout.map { "\($0) s" } ?? "its timeout")"
        case .cancelled: attempt.detail = "cancelled"
        case .preempted: attempt.detail = "preempted: worker \(id) was leaving"
        }
        attempt.outputs = end.outputs
        let stageIndex = trials[attempt.trial]?.stage
        let stage = stageIndex.map { stages[$0] }
        if let stageIndex { coverage.reported(end.metrics.keys, stage: stageIndex) }
        let declared = (stage?.outputs ?? []) + (stage?.resultFiles.keys.sorted() ?? [])
        let missing = attempt.status == .succeeded ? declared.filter { end.outputs[$0] == nil } : []
        let nonFinite = attempt.status == .succeeded ? stage.map { Self.nonFiniteEnds(end.metrics, of: $0) } ?? [] : []
        if !missing.isEmpty {
            // It exited 0 but did not produce what later stages need: a failure of the job.
            attempt.status = .failed
            settleFailure(attempt, evidence: FailureEvidence(kind: .missingOutputs(missing), logTail: end.logTail), now: now, effects: &effects)
        } else if !nonFinite.isEmpty {
            // It exited 0 but its objective or its loss ended NaN or infinite: it diverged.
            attempt.status = .failed
            settleFailure(attempt, evidence: FailureEvidence(kind: .nonFiniteMetrics(nonFinite), logTail: end.logTail), now: now, effects: &effects)
        } else if attempt.status == .succeeded, let stage, let stageIndex {
            record(attempt)
            effects.changes.append(.attempt(attempt))
            var trial = trials[attempt.trial]!
            breaker.recordSuccess(trial: trial.id, parameters: breakerPairs(trial))
            effects.append(quarantine(health.recordSuccess(worker: attempt.worker, trial: trial.id), now: now))
            if trial.status == .running {
                trial.status = .completed
                trial.objective = attempt.objective
                trial.outputs = attempt.outputs
                trial.endedAt = now
                var shortfall: Double?
                if !stage.constraints.isEmpty {
                    shortfall = Constraint.shortfall(of: stage.constraints, values: attempt.constraintValues)
                    let violation = Constraint.violation(of: stage.constraints, values: attempt.constraintValues)
                    trial.feasible = violation == nil
                    if let violation {
                        trial.note = "infeasible: " + violation
                        effects.changes.append(.event(CampaignEvent(
                            kind: "trial.infeasible", message: "trial \(trial.id) is infeasible: \(violation)", trial: trial.id, at: now)))
                    }
                }
                record(trial, shortfall: shortfall)
                effects.changes.append(.trial(trial))
                for metric in coverage.trialCompleted(stage: stageIndex) {
                    effects.changes.append(.event(CampaignEvent(kind: "metric.missing", message: metric.message, trial: trial.id, at: now)))
                }
            }
        } else if let kind = FailureEvidence.Kind(end.outcome) {
            let killedByIntern: Bool = switch end.outcome {
            case .timedOut, .preempted, .cancelled: true
            default: false
            }
            settleFailure(
                attempt, evidence: FailureEvidence(kind: kind, killedByIntern: killedByIntern, logTail: end.logTail, peakRSSBytes: end.peakRSSBytes),
                now: now, effects: &effects)
        } else {
            // Cancelled: its trial was cancelled (or the attempt fenced) already.
            record(attempt)
            effects.changes.append(.attempt(attempt))
            var trial = trials[attempt.trial]!
            if trial.status == .running {
                trial.status = .pending
                requeued.append(trial.id)
                record(trial)
                effects.changes.append(.trial(trial))
            }
        }
        effects.append(dispatch(now: now))
        effects.append(finishIfDone(now: now))
        return settled(effects, now: now)
    }

    /// The metrics of `stage` that ended NaN or infinite although the job exited 0: its
    /// objectives', and any whose name says it is a loss (`loss`, `eval_loss`, `val_loss`), as
    /// `name = value` in name order. Other metrics may be non-finite on purpose (`grad_norm` when
    /// mixed precision skips a step).
    static func nonFiniteEnds(_ last: [String: Double], of stage: Stage) -> [String] {
        let objectives = Set(stage.objectives.map(\.metric))
        return last.filter { name, value in
            !value.isFinite && (objectives.contains(name) || name.lowercased().contains("loss"))
        }
        .sorted { $0.key < $1.key }
        .map { "\($0.key) = \($0.value.isNaN ? "nan" : ($0.value > 0 ? "inf" : "-inf"))" }
    }
}
