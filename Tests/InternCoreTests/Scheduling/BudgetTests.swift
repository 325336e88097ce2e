import InternCore
import Testing

/// Budgets: at a spent budget nothing new starts; running attempts finish (or are stopped) and
/// the campaign ends with what it has.
@Suite struct BudgetTests {
    func machine(_ budget: Budget, gpus: Int = 0) throws -> CoordinatorMachine {
        var spec = CoordinatorMachineTests.spec(trials: 10)
        spec.budget = budget
        spec.gpus = gpus
        // A lease longer than the test's hours: the worker is never lost here.
        let config = CoordinatorConfig(heartbeatIntervalMillis: 1_000, leaseTimeoutMillis: 100 * 3_600_000, longPollMillis: 5_000)
        return try CoordinatorMachine.restore(spec: spec, config: config, trials: [], attempts: [], startedAt: 0, now: 0).0
    }

    func ask(_ machine: inout CoordinatorMachine, _ n: UInt64, now: Int64 = 0) -> AttemptPlan? {
        CoordinatorMachineTests.plan(machine.requestWork(token: RequestToken(n), worker: "w", incarnation: 1, requestID: n, now: now), for: RequestToken(n))
    }

    @Test func hours_stopDispatch_runningAttemptsFinish_thenTheCampaignEnds() throws {
        var m = try machine(Budget(hours: 1))
        _ = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], now: 0)
        let a = try #require(ask(&m, 1))
        _ = m.tick(now: 3_599_999)
        #expect(m.budgetSpent == nil)
        let spent = m.tick(now: 3_600_000)
        #expect(m.budgetSpent == "the budget of 1 hours is spent")
        #expect(spent.changes.contains { if case .event(let e) = $0 { e.kind == "campaign.budget" } else { false } })
        #expect(ask(&m, 2, now: 3_600_001) == nil)
        #expect(!m.isFinished)
        let ended = m.attemptEnded(AttemptResult(attempt: a.attempt, outcome: .exited(0), startedAt: 0, endedAt: 1, wallMillis: 1),
                                   worker: "w", incarnation: 1, now: 3_600_100)
        #expect(m.isFinished && m.trials[a.trial]?.status == .completed)
        #expect(ended.changes.contains { if case .campaignFinished = $0 { true } else { false } })
    }

    @Test func gpuHours_countEndedAndRunningAttempts_andStopPolicyStopsWhatRuns() throws {
        var m = try machine(Budget(gpuHours: 1, onExhausted: .stop), gpus: 2)
        _ = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: ["0", "1"], now: 0)
        let a = try #require(ask(&m, 1))
        _ = m.heartbeat(worker: "w", incarnation: 1, running: [a.attempt], now: 1)
        // 2 GPUs for 29 minutes: 58 GPU-minutes, under the hour.
        #expect(m.tick(now: 29 * 60_000).changes.isEmpty)
        #expect(m.budgetSpent == nil)
        _ = m.tick(now: 31 * 60_000)
        #expect(m.budgetSpent?.contains("1 GPU-hours") == true)
        #expect(m.trials[a.trial]?.status == .cancelled && m.trials[a.trial]?.note?.hasPrefix("stopped: the budget") == true)
        let answer = try #require(m.heartbeat(worker: "w", incarnation: 1, running: [a.attempt], now: 31 * 60_000 + 1).heartbeatAnswer)
        #expect(answer.cancel == [a.attempt])
        _ = m.attemptEnded(AttemptResult(attempt: a.attempt, outcome: .cancelled, startedAt: 0, endedAt: 1, wallMillis: 31 * 60_000),
                           worker: "w", incarnation: 1, now: 31 * 60_000 + 2)
        #expect(m.isFinished)
    }

    @Test func aRestartedCampaignKeepsItsStartForTheHoursBudget() throws {
        var spec = CoordinatorMachineTests.spec(trials: 10)
        spec.budget = Budget(hours: 2)
        var m = try CoordinatorMachine.restore(spec: spec, trials: [], attempts: [], startedAt: 1_000, now: 7_200_000).0
        _ = m.tick(now: 7_201_000)
        #expect(m.budgetSpent != nil && m.isFinished)
    }
}
