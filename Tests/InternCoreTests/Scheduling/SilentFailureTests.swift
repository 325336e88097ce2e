import InternCore
import InternTestKit
import Testing

/// What a campaign must say out loud: an objective, constraint or pruning metric that no trial
/// reports (a misspelt name), and a run that exits 0 with its objective or loss ending NaN.
@Suite struct SilentFailureTests {
    static func stage(objective: String = "eval_loss", pruning: String? = nil, constraints: [String] = []) -> Stage {
        Stage(
            name: "train", command: CommandTemplate(argv: ["train"]), trials: 4,
            objective: Objective(metric: objective, direction: .minimize),
            pruning: pruning.map { PruningPolicy(rule: .asha, metric: $0, direction: .minimize) },
            constraints: constraints.map { Constraint(metric: $0, comparison: .atMost, bound: 1) })
    }

    // MARK: MetricCoverage

    @Test func aMetricNoCompletedTrialReported_isMissing_withWhatWasSeenAndTheClosestName() {
        var coverage = MetricCoverage(stages: [Self.stage(objective: "eval_los", pruning: "eval_los", constraints: ["toxicity"])])
        #expect(coverage.missing.isEmpty)  // nothing completed yet: nothing to say
        coverage.reported(["loss", "eval_loss", "epoch", "toxicity"], stage: 0)
        let fresh = coverage.trialCompleted(stage: 0)
        #expect(fresh.map(\.metric) == ["eval_los"])
        let missing = try! #require(fresh.first)
        #expect(missing.roles == [.objective, .pruning])
        #expect(missing.suggestion == "eval_loss")
        #expect(missing.seen == ["epoch", "eval_loss", "loss", "toxicity"])
        #expect(missing.message == "no trial has reported eval_los, its objective and pruning metric, after 1 completed trial; seen: epoch, eval_loss, loss, toxicity; did you mean eval_loss?")
        // Said once.
        #expect(coverage.trialCompleted(stage: 0).isEmpty)
        #expect(coverage.missing.first?.completedTrials == 2)
        #expect(coverage.objectiveMissing(stage: 0))
        // Reported at last: no longer missing.
        coverage.reported(["eval_los"], stage: 0)
        #expect(coverage.missing.isEmpty)
    }

    @Test func jobsThatPrintNothingReadable_areSaidSo() {
        var coverage = MetricCoverage(stages: [Self.stage()])
        let missing = coverage.trialCompleted(stage: 0)
        #expect(missing.first?.message.contains("the jobs printed no metric intern could read") == true)
        #expect(missing.first?.suggestion == nil)
    }

    @Test func aJobPrintingEverNewNames_cannotGrowTheCoverageWithoutBound() {
        var coverage = MetricCoverage(stages: [Self.stage()])
        coverage.reported((0..<5_000).map { "metric_\($0)" }, stage: 0)
        _ = coverage.trialCompleted(stage: 0)
        #expect(coverage.missing.first?.seen.count == MetricCoverage.maxSeenNames)
        // The message names a dozen and counts the rest.
        #expect(coverage.missing.first?.message.contains("(+988 more)") == true)
        // The names counted on are still recognised past the bound.
        coverage.reported(["eval_loss"], stage: 0)
        #expect(coverage.missing.isEmpty)
    }

    @Test func suggestionsFindSuffixesAfterASeparator() {
        #expect(NameSuggestion.closest(to: "accuracy", among: ["eval_accuracy", "loss"]) == "eval_accuracy")
        #expect(NameSuggestion.closest(to: "margins", among: ["rewards/margins"]) == "rewards/margins")
        #expect(NameSuggestion.closest(to: "loss", among: ["accuracy", "epoch"]) == nil)
    }

    @Test func eachStageCountsOnItsOwnMetrics() {
        var eval = Self.stage(objective: "accuracy")
        eval.name = "eval"
        var coverage = MetricCoverage(stages: [Self.stage(), eval])
        coverage.reported(["eval_loss"], stage: 0)
        coverage.reported(["eval_loss"], stage: 1)  // stage 1 counts on accuracy, not eval_loss
        #expect(coverage.trialCompleted(stage: 0).isEmpty)
        let missing = coverage.trialCompleted(stage: 1)
        #expect(missing.map(\.metric) == ["accuracy"])
        #expect(missing.first?.message.hasPrefix("no trial in stage eval has reported accuracy") == true)
    }

    // MARK: The machine

    static func spec(objective: String) -> CampaignSpec {
        CampaignSpec(
            name: "silent", command: CommandTemplate(argv: ["train", "{trial}"]), workdir: "/tmp", space: ParameterSpace(),
            sampler: .random(seed: 1), trials: 3, objective: Objective(metric: objective, direction: .minimize),
            failurePolicy: FailurePolicy(backoffSeconds: 0))
    }

    /// Runs one attempt to its end with these last metric values; returns the end's effects.
    static func run(_ machine: inout CoordinatorMachine, metrics: [String: Double], code: Int32 = 0, request: UInt64) -> (AttemptPlan, Effects) {
        let token = RequestToken(request)
        let effects = machine.requestWork(token: token, worker: "w", incarnation: 1, requestID: request, now: 0)
        guard case .assignment(let plan)? = effects.replies.first?.reply else { fatalError("no assignment") }
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
            _ = machine.metricStored(attempt: plan.attempt, name: name, step: 0, value: value, now: 0)
        }
        var end = AttemptResult(attempt: plan.attempt, outcome: .exited(code), startedAt: 0, endedAt: 1, wallMillis: 1)
        end.metrics = metrics
        return (plan, machine.attemptEnded(end, worker: "w", incarnation: 1, now: 1))
    }

    @Test func aRunThatExitsZeroWithItsLossNaN_isDiverged_neverTheBest() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(objective: "eval_loss"))
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let (good, _) = Self.run(&machine, metrics: ["eval_loss": 2.5, "loss": 2.4], request: 1)
        // The objective's last value was finite before; the run still ended NaN.
        let (nanRun, effects) = Self.run(&machine, metrics: ["eval_loss": .nan, "loss": .nan, "grad_norm": .nan], request: 2)
        #expect(machine.trials[nanRun.trial]?.status == .failed)
        #expect(machine.attempts[nanRun.attempt]?.failureClass == .diverged)
        let failed = effects.changes.compactMap { change -> AttemptRecord? in if case .attempt(let a) = change { a } else { nil } }.last
        #expect(failed?.failureReason == "exited 0, but its last eval_loss = nan, loss = nan", "\(failed?.failureReason ?? "-")")

        // A loss that ended infinite, the objective finite: diverged too.
        let (infRun, _) = Self.run(&machine, metrics: ["eval_loss": 3, "train_loss": .infinity], request: 3)
        #expect(machine.attempts[infRun.attempt]?.failureClass == .diverged)
        #expect(machine.bestTrial?.id == good.trial)
    }

    @Test func nonFiniteMetricsThatAreNotLossesOrObjectives_doNotFailARun() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(objective: "accuracy"))
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let (plan, _) = Self.run(&machine, metrics: ["accuracy": 0.5, "grad_norm": .nan, "lr": .infinity], request: 1)
        #expect(machine.trials[plan.trial]?.status == .completed)
    }

    @Test func theFirstCompletedTrialWithoutTheObjective_emitsOneEvent() throws {
        var machine = try CoordinatorMachine(spec: Self.spec(objective: "eval_los"))
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let (_, first) = Self.run(&machine, metrics: ["eval_loss": 2.5], request: 1)
        let events = first.changes.compactMap { change -> CampaignEvent? in if case .event(let e) = change { e } else { nil } }
        let missing = events.filter { $0.kind == "metric.missing" }
        #expect(missing.count == 1)
        #expect(missing.first?.message.contains("did you mean eval_loss?") == true)
        let (_, second) = Self.run(&machine, metrics: ["eval_loss": 2.4], request: 2)
        #expect(!second.changes.contains { if case .event(let e) = $0 { e.kind == "metric.missing" } else { false } })
        #expect(machine.coverage.objectiveMissing(stage: 0))
    }

    @Test func aRestoredMachine_knowsWhatWasReported_andDoesNotSayItAgain() throws {
        let spec = Self.spec(objective: "eval_los")
        var trial = TrialRecord(id: 1, parameters: [:], createdAt: 0)
        trial.status = .completed
        var (machine, _) = try CoordinatorMachine.restore(
            spec: spec, trials: [trial], attempts: [], reportedMetrics: [0: ["eval_loss"]], now: 0)
        #expect(machine.coverage.missing.map(\.metric) == ["eval_los"])
        #expect(machine.coverage.missing.first?.suggestion == "eval_loss")
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let (_, effects) = Self.run(&machine, metrics: ["eval_loss": 1], request: 1)
        #expect(!effects.changes.contains { if case .event(let e) = $0 { e.kind == "metric.missing" } else { false } })
    }

    @Test func theClassifierCallsANonFiniteEndDiverged() {
        let diagnosis = FailureClassifier().classify(FailureEvidence(kind: .nonFiniteMetrics(["eval_loss = nan"])))
        #expect(diagnosis.failureClass == .diverged)
        #expect(diagnosis.reason == "exited 0, but its last eval_loss = nan")
    }
}
