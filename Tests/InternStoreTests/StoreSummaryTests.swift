import InternCore
import InternStore
import InternTestKit
import Testing

/// `intern status`'s aggregate queries agree with what the trials and attempts, loaded whole, say.
@Suite struct StoreSummaryTests {
    @Test func countsBestAndFailures_matchTheRecords() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("c"))
        try store.register(spec: CampaignStoreTests.spec, specPath: "/x.yaml", specYAML: "name: store-test", now: 1)
        func trial(_ id: Int, _ status: TrialStatus, _ objective: Double?, feasible: Bool? = nil, stage: Int = 0) -> StoreChange {
            var record = TrialRecord(id: id, parameters: ["lr": .double(Double(id) / 10)], status: status, objective: objective, createdAt: 1)
            record.feasible = feasible
            record.stage = stage
            return .trial(record)
        }
        try store.apply([
            trial(1, .completed, 0.5), trial(2, .completed, 0.2, feasible: false), trial(3, .completed, 0.3, feasible: true),
            trial(4, .completed, 0.3), trial(5, .running, nil), trial(6, .failed, nil), trial(7, .completed, nil),
            trial(8, .completed, 0.9, stage: 1),
        ])
        // The lowest feasible objective of stage 0, the lower id among equals (an infeasible 0.2 does not count).
        #expect(try store.bestTrial(stage: 0, maximize: false)?.id == 3)
        #expect(try store.bestTrial(stage: 0, maximize: true)?.id == 1)
        #expect(try store.bestTrial(stage: 1, maximize: false)?.id == 8)
        #expect(try store.bestTrial(stage: 2, maximize: false) == nil)
        #expect(try store.trial(4)?.objective == 0.3 && store.trial(99) == nil)

        let counts = try store.trialCounts()
        #expect(counts.reduce(0) { $0 + $1.count } == 8)
        #expect(counts.filter { $0.status == .completed && $0.stage == 0 }.reduce(0) { $0 + $1.count } == 5)
        #expect(counts.filter { $0.feasible == false }.map(\.count) == [1])

        var failed = AttemptRecord(id: 1, trial: 6, number: 1, worker: "w", incarnation: 1, status: .failed, argv: [], assignedAt: 1)
        failed.failureClass = .oom
        failed.failureSignature = "a"
        failed.failureExcerpt = "CUDA out of memory (first)"
        var again = failed
        again.id = 2
        again.failureClass = .user
        again.failureSignature = "b"
        again.failureExcerpt = nil
        var third = failed
        third.id = 3
        third.failureExcerpt = "CUDA out of memory (latest)"
        try store.apply([.attempt(failed), .attempt(again), .attempt(third)])
        let failures = try store.failureCounts()
        #expect(failures.byClass == [.oom: 2, .user: 1] && failures.signatures == 2)
        // One line per signature, with its latest attempt's excerpt (the lab's "seen before").
        let excerpts = try store.failureExcerpts()
        #expect(excerpts.map(\.signature) == ["a", "b"] && excerpts.map(\.excerpt) == ["CUDA out of memory (latest)", ""])
    }

    /// The digest's, `best`'s and `failures`' selective reads agree with the records loaded whole.
    @Test func selectiveReads_matchTheRecords() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("c"))
        try store.register(spec: CampaignStoreTests.spec, specPath: "/x.yaml", specYAML: "name: store-test", now: 1)
        #expect(try store.lastTrialEnd() == 0 && store.trialsEnded(after: -1).isEmpty)
        var changes: [StoreChange] = []
        for id in 1...30 {
            var trial = TrialRecord(
                id: id, parameters: ["lr": .double(Double(id) / 7), "opt": .string(id % 2 == 0 ? "adam" : "sgd")],
                status: [.completed, .failed, .running, .pruned, .pending][id % 5], objective: id % 5 == 0 ? Double(id) : nil,
                createdAt: 1, endedAt: id % 5 == 2 || id % 5 == 4 ? nil : Int64(100 + id * 3 % 17))
            trial.stage = id % 3 == 0 ? 1 : 0
            trial.feasible = id % 5 == 0 ? id % 2 == 0 : nil
            changes.append(.trial(trial))
            for number in 1...(id % 3 + 1) {
                var attempt = AttemptRecord(
                    id: AttemptID(id * 10 + number), trial: id, number: number, worker: "w", incarnation: 1,
                    status: [.succeeded, .failed, .running, .cancelled, .lost][(id + number) % 5], argv: ["x", "a b"], assignedAt: Int64(id))
                attempt.wallMillis = number == 2 ? nil : UInt64(id * 100)
                attempt.startedAt = Int64(id + 1)
                attempt.endedAt = number == 3 ? nil : Int64(id + 50)
                attempt.userCPUMillis = UInt64(id)
                // GPU ids with a quote, a comma or a backslash in them are counted by decoding the list.
                attempt.gpus = id % 7 == 0 ? ["GPU-\"a\"", "b,c", "d\\e"] : (0..<(id % 4)).map(String.init)
                if attempt.status == .failed || attempt.status == .lost {
                    attempt.failureClass = .oom
                    attempt.failureSignature = "s\(id % 2)"
                }
                changes.append(.attempt(attempt))
            }
        }
        try store.apply(changes)
        let trials = try store.trials()
        let attempts = try store.attempts()
        let byID = Dictionary(uniqueKeysWithValues: trials.map { ($0.id, $0) })

        #expect(try store.lastTrialEnd() == trials.compactMap(\.endedAt).max())
        for time: Int64 in [-1, 0, 105, 110, 200] {
            #expect(try store.trialsEnded(after: time) == trials.filter { ($0.endedAt ?? 0) > time }.map(TrialOutcome.init), "\(time)")
        }
        for stage in 0...2 {
            #expect(try store.trialOutcomes(stage: stage) == trials.filter { $0.stage == stage }.map(TrialOutcome.init))
            let done = trials.filter { $0.stage == stage && $0.status == .completed && $0.objective != nil && $0.feasible != false }
            let read = try store.completedParameters(stage: stage)
            #expect(read.map(\.parameters) == done.map(\.parameters) && read.map(\.objective) == done.map { $0.objective! })
            // The same trials by id and objective, and their parameters by id (intern-mcp's DigestMemo).
            let objectives = try store.completedObjectives(stage: stage)
            #expect(objectives.map(\.id) == done.map(\.id) && objectives.map(\.objective) == read.map(\.objective))
            #expect(try store.parameters(ids: done.map(\.id) + [999_999]) == Dictionary(uniqueKeysWithValues: done.map { ($0.id, $0.parameters) }))
        }
        // Every stage's outcomes in one scan (the digest's), with each trial's stage.
        let staged = try store.stagedOutcomes()
        #expect(staged.map(\.outcome) == trials.sorted { $0.id < $1.id }.map(TrialOutcome.init))
        #expect(staged.map(\.stage) == trials.sorted { $0.id < $1.id }.map(\.stage))
        #expect(try store.trials(ids: [9, 3, 3, 400, 1]) == [byID[1]!, byID[3]!, byID[9]!])
        #expect(try store.trials(ids: Array(1...1_200)) == trials)
        #expect(try store.trials(status: .running) == trials.filter { $0.status == .running })
        #expect(try store.failedAttempts() == attempts.filter { $0.failureSignature != nil })
        // What failure clustering reads of them (the digest's read).
        #expect(try store.failures() == attempts.compactMap(FailedAttempt.init))
        let succeeded = Dictionary(attempts.filter { $0.status == .succeeded }.map { ($0.trial, $0) }, uniquingKeysWith: { $1 })
        #expect(try store.succeededAttempts(trials: [1, 2, 5, 6, 500]) == succeeded.filter { [1, 2, 5, 6].contains($0.key) })
        #expect(try store.attemptUsage() == attempts.map { AttemptUsage($0, stage: byID[$0.trial]?.stage ?? 0, trialStatus: byID[$0.trial]?.status) })
        // Both of the digest's scans at once: the same outcomes and usage.
        let both = try store.outcomesAndUsage()
        #expect(both.outcomes.map(\.outcome) == staged.map(\.outcome) && both.outcomes.map(\.stage) == staged.map(\.stage))
        #expect(both.usage == (try store.attemptUsage()))
        #expect(both.usage.contains { $0.gpuCount == 3 } && both.usage.contains { $0.gpuCount == 0 })
        let now: Int64 = 10_000
        #expect(CostBreakdown(usage: try store.attemptUsage(), stageNames: ["a", "b"], now: now)
                == CostBreakdown(attempts: attempts, trials: byID, stageNames: ["a", "b"], now: now))
    }

    /// What the stages count on and no completed trial of theirs reported: each metric is looked
    /// for in its own stage (a name another stage reported does not count), and only a missing
    /// one brings the names that were seen.
    @Test func missingMetrics_lookInEachStage_andNameWhatWasSeen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("c"))
        try store.register(spec: CampaignStoreTests.spec, specPath: "/x.yaml", specYAML: "name: store-test", now: 1)
        func stage(_ name: String, objective: String) -> Stage {
            Stage(name: name, command: CommandTemplate(argv: ["x"]), trials: 2, objective: Objective(metric: objective, direction: .minimize))
        }
        let stages = [stage("train", objective: "eval_loss"), stage("eval", objective: "accuracy")]
        var changes: [StoreChange] = []
        for id in 1...2 {
            var trial = TrialRecord(id: id, parameters: [:], status: .completed, objective: 1, createdAt: 1)
            trial.stage = id - 1
            changes.append(.trial(trial))
            changes.append(.attempt(AttemptRecord(
                id: AttemptID(id), trial: id, number: 1, worker: "w", incarnation: 1, status: .succeeded, argv: ["x"], assignedAt: 1)))
        }
        try store.apply(changes)
        // Stage 0 reports its objective and `accuracy`; stage 1 reports only `acc`.
        let points = [(1, 1, "eval_loss"), (1, 2, "accuracy"), (2, 1, "acc")].map { attempt, seq, name in
            IncomingMetric(attempt: AttemptID(attempt), seq: UInt64(seq), name: name, step: 1, value: 0.5, time: 2)
        }
        _ = try ReportIngestor(store: store).ingest(frames: [], metrics: points, trialOf: { TrialID($0) }, now: 3)

        let missing = try store.missingMetrics(stages: stages, completed: [0: 1, 1: 1])
        #expect(missing.map(\.metric) == ["accuracy"] && missing.map(\.stageIndex) == [1])
        #expect(missing.first?.seen == ["acc"] && missing.first?.suggestion == "acc")
        // The same as coverage built from every name the store holds.
        #expect(missing == MetricCoverage(stages: stages, completed: [0: 1, 1: 1], reported: try store.metricNamesByStage()).missing)
        // A stage with no completed trial is not asked about; with every metric reported, nothing is missing.
        #expect(try store.missingMetrics(stages: stages, completed: [0: 1]).isEmpty)
        #expect(try store.missingMetrics(stages: [stages[0]], completed: [0: 1]).isEmpty)
    }
}
