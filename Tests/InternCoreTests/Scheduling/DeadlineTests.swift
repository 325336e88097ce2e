import InternCore
import InternTestKit
import Testing

/// The machine says when it must be ticked next, in every event's effects: the shell sleeps until
/// then instead of polling. Each timed rule gives a deadline (``CoordinatorMachine/nextDeadline(now:)``,
/// worked out in full), and ticking at it (not before) is what carries the rule out. An event's
/// effects carry the earliest deadline noted since the last tick: never later than the true one
/// (it may be earlier, after a lease was renewed), and after a tick the true one.
@Suite struct DeadlineTests {
    static let config = CoordinatorConfig(heartbeatIntervalMillis: 1_000, leaseTimeoutMillis: 10_000, longPollMillis: 5_000)

    func machine(trials: Int = 4, budget: Budget = Budget(), gpus: Int = 0, retries: Int = 0, backoffSeconds: Double = 0) throws -> CoordinatorMachine {
        var spec = CoordinatorMachineTests.spec(trials: trials, retries: retries, policy: FailurePolicy(backoffSeconds: backoffSeconds))
        spec.budget = budget
        spec.gpus = gpus
        return try CoordinatorMachine.restore(spec: spec, config: Self.config, trials: [], attempts: [], startedAt: 0, now: 0).0
    }

    @Test func nothingIsDue_withoutWorkers() throws {
        let m = try machine()
        #expect(m.nextDeadline(now: 0) == nil)
    }

    @Test func aWorkersLeaseIsDue_justAfterItExpires_andTickingThenLosesIt() throws {
        var m = try machine()
        let joined = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 1_000)
        #expect(joined.nextDeadline == 11_001)
        // The renewed lease is the true deadline; the effects may still say the earlier one.
        let touched = m.touch(worker: "w", incarnation: 1, now: 2_000)
        #expect(m.nextDeadline(now: 2_000) == 12_001)
        #expect(touched.nextDeadline == 11_001)
        // Ticked at that earlier time, the machine finds nothing due and says the true deadline.
        let early = m.tick(now: 11_001)
        #expect(m.workers["w"]?.state == .active && early.nextDeadline == 12_001)
        _ = m.tick(now: 12_000)
        #expect(m.workers["w"]?.state == .active)
        let lost = m.tick(now: 12_001)
        #expect(m.workers["w"]?.state == .lost)
        #expect(lost.nextDeadline == nil)
    }

    @Test func aParkedRequestIsDue_whenItsLongPollEnds() throws {
        var m = try machine(trials: 1)
        _ = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        // Paused: the request waits parked.
        _ = m.setPaused(true, now: 0)
        let parked = m.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 100)
        #expect(parked.replies.isEmpty)
        #expect(parked.nextDeadline == 5_100)
        #expect(m.tick(now: 5_099).replies.isEmpty)
        #expect(m.tick(now: 5_100).replies.map(\.reply) == [.noWork(.idle)])
    }

    @Test func anUnconfirmedAssignmentIsDue_whenItsLeaseEnds() throws {
        var m = try machine()
        _ = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let assigned = m.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 500)
        let plan = try #require(CoordinatorMachineTests.plan(assigned, for: RequestToken(1)))
        // The worker's lease (from its request at 500) and the assignment's end together; the
        // effects say no later (the request was parked for a moment: its long-poll's end).
        #expect(m.nextDeadline(now: 500) == 10_501)
        #expect(try #require(assigned.nextDeadline) <= 10_501)
        _ = m.touch(worker: "w", incarnation: 1, now: 9_000)
        #expect(m.nextDeadline(now: 9_000) == 10_501)
        _ = m.tick(now: 10_501)
        #expect(m.attempts[plan.attempt]?.status == .lost)
    }

    @Test func aRetrysBackoffIsDue_whileARequestWaitsForIt() throws {
        var m = try machine(trials: 1, retries: 1, backoffSeconds: 2)
        _ = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let plan = try #require(CoordinatorMachineTests.plan(
            m.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 0), for: RequestToken(1)))
        _ = m.heartbeat(worker: "w", incarnation: 1, running: [plan.attempt], now: 100)
        _ = m.attemptEnded(AttemptResult(attempt: plan.attempt, outcome: .exited(1), startedAt: 0, endedAt: 1_000, wallMillis: 1_000),
                           worker: "w", incarnation: 1, now: 1_000)
        let notBefore = try #require(m.trials[plan.trial]?.notBefore)
        let waiting = m.requestWork(token: RequestToken(2), worker: "w", incarnation: 1, requestID: 2, now: 1_500)
        #expect(waiting.replies.isEmpty)
        #expect(waiting.nextDeadline == notBefore)
        #expect(CoordinatorMachineTests.plan(m.tick(now: notBefore), for: RequestToken(2))?.trial == plan.trial)
    }

    /// A backoff that passed while its trial cannot run (here `parallel: 1` is taken) is no
    /// deadline: after a tick the next one is always in the future, or the shell's clock would spin.
    @Test func afterATick_theNextDeadlineIsNeverInThePast() throws {
        var spec = CoordinatorMachineTests.spec(trials: 2, parallel: 1, retries: 1, policy: FailurePolicy(backoffSeconds: 1))
        spec.budget = Budget()
        var m = try CoordinatorMachine.restore(spec: spec, config: Self.config, trials: [], attempts: [], startedAt: 0, now: 0).0
        _ = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], now: 0)
        let first = try #require(CoordinatorMachineTests.plan(
            m.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 0), for: RequestToken(1)))
        _ = m.heartbeat(worker: "w", incarnation: 1, running: [first.attempt], now: 10)
        _ = m.attemptEnded(AttemptResult(attempt: first.attempt, outcome: .exited(1), startedAt: 0, endedAt: 20, wallMillis: 20),
                           worker: "w", incarnation: 1, now: 20)
        // The second trial takes the one place `parallel` allows; the first waits out its backoff.
        let second = try #require(CoordinatorMachineTests.plan(
            m.requestWork(token: RequestToken(2), worker: "w", incarnation: 1, requestID: 2, now: 30), for: RequestToken(2)))
        _ = m.heartbeat(worker: "w", incarnation: 1, running: [second.attempt], now: 40)
        _ = m.requestWork(token: RequestToken(3), worker: "w", incarnation: 1, requestID: 3, now: 50)
        for now: Timestamp in [1_020, 1_021, 2_000, 4_000] {
            let effects = m.tick(now: now)
            #expect(effects.nextDeadline.map { $0 > now } ?? true, "at \(now): \(String(describing: effects.nextDeadline))")
            _ = m.heartbeat(worker: "w", incarnation: 1, running: [second.attempt], now: now)
        }
    }

    /// Whatever events come, the deadline their effects carry is never later than the true one (a
    /// rule never fires late), and a tick at it leaves one in the future.
    @Test(arguments: 1...20) func theEffectsDeadline_isNeverLaterThanTheTrueOne(seed: UInt64) throws {
        var spec = CoordinatorMachineTests.spec(trials: 30, parallel: 3, retries: 2, policy: FailurePolicy(backoffSeconds: 1))
        spec.budget = Budget(hours: 2)
        var m = try CoordinatorMachine.restore(spec: spec, config: Self.config, trials: [], attempts: [], startedAt: 0, now: 0).0
        var random = SeededGenerator(seed: seed)
        var now: Timestamp = 0
        var due: Timestamp?
        var token: UInt64 = 0
        let workers: [WorkerID] = ["a", "b", "c"]
        for _ in 0..<400 {
            now += Timestamp.random(in: 1...900, using: &random)
            if let due, now >= due {
                let ticked = m.tick(now: now)
                #expect(ticked.nextDeadline.map { $0 > now } ?? true)
            }
            let worker = workers.randomElement(using: &random)!
            let running = m.attempts.values.filter { $0.worker == worker && !$0.status.isTerminal }.map(\.id).sorted()
            let effects: Effects
            switch Int.random(in: 0..<5, using: &random) {
            case 0: effects = m.hello(worker: worker, incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], held: running, now: now)
            case 1:
                token += 1
                effects = m.requestWork(token: RequestToken(token), worker: worker, incarnation: 1, requestID: token, now: now)
            case 2: effects = m.heartbeat(worker: worker, incarnation: 1, running: running, now: now)
            case 3:
                guard let attempt = running.first else { continue }
                let code: Int32 = Bool.random(using: &random) ? 0 : 1
                effects = m.attemptEnded(AttemptResult(attempt: attempt, outcome: .exited(code), startedAt: now, endedAt: now, wallMillis: 1),
                                         worker: worker, incarnation: 1, now: now)
            default: effects = m.setPaused(Bool.random(using: &random), now: now)
            }
            due = effects.nextDeadline
            if let truth = m.nextDeadline(now: now) {
                #expect(due.map { $0 <= truth } == true, "seed \(seed) at \(now): effects say \(String(describing: due)), the true deadline is \(truth)")
            }
        }
    }

    @Test func theHoursBudgetIsDue_atItsEnd() throws {
        var m = try machine(budget: Budget(hours: 1))
        let joined = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        // The worker's lease comes first; with it renewed, the budget's end.
        #expect(joined.nextDeadline == 10_001)
        _ = m.touch(worker: "w", incarnation: 1, now: 3_599_000)
        #expect(m.nextDeadline(now: 3_599_000) == 3_600_000)
    }

    @Test func theGPUBudgetIsDue_whenTheGPUsInFlightUseItUp() throws {
        var m = try machine(budget: Budget(gpuHours: 1), gpus: 2)
        _ = m.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: ["0", "1"], now: 0)
        let plan = try #require(CoordinatorMachineTests.plan(
            m.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 0), for: RequestToken(1)))
        #expect(plan.gpus.count == 2)
        // Two GPUs from 0: one GPU-hour is spent after half an hour.
        _ = m.heartbeat(worker: "w", incarnation: 1, running: [plan.attempt], now: 1_799_000)
        #expect(m.nextDeadline(now: 1_799_000) == 1_800_000)
        _ = m.tick(now: 1_800_000)
        #expect(m.budgetSpent != nil)
    }
}
