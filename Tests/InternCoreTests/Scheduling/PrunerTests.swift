import InternCore
import Testing

/// Early stopping rules, and the coordinator's logic stopping a pruned trial's attempt.
@Suite struct PrunerTests {
    @Test func asha_keepsTheBestThirdAtEachRung() {
        var pruner = Pruner(policy: PruningPolicy(rule: .asha, metric: "loss", direction: .minimize, minStep: 1, reduction: 3))
        #expect(pruner.rungStep(0) == 1 && pruner.rungStep(1) == 3 && pruner.rungStep(2) == 9)
        // Rung 0 (step 1): the first trial always goes on; afterwards the best ⌊n/3⌋ do.
        #expect(pruner.observe(trial: 1, step: 1, value: 0.5) == nil)
        #expect(pruner.observe(trial: 2, step: 1, value: 0.9) != nil)  // 2 values: keep 1; 0.9 is not it
        #expect(pruner.observe(trial: 3, step: 1, value: 0.4) == nil)  // the best so far
        #expect(pruner.observe(trial: 4, step: 1, value: 0.45) != nil) // keep ⌊4/3⌋ = 1: 0.4
        for trial in 5...9 { _ = pruner.observe(trial: trial, step: 1, value: 1.0 + Double(trial)) }
        #expect(pruner.observe(trial: 10, step: 1, value: 0.45) == nil) // keep ⌊10/3⌋ = 3: 0.4, 0.45, 0.45
        // Steps between rungs judge nothing; a step past several rungs is judged at the highest.
        #expect(pruner.observe(trial: 1, step: 2, value: 5) == nil)
        #expect(pruner.observe(trial: 1, step: 3, value: 0.3) == nil)
        #expect(pruner.observe(trial: 3, step: 4, value: 0.35) != nil)
        // A trial is judged once per rung; NaN is the worst value.
        #expect(pruner.observe(trial: 3, step: 3, value: 0.1) == nil)
        #expect(pruner.observe(trial: 10, step: 9, value: 0.3) == nil) // alone at rung 2
        #expect(pruner.observe(trial: 1, step: 9, value: .nan) != nil)
    }

    @Test func median_stopsTrialsWorseThanTheMedianOnceEnoughReported() {
        var pruner = Pruner(policy: PruningPolicy(rule: .median, metric: "acc", direction: .maximize, minStep: 2, minTrials: 3))
        for trial in 1...3 { #expect(pruner.observe(trial: trial, step: 1, value: 0.1) == nil) }  // warm-up
        #expect(pruner.observe(trial: 1, step: 2, value: 0.5) == nil)
        #expect(pruner.observe(trial: 2, step: 2, value: 0.6) == nil)
        #expect(pruner.observe(trial: 3, step: 2, value: 0.7) == nil)   // only 2 others so far
        let reason = pruner.observe(trial: 4, step: 2, value: 0.55)     // median of 0.5, 0.6, 0.7 is 0.6
        #expect(reason?.contains("median 0.6") == true, "\(String(describing: reason))")
        #expect(pruner.observe(trial: 5, step: 2, value: 0.65) == nil)
    }

    @Test func aPrunedTrialsAttemptIsStoppedOnItsWorker_andTheCampaignGoesOn() throws {
        var spec = CoordinatorMachineTests.spec(trials: 3, objective: Objective(metric: "loss", direction: .minimize))
        spec.pruning = PruningPolicy(rule: .asha, metric: "loss", direction: .minimize, minStep: 1, reduction: 2)
        var machine = try CoordinatorMachine(spec: spec)
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], now: 0)
        let a = try #require(CoordinatorMachineTests.plan(machine.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 0), for: RequestToken(1)))
        let b = try #require(CoordinatorMachineTests.plan(machine.requestWork(token: RequestToken(2), worker: "w", incarnation: 1, requestID: 2, now: 0), for: RequestToken(2)))
        #expect(machine.metricStored(attempt: a.attempt, name: "loss", step: 1, value: 0.2, now: 1).changes.isEmpty)
        let pruned = machine.metricStored(attempt: b.attempt, name: "loss", step: 1, value: 0.9, now: 2)
        #expect(machine.trials[b.trial]?.status == .pruned)
        #expect(machine.trials[b.trial]?.note?.hasPrefix("pruned: ASHA rung 0") == true)
        #expect(pruned.changes.contains { if case .event(let e) = $0 { e.kind == "trial.pruned" } else { false } })
        let answer = try #require(machine.heartbeat(worker: "w", incarnation: 1, running: [a.attempt, b.attempt], now: 3).heartbeatAnswer)
        #expect(answer.cancel == [b.attempt])
        // Its end (cancelled) changes nothing more and is not retried; the slot's next request gets trial 3.
        _ = machine.attemptEnded(AttemptResult(attempt: b.attempt, outcome: .cancelled, startedAt: 0, endedAt: 4, wallMillis: 4),
                                 worker: "w", incarnation: 1, now: 4)
        #expect(machine.trials[b.trial]?.status == .pruned)
        let next = machine.requestWork(token: RequestToken(3), worker: "w", incarnation: 1, requestID: 3, now: 5)
        #expect(CoordinatorMachineTests.plan(next, for: RequestToken(3))?.trial == 3)
        #expect(machine.progress.pruned == 1)
    }

    /// A restarted coordinator replays the stored points: it judges the next one as the original would.
    @Test func replayedPointsJudgeLikeTheOriginal() throws {
        var spec = CoordinatorMachineTests.spec(trials: 4, objective: Objective(metric: "loss", direction: .minimize))
        spec.pruning = PruningPolicy(rule: .asha, metric: "loss", direction: .minimize, minStep: 1, reduction: 2)
        var (restored, _) = try CoordinatorMachine.restore(
            spec: spec, trials: [], attempts: [], pruningPoints: [(trial: 10, step: 1, value: 0.2), (trial: 11, step: 1, value: 0.3)], now: 0)
        _ = restored.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let plan = try #require(CoordinatorMachineTests.plan(
            restored.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 0), for: RequestToken(1)))
        // Three values at rung 0: ⌊3/2⌋ = 1 is kept (0.2); 0.25 is not it. Without the replay it would be alone, and kept.
        _ = restored.metricStored(attempt: plan.attempt, name: "loss", step: 1, value: 0.25, now: 1)
        #expect(restored.trials[plan.trial]?.status == .pruned)
        var fresh = try CoordinatorMachine(spec: spec)
        _ = fresh.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let other = try #require(CoordinatorMachineTests.plan(
            fresh.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 0), for: RequestToken(1)))
        _ = fresh.metricStored(attempt: other.attempt, name: "loss", step: 1, value: 0.25, now: 1)
        #expect(fresh.trials[other.trial]?.status == .running)
    }

    /// A report's samples, in runs of several attempts (each run read and written once), count as
    /// the same samples one by one: the best objective, a constraint's last value, an extra
    /// objective's best, and a trial pruned in the middle of a run (its attempt runs on until it is
    /// stopped, so its later samples still count).
    @Test func aReportsRunsOfSamplesCountAsTheSamplesOneByOne() throws {
        var spec = CoordinatorMachineTests.spec(trials: 4, objective: Objective(metric: "loss", direction: .minimize, summary: .best))
        spec.pruning = PruningPolicy(rule: .asha, metric: "loss", direction: .minimize, minStep: 1, reduction: 2)
        spec.constraints = [Constraint(metric: "mem", comparison: .atMost, bound: 10)]
        spec.extraObjectives = [Objective(metric: "acc", direction: .maximize, summary: .best)]
        func started() throws -> (CoordinatorMachine, [AttemptID]) {
            var machine = try CoordinatorMachine(spec: spec)
            _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 3, gpus: [], now: 0)
            var attempts: [AttemptID] = []
            for n in 1...3 {
                let plan = try #require(CoordinatorMachineTests.plan(
                    machine.requestWork(token: RequestToken(UInt64(n)), worker: "w", incarnation: 1, requestID: UInt64(n), now: 0),
                    for: RequestToken(UInt64(n))))
                attempts.append(plan.attempt)
            }
            return (machine, attempts)
        }
        var (together, ids) = try started()
        var (oneByOne, _) = try started()
        let (a, b, c) = (ids[0], ids[1], ids[2])
        typealias Sample = CoordinatorMachine.StoredSample
        let samples: [Sample] = [
            Sample(attempt: a, name: "loss", step: 1, value: 0.3), Sample(attempt: a, name: "mem", step: 1, value: 4),
            Sample(attempt: a, name: "acc", step: 1, value: 0.5), Sample(attempt: a, name: "loss", step: 2, value: 0.1),
            Sample(attempt: a, name: "acc", step: 2, value: 0.4), Sample(attempt: a, name: "other", step: 2, value: 9),
            Sample(attempt: b, name: "loss", step: 1, value: 0.2), Sample(attempt: b, name: "mem", step: 1, value: 12),
            // c's first loss is worse than the others' at rung 0: pruned there, mid-run.
            Sample(attempt: c, name: "mem", step: 1, value: 3), Sample(attempt: c, name: "loss", step: 1, value: 0.9),
            Sample(attempt: c, name: "mem", step: 2, value: 20), Sample(attempt: c, name: "loss", step: 2, value: 0.05),
            Sample(attempt: a, name: "loss", step: 3, value: 0.2), Sample(attempt: a, name: "mem", step: 3, value: 6),
            Sample(attempt: .max, name: "loss", step: 1, value: 0),
        ]
        let effects = together.reportStored(samples: samples, ends: [], worker: "w", incarnation: 1, now: 5)
        var events: [String] = []
        for sample in samples {
            let one = oneByOne.metricStored(attempt: sample.attempt, name: sample.name, step: sample.step, value: sample.value, now: 5)
            for case .event(let event) in one.changes { events.append(event.kind) }
        }
        var togetherEvents: [String] = []
        for case .event(let event) in effects.changes { togetherEvents.append(event.kind) }
        #expect(togetherEvents == events)
        #expect(events.contains("trial.pruned"))
        for id in ids {
            let (x, y) = (try #require(together.attempts[id]), try #require(oneByOne.attempts[id]))
            #expect(x.objective == y.objective && x.constraintValues == y.constraintValues && x.status == y.status, "attempt \(id)")
            #expect(together.trials[x.trial]?.status == oneByOne.trials[y.trial]?.status)
        }
        #expect(together.attempts[a]?.objective == 0.1)
        #expect(together.attempts[a]?.constraintValues == ["mem": 6, "acc": 0.5])
        #expect(together.attempts[b]?.constraintValues == ["mem": 12])
        #expect(together.trials[together.attempts[c]!.trial]?.status == .pruned)
        #expect(together.attempts[c]?.constraintValues["mem"] == 20)
    }
}
