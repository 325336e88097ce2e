import InternCore
import InternTestKit
import Testing

/// Map stages (one trial per item) and reduce stages (one trial fed by all of them) in the
/// coordinator's logic.
@Suite struct MapReduceTests {
    /// `shards` maps over three files and declares `kept`; `merge` reduces them.
    static func spec(items: [String] = ["/d/a.jsonl", "/d/b.jsonl", "/d/c.jsonl"], retries: Int = 0) -> CampaignSpec {
        let map = ItemMap(pattern: "d/*.jsonl", items: items)
        var spec = CampaignSpec(
            name: "filter", command: CommandTemplate(argv: ["filter", "{item}"]), workdir: "/tmp", space: map.space, sampler: .grid,
            trials: items.count, retries: retries, failurePolicy: FailurePolicy(backoffSeconds: 0))
        spec.map = map
        spec.outputs = ["kept"]
        spec.stageName = "shards"
        spec.laterStages = [Stage(name: "merge", command: CommandTemplate(argv: ["merge"]), input: StageInput(stage: "shards", reduce: true))]
        return spec
    }

    static func environment(_ plan: AttemptPlan) -> [String: String] {
        Dictionary(uniqueKeysWithValues: plan.environment.map { ($0.0, $0.1) })
    }

    @Test func eachItemRunsOnce_withItsItemInTheCommandAndEnvironment() throws {
        let run = try PipelineTests.Run(Self.spec())
        var seen: [String] = []
        for _ in 0..<3 {
            let plan = try #require(run.next())
            seen.append(plan.argv[1])
            #expect(Self.environment(plan)["INTERN_ITEM"] == plan.argv[1])
            run.finish(plan, outputs: ["kept": plan.argv[1] + ".kept"])
        }
        #expect(seen == ["/d/a.jsonl", "/d/b.jsonl", "/d/c.jsonl"])
    }

    @Test func theReduceRunsOnceAfterEveryShard_withAllParentsAndTheirOutputs() throws {
        let run = try PipelineTests.Run(Self.spec(retries: 1))
        #expect(run.machine.progress.total == 4)
        var shardTrials: [TrialID] = []
        for index in 0..<3 {
            let plan = try #require(run.next())
            #expect(run.machine.trials.values.filter { $0.stage == 1 }.isEmpty)
            if index == 1 {
                // A failed shard is retried; the reduce still waits for it.
                run.finish(plan, code: 1)
                let retry = try #require(run.next())
                #expect(retry.trial == plan.trial)
                run.finish(retry, outputs: ["kept": "/out/\(index)"])
            } else {
                run.finish(plan, outputs: ["kept": "/out/\(index)"])
            }
            shardTrials.append(plan.trial)
        }
        let merge = try #require(run.next())
        let record = try #require(run.machine.trials[merge.trial])
        #expect(record.stage == 1 && record.parents == shardTrials && record.parent == shardTrials.first)
        let environment = Self.environment(merge)
        let document = try #require(environment[ReduceInputs.carrierVariable])
        #expect(document.hasPrefix("{\"stage\":\"shards\",\"inputs\":[{\"trial\":\(shardTrials[0]),\"item\":\"/d/a.jsonl\""))
        #expect(document.contains("\"outputs\":{\"kept\":\"/out/1\"}"))
        #expect(run.next() == nil)
        run.finish(merge)
        #expect(run.machine.isFinished)
        #expect(run.machine.trials.values.count { $0.stage == 1 } == 1)
    }

    @Test func aRestoredMachine_doesNotReduceTwice() throws {
        let run = try PipelineTests.Run(Self.spec())
        for index in 0..<3 {
            let plan = try #require(run.next())
            run.finish(plan, outputs: ["kept": "/out/\(index)"])
        }
        let merge = try #require(run.next())
        let (restored, _) = try CoordinatorMachine.restore(
            spec: Self.spec(), trials: run.machine.trials.values.sorted { $0.id < $1.id },
            attempts: run.machine.attempts.values.sorted { $0.id < $1.id }, fedStages: [1], now: 5)
        #expect(restored.trials.values.count { $0.stage == 1 } == 1)
        #expect(restored.trials[merge.trial]?.parents.count == 3)
    }

    @Test func theSameUserErrorOnThreeShards_stopsTheCampaign() throws {
        // Shards share no item: the breaker has no value to block, so it stops the campaign.
        let run = try PipelineTests.Run(Self.spec(items: (1...6).map { "/d/\($0).jsonl" }))
        for _ in 0..<3 {
            let plan = try #require(run.next())
            var end = AttemptResult(
                attempt: plan.attempt, outcome: .exited(1), startedAt: 2, endedAt: 2, wallMillis: 1,
                logTail: FailureHandlingTests.traceback.replacingOccurrences(of: "line 3", with: "line \(plan.trial * 7)"))
            end.outputs = [:]
            _ = run.machine.attemptEnded(end, worker: "w", incarnation: 1, now: 2)
        }
        #expect(run.machine.stoppedReason?.contains("ModuleNotFoundError") == true)
        #expect(run.machine.isOver && !run.machine.isFinished)
        #expect(run.machine.trials.values.count { $0.stage == 1 } == 0)
    }

    @Test func theInputsDocument_escapesWhatJSONNeeds() {
        let inputs = ReduceInputs(stage: "s", inputs: [
            .init(trial: 7, parameters: [("item", "a \"quoted\"\\path\n")], outputs: [("kept", "\u{01}")]),
        ])
        #expect(inputs.json == #"{"stage":"s","inputs":[{"trial":7,"item":"a \"quoted\"\\path\n","parameters":{"item":"a \"quoted\"\\path\n"},"outputs":{"kept":"\u0001"}}]}"#)
    }
}
