import InternCore
import InternTestKit
import Testing

/// Pipelines in the coordinator's logic: later stages fed by earlier ones, streaming or waiting,
/// with inputs, lineage and restore.
@Suite struct PipelineTests {
    /// train (2 trials, declares `checkpoint`) -> eval (each, as it completes) -> select (the best eval).
    static func spec(trainTrials: Int = 2, evalFrom: StageInput = StageInput(stage: "train"), constraints: [Constraint] = []) -> CampaignSpec {
        var spec = CampaignSpec(
            name: "pipe", command: CommandTemplate(argv: ["train", "--lr", "{lr}"]), workdir: "/tmp",
            space: ParameterSpace([Parameter(name: "lr", domain: .choice([.double(0.1), .double(0.2), .double(0.3)]))]),
            sampler: .grid, trials: trainTrials, objective: Objective(metric: "loss", direction: .minimize))
        spec.outputs = ["checkpoint"]
        spec.stageName = "train"
        spec.laterStages = [
            Stage(name: "eval", command: CommandTemplate(argv: ["eval", "{train.checkpoint}", "{train.lr}"]),
                  objective: Objective(metric: "acc", direction: .maximize), constraints: constraints, input: evalFrom),
            Stage(name: "select", command: CommandTemplate(argv: ["select", "{train.checkpoint}"]),
                  input: StageInput(stage: "eval", top: 1)),
        ]
        return spec
    }

    final class Run {
        var machine: CoordinatorMachine
        var token: UInt64 = 0

        init(_ spec: CampaignSpec) throws {
            machine = try CoordinatorMachine(spec: spec)
            _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        }

        /// The next assignment for the worker's one slot, or `nil`.
        func next(now: Timestamp = 1) -> AttemptPlan? {
            token += 1
            return CoordinatorMachineTests.plan(
                machine.requestWork(token: RequestToken(token), worker: "w", incarnation: 1, requestID: token, now: now),
                for: RequestToken(token))
        }

        /// Reports `metrics` and ends the attempt with `code` and `outputs`.
        @discardableResult
        func finish(_ plan: AttemptPlan, metrics: [String: Double] = [:], outputs: [String: String] = [:], code: Int32 = 0, now: Timestamp = 2) -> Effects {
            for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
                _ = machine.metricStored(attempt: plan.attempt, name: name, step: 1, value: value, now: now)
            }
            var end = AttemptResult(attempt: plan.attempt, outcome: .exited(code), startedAt: now, endedAt: now, wallMillis: 1)
            end.outputs = outputs
            return machine.attemptEnded(end, worker: "w", incarnation: 1, now: now)
        }
    }

    @Test func aCompletedTrialFeedsTheNextStageAtOnceWithItsOutputsAndParameters() throws {
        let run = try Run(Self.spec())
        let train1 = try #require(run.next())
        #expect(train1.argv == ["train", "--lr", "0.1"])
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["checkpoint": "/runs/1/model.pt"])
        // Streaming: the eval of trial 1 runs before train's second trial is even drawn.
        let eval1 = try #require(run.next())
        let record = try #require(run.machine.trials[eval1.trial])
        #expect(record.stage == 1 && record.parent == train1.trial)
        #expect(record.inputs == ["train.checkpoint": "/runs/1/model.pt", "train.lr": "0.1"])
        #expect(eval1.argv == ["eval", "/runs/1/model.pt", "0.1"])
        let environment = Dictionary(uniqueKeysWithValues: eval1.environment.map { ($0.0, $0.1) })
        #expect(environment["INTERN_INPUT_TRAIN_CHECKPOINT"] == "/runs/1/model.pt")
        #expect(environment["INTERN_STAGE"] == "eval")
        #expect(environment["INTERN_PARENT_TRIAL"] == String(train1.trial))
        #expect(run.machine.trials.values.count { $0.stage == 0 } == 1)
    }

    @Test func aWaitingStageStartsOnceItsFeederEndedWithItsBestFeasibleTrial() throws {
        let run = try Run(Self.spec(constraints: [Constraint(parsing: "worst >= 0.8")!]))
        let train1 = try #require(run.next())
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        let eval1 = try #require(run.next())
        // The better eval is infeasible: it cannot be selected.
        run.finish(eval1, metrics: ["acc": 0.99, "worst": 0.5])
        #expect(run.machine.trials[eval1.trial]?.feasible == false)
        let train2 = try #require(run.next())
        #expect(run.machine.trials[train2.trial]?.stage == 0)
        run.finish(train2, metrics: ["loss": 0.4], outputs: ["checkpoint": "/c/2"])
        let eval2 = try #require(run.next())
        #expect(run.machine.trials.values.count { $0.stage == 2 } == 0)
        let fed = run.finish(eval2, metrics: ["acc": 0.9, "worst": 0.85])
        // eval has ended: select gets its best feasible trial, with the inputs eval had.
        #expect(fed.changes.contains { if case .event(let e) = $0 { e.kind == "stage.fed" && e.message.contains("trial \(eval2.trial)") } else { false } })
        let select = try #require(run.next())
        #expect(select.argv == ["select", "/c/2"])
        #expect(run.machine.trials[select.trial]?.parent == eval2.trial)
        #expect(!run.machine.isFinished)
        let done = run.finish(select)
        #expect(run.machine.isFinished)
        #expect(done.changes.contains { if case .campaignFinished = $0 { true } else { false } })
        // The campaign's best is the selection stage's (eval, the last with an objective).
        #expect(run.machine.bestTrial?.id == eval2.trial)
        #expect(run.machine.progress.completed == 5 && run.machine.progress.total == 5)
    }

    /// A stage waiting on a waiting stage is not fed when its feeder is fed (its feeder's trials
    /// have only just opened), but once they have ended.
    @Test func aWaitingStageOnAWaitingStageWaitsForItsTrialsToEnd() throws {
        let run = try Run(Self.spec(evalFrom: StageInput(stage: "train", barrier: true)))
        let train1 = try #require(run.next())
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        let train2 = try #require(run.next())
        let fed = run.finish(train2, metrics: ["loss": 0.4], outputs: ["checkpoint": "/c/2"])
        let events = fed.changes.compactMap { if case .event(let e) = $0, e.kind == "stage.fed" { e.message } else { nil } }
        #expect(events.count == 1 && events.first?.hasPrefix("stage eval starts from every completed trial") == true)
        let eval1 = try #require(run.next())
        run.finish(eval1, metrics: ["acc": 0.7])
        let eval2 = try #require(run.next())
        #expect(run.machine.trials.values.filter { $0.stage == 2 }.isEmpty)
        run.finish(eval2, metrics: ["acc": 0.9])
        let select = try #require(run.next())
        #expect(run.machine.trials[select.trial]?.stage == 2)
        #expect(run.machine.trials[select.trial]?.parent == eval2.trial)
    }

    @Test func aSuccessWithoutADeclaredOutputIsAUserFailureAndFeedsNothing() throws {
        let run = try Run(Self.spec(trainTrials: 1))
        let train1 = try #require(run.next())
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["other": "x"])
        let attempt = try #require(run.machine.attempts[train1.attempt])
        #expect(attempt.status == .failed && attempt.failureClass == .user)
        #expect(attempt.failureReason?.contains("checkpoint") == true)
        #expect(run.machine.trials[train1.trial]?.status == .failed)
        // Nothing to feed: both later stages end empty, and so does the campaign.
        #expect(run.machine.trials.count == 1)
        #expect(run.machine.isFinished)
    }

    @Test func aBarrierStageWaitsForEveryTrialOfItsFeeder() throws {
        let run = try Run(Self.spec(evalFrom: StageInput(stage: "train", barrier: true)))
        let train1 = try #require(run.next())
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        let train2 = try #require(run.next())
        #expect(run.machine.trials[train2.trial]?.stage == 0)
        run.finish(train2, metrics: ["loss": 0.4], outputs: ["checkpoint": "/c/2"])
        let eval1 = try #require(run.next())
        let eval2 = try #require(run.next())
        #expect([eval1, eval2].map { run.machine.trials[$0.trial]?.parent } == [train1.trial, train2.trial])
    }

    @Test func aRestartFeedsWhatACrashLeftUnfedAndNeverFeedsTwice() throws {
        let spec = Self.spec()
        let run = try Run(spec)
        let train1 = try #require(run.next())
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        let eval1 = try #require(run.machine.trials.values.first { $0.stage == 1 })
        // The store as a restart finds it: with the eval trial, and (a crash before it was stored) without.
        let trials = Array(run.machine.trials.values)
        let attempts = Array(run.machine.attempts.values)
        let (withChild, _) = try CoordinatorMachine.restore(spec: spec, trials: trials, attempts: attempts, now: 10)
        #expect(withChild.trials.values.count { $0.stage == 1 } == 1)
        let (withoutChild, effects) = try CoordinatorMachine.restore(
            spec: spec, trials: trials.filter { $0.id != eval1.id }, attempts: attempts, now: 10)
        let fed = withoutChild.trials.values.filter { $0.stage == 1 }
        #expect(fed.count == 1 && fed.first?.parent == train1.trial && fed.first?.inputs["train.checkpoint"] == "/c/1")
        #expect(effects.changes.contains { if case .trial(let t) = $0 { t.stage == 1 } else { false } })
        // A stored trial of a stage the spec lacks is refused, not misread.
        var stray = eval1
        stray.stage = 7
        #expect(throws: CampaignProblem.self) { try CoordinatorMachine.restore(spec: spec, trials: [stray], attempts: [], now: 10) }
    }

    @Test func specProblemsNameTheStageAndWhatIsWrong() {
        var spec = Self.spec()
        #expect(spec.problems().isEmpty)
        spec.laterStages[0].input = StageInput(stage: "select")
        #expect(spec.problems().contains { $0.keyPath == "stages[1].from" && $0.message.contains("not an earlier stage") })
        spec = Self.spec()
        spec.laterStages[0].command = CommandTemplate(argv: ["eval", "{train.weights}"])
        #expect(spec.problems().contains { $0.keyPath == "stages[1].command[1]" && $0.message.contains("train.weights") })
        spec = Self.spec()
        spec.laterStages[1].input = StageInput(stage: "train", top: 2)
        spec.objective = nil
        #expect(spec.problems().contains { $0.keyPath == "stages[2].from.top" })
        spec = Self.spec()
        spec.laterStages[1].name = "eval"
        #expect(spec.problems().contains { $0.message.contains("two stages are named 'eval'") })
    }

    @Test func theParetoFrontKeepsOnlyUndominatedPoints() {
        let objectives = [Objective(metric: "acc", direction: .maximize), Objective(metric: "latency", direction: .minimize)]
        let points: [[Double]] = [[0.9, 10], [0.8, 5], [0.85, 12], [0.9, 10], [0.95, 30], [.nan, 1], [0.7, 5]]
        // [0.85, 12] is dominated by [0.9, 10]; [0.7, 5] by [0.8, 5]; equal points both stay.
        #expect(ParetoFront.indices(of: points, objectives: objectives) == [0, 1, 3, 4])
        #expect(ParetoFront.indices(of: [], objectives: objectives).isEmpty)
    }

    @Test func outputLinesAreParsedStrictly() {
        let parser = OutputLineParser()
        let found = parser.parse(#"  {"intern_output": {"checkpoint": "/runs/7/m.pt", "epochs": 12, "ok": true, "gone": null, "esc": "a\"b\u00e9"}}"#)
        #expect(found?.map(\.name) == ["checkpoint", "epochs", "ok", "esc"])
        #expect(found?.map(\.value) == ["/runs/7/m.pt", "12", "true", "a\"bé"])
        #expect(parser.parse(#"{"intern_output": {}}"#)?.isEmpty == true)
        for hostile in [
            #"{"loss": 0.3}"#, #"{"intern_output": {"a": [1]}}"#, #"{"intern_output": {"a": {"b": 1}}}"#,
            #"{"intern_output": {"a": "x"}, "b": 1}"#, #"{"intern_output": {"a": "x"} trailing"#, #"{"intern_output": {"a b": "x"}}"#,
            #"{"intern_output": {"a": "\u0000"}}"#, #"{"intern_output": {"a": 1e}}"#, #"{"intern_output": {"a": "unterminated}}"#,
            "{\"intern_output\": {\"a\": \"" + String(repeating: "x", count: 5000) + "\"}}",
        ] {
            #expect(parser.parse(hostile) == nil, "\(hostile.prefix(60))")
        }
    }

    @Test func aFedStageWithASpaceRunsItsOwnSweepPerInput() throws {
        var spec = Self.spec(trainTrials: 1)
        // dpo-like: a further sweep over beta for the selected training, 3 trials per input.
        spec.laterStages[1] = Stage(
            name: "tune", command: CommandTemplate(argv: ["tune", "{train.checkpoint}", "{beta}", "{train.lr}"]),
            space: ParameterSpace([Parameter(name: "beta", domain: .choice([.double(0.1), .double(0.2), .double(0.5)]))]),
            sampler: .grid, trials: 3, input: StageInput(stage: "eval", top: 1))
        #expect(spec.problems().isEmpty, "\(spec.problems())")
        let run = try Run(spec)
        let train = try #require(run.next())
        run.finish(train, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        let eval = try #require(run.next())
        run.finish(eval, metrics: ["acc": 0.9])
        let tuned = try (0..<3).map { _ in try #require(run.next()) }
        #expect(tuned.map(\.argv) == [["tune", "/c/1", "0.1", "0.1"], ["tune", "/c/1", "0.2", "0.1"], ["tune", "/c/1", "0.5", "0.1"]])
        #expect(tuned.allSatisfy { run.machine.trials[$0.trial]?.parent == eval.trial })
    }

    @Test func anOutputFileIsReadLikeAnOutputLine() {
        let parser = OutputLineParser()
        let file = Array("{\n  \"checkpoint\": \"/runs/3/model.pt\",\n  \"step\": 900\n}\n".utf8)
        #expect(parser.parseFile(file)?.map(\.value) == ["/runs/3/model.pt", "900"])
        #expect(parser.parseFile(Array("[1, 2]".utf8)) == nil)
        #expect(parser.parseFile(Array(#"{"intern_output": {"a": "b"}}"#.utf8)) == nil)
    }

    @Test func aStageNoWorkerCanRunDoesNotHoldBackTheOthers() throws {
        var spec = Self.spec(trainTrials: 2)
        spec.laterStages[0].gpus = 2
        let run = try Run(spec)
        let hello = run.machine.hello(worker: "w2", incarnation: 1, hostname: "h2", pid: 2, slots: 1, gpus: [], now: 0)
        #expect(hello.changes.contains { if case .event(let e) = $0 { e.kind == "worker.too_small" && e.message.contains("no trials of stage eval") } else { false } })
        let train1 = try #require(run.next())
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        // eval 1 waits for a worker with 2 GPUs; train 2 runs meanwhile.
        let next = try #require(run.next())
        #expect(run.machine.trials[next.trial]?.stage == 0)
        #expect(run.machine.trials.values.contains { $0.stage == 1 && $0.status == .pending })
    }

    @Test func aCampaignStoppedByTheCircuitBreakerIsNotFinishedWhileFeedsWait() throws {
        var spec = Self.spec(trainTrials: 2)
        spec.space = ParameterSpace([Parameter(name: "lr", domain: .choice([.double(0.1)]))])
        spec.sampler = .random(seed: 1)
        spec.failurePolicy = FailurePolicy(backoffSeconds: 0, circuitBreakerTrials: 1)
        let run = try Run(spec)
        _ = run.machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], now: 0)
        let train1 = try #require(run.next())
        let train2 = try #require(run.next())
        // train 2 cannot start (a user error with nothing to tell the configurations apart): everything stops.
        _ = run.machine.attemptEnded(AttemptResult(attempt: train2.attempt, outcome: .failedToStart("no such file"), startedAt: 1, endedAt: 1, wallMillis: 0),
                                     worker: "w", incarnation: 1, now: 1)
        #expect(run.machine.stoppedReason != nil)
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        #expect(!run.machine.isFinished, "train 1 completed while stopped: its eval is still to run")
        // Running the campaign again (a restart) feeds it.
        let (restored, _) = try CoordinatorMachine.restore(
            spec: spec, trials: Array(run.machine.trials.values), attempts: Array(run.machine.attempts.values), now: 5)
        #expect(restored.trials.values.contains { $0.stage == 1 && $0.parent == train1.trial })
    }

    @Test func aWaitingStageStaysFedAcrossARestart() throws {
        let spec = Self.spec(trainTrials: 1)
        let run = try Run(spec)
        let train = try #require(run.next())
        run.finish(train, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        let eval = try #require(run.next())
        // The eval reports no objective: select has nothing to choose from and is fed with nothing.
        let ended = run.finish(eval)
        #expect(ended.changes.contains { if case .stagesFed([2]) = $0 { true } else { false } })
        #expect(run.machine.isFinished)
        let trials = Array(run.machine.trials.values), attempts = Array(run.machine.attempts.values)
        let (kept, again) = try CoordinatorMachine.restore(spec: spec, trials: trials, attempts: attempts, fedStages: [2], now: 9)
        #expect(!again.changes.contains { if case .event(let e) = $0 { e.kind == "stage.fed" } else { false } })
        #expect(kept.isFinished)
    }

    @Test func addIsRefusedOnceAWaitingStageChoseButBudgetMayStillGrow() throws {
        var spec = Self.spec(trainTrials: 2)
        spec.laterStages[0].input = StageInput(stage: "train", top: 1)
        spec.laterStages.removeLast()
        let run = try Run(spec)
        let train1 = try #require(run.next())
        run.finish(train1, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/1"])
        #expect(run.machine.add(configurations: [], trials: 1, now: 3).said?.contains("more trial") == true)
        for _ in 0..<2 {
            let train = try #require(run.next())
            run.finish(train, metrics: ["loss": 0.4], outputs: ["checkpoint": "/c/x"])
        }
        // train has ended: eval chose its best; more train trials would never reach it.
        #expect(run.machine.trials.values.contains { $0.stage == 1 })
        let outcome = try #require(run.machine.add(configurations: [], trials: 1, now: 5).said)
        #expect(outcome.hasPrefix("nothing added: stage eval has already chosen"), "\(outcome)")
    }

    @Test func aFedGridStartsAgainForEveryInput() throws {
        var spec = Self.spec(trainTrials: 2)
        spec.laterStages[0].space = ParameterSpace([Parameter(name: "k", domain: .choice([.int(1), .int(2), .int(3)]))])
        spec.laterStages[0].sampler = .grid
        spec.laterStages[0].trials = 2
        spec.laterStages[0].command = CommandTemplate(argv: ["eval", "{train.checkpoint}", "{k}"])
        let run = try Run(spec)
        for index in 1...2 {
            let train = try #require(run.next())
            run.finish(train, metrics: ["loss": 0.5], outputs: ["checkpoint": "/c/\(index)"])
            let evals = try (0..<2).map { _ in try #require(run.next()) }
            #expect(evals.map(\.argv) == [["eval", "/c/\(index)", "1"], ["eval", "/c/\(index)", "2"]])
            for eval in evals { run.finish(eval, metrics: ["acc": 0.5]) }
        }
    }

    @Test func anUpstreamConditionalParameterCannotBeAPlaceholder() {
        var spec = Self.spec()
        spec.space = ParameterSpace([
            Parameter(name: "lr", domain: .choice([.double(0.1), .double(0.2)])),
            Parameter(name: "momentum", domain: .choice([.double(0.9)]), condition: Parameter.Condition(parameter: "lr", values: [.double(0.1)])),
        ])
        spec.laterStages[0].command = CommandTemplate(argv: ["eval", "{train.momentum}"])
        #expect(spec.problems().contains { $0.keyPath == "stages[1].command" && $0.message.contains("INTERN_INPUT_TRAIN_MOMENTUM") })
    }
}
