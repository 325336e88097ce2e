import InternCore
import Testing

/// `intern add` in the coordinator's logic: configurations run next, in order, checked against
/// the space; more trials and more budget; all of it survives a restore.
@Suite struct AddTests {
    static func spec() -> CampaignSpec {
        var spec = CoordinatorMachineTests.spec(trials: 2)
        spec.space = [Parameter(name: "lr", domain: .choice([.double(0.1), .double(0.01)])),
                      Parameter(name: "layers", domain: .integer(low: 1, high: 8, step: 1, log: false))]
        spec.command = CommandTemplate(argv: ["train", "{lr}", "{layers}"])
        return spec
    }

    @Test func configurationsRunNext_moreTrialsAreDrawn_andBadOnesAreRefused() throws {
        var machine = try CoordinatorMachine(spec: Self.spec())
        let wanted: Parameters = ["lr": .double(0.01), "layers": .int(7)]
        let refused = machine.add(configurations: [["lr": .double(0.5), "layers": .int(7)]], now: 0)
        let why = try #require(refused.said)
        #expect(refused.changes.isEmpty && why.contains("not in the space"))
        let added = machine.add(configurations: [wanted], trials: 2, now: 0)
        let said = try #require(added.said)
        #expect(said == "1 configuration enqueued, 2 more trials to draw (5 trials in all)")
        #expect(added.changes.contains(.campaignAdjusted(CampaignAdjustments(addedTrials: 3))))
        #expect(machine.totalTrials == 5 && machine.progress.total == 5)
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        var drawn: [Int] = []
        for n in 1...5 {
            let plan = try #require(CoordinatorMachineTests.plan(
                machine.requestWork(token: RequestToken(UInt64(n)), worker: "w", incarnation: 1, requestID: UInt64(n), now: Int64(n)), for: RequestToken(UInt64(n))))
            if n == 1 { #expect(machine.trials[plan.trial]?.parameters == wanted) }
            drawn.append(plan.trial)
            _ = machine.attemptEnded(AttemptResult(attempt: plan.attempt, outcome: .exited(0), startedAt: 0, endedAt: 1, wallMillis: 1),
                                     worker: "w", incarnation: 1, now: Int64(n))
        }
        #expect(drawn == [1, 2, 3, 4, 5])
        #expect(machine.isFinished)
    }

    @Test func aRaisedBudgetIsNoLongerSpent_andAdjustmentsSurviveARestore() throws {
        var spec = Self.spec()
        spec.budget = Budget(hours: 1)
        let config = CoordinatorConfig(heartbeatIntervalMillis: 1_000, leaseTimeoutMillis: 100 * 3_600_000, longPollMillis: 5_000)
        var machine = try CoordinatorMachine.restore(spec: spec, config: config, trials: [], attempts: [], startedAt: 0, now: 0).0
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        _ = machine.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 0)
        _ = machine.tick(now: 3_600_000)
        #expect(machine.budgetSpent != nil)
        _ = machine.add(configurations: [], hours: 1, now: 3_600_001)
        #expect(machine.budgetSpent == nil && machine.budget.hours == 2)
        let restored = try CoordinatorMachine.restore(
            spec: spec, config: config, trials: Array(machine.trials.values), attempts: Array(machine.attempts.values), startedAt: 0,
            adjustments: machine.adjustments, now: 3_600_002).0
        #expect(restored.budget.hours == 2 && restored.totalTrials == 2)
    }
}
