import InternCore
import InternTestKit
import Testing

/// A busy slot's next attempt, given ahead of time (`WorkRequest.behind`): only where waiting
/// costs nothing else, never against `parallel`, and never lost.
@Suite final class QueuedAheadTests {
    static func spec(trials: Int = 10, parallel: Int? = nil, sampler: SamplerKind = .random(seed: 1), gpus: Int = 0) -> CampaignSpec {
        var spec = CampaignSpec(
            name: "ahead", command: CommandTemplate(argv: ["train", "--lr", "{lr}"]), workdir: "/tmp",
            space: [Parameter(name: "lr", domain: .uniform(low: 0.001, high: 0.1))],
            sampler: sampler, trials: trials, parallel: parallel, objective: Objective(metric: "loss", direction: .minimize),
            retries: 1, failurePolicy: FailurePolicy(backoffSeconds: 0))
        spec.gpus = gpus
        return spec
    }

    var clock = ManualClock()
    var machine: CoordinatorMachine
    var token: UInt64 = 0
    var requestID: UInt64 = 0

    init() throws {
        machine = try CoordinatorMachine(spec: Self.spec())
    }

    func join(_ worker: WorkerID, slots: Int = 1, gpus: [String] = []) {
        _ = machine.hello(worker: worker, incarnation: 1, hostname: "h-\(worker)", pid: 1, slots: slots, gpus: gpus, now: clock.now)
    }

    /// A work request of `worker`, free (`behind` 0) or asking ahead; its reply, if answered.
    func ask(_ worker: WorkerID, behind: AttemptID = 0, requestID explicit: UInt64? = nil) -> WorkReply? {
        token += 1
        requestID += 1
        let t = RequestToken(token)
        let effects = machine.requestWork(
            token: t, worker: worker, incarnation: 1, requestID: explicit ?? requestID, behind: behind, now: clock.now)
        return effects.replies.first { $0.token == t }?.reply
    }

    func end(_ plan: AttemptPlan, worker: WorkerID, wallMillis: UInt64 = 20, code: Int32 = 0) {
        clock.advance(by: Int64(wallMillis))
        _ = machine.attemptEnded(
            AttemptResult(attempt: plan.attempt, outcome: .exited(code), startedAt: clock.now - Int64(wallMillis), endedAt: clock.now,
                          wallMillis: wallMillis),
            worker: worker, incarnation: 1, now: clock.now)
    }

    static func plan(_ reply: WorkReply?) -> AttemptPlan? {
        if case .assignment(let plan) = reply { plan } else { nil }
    }

    /// Runs `count` trials one after another on `worker`'s free slot, each `wallMillis` long.
    func runInTurn(_ count: Int, on worker: WorkerID, wallMillis: UInt64 = 20) throws {
        for _ in 0..<count {
            let plan = try #require(Self.plan(ask(worker)))
            end(plan, worker: worker, wallMillis: wallMillis)
        }
    }

    @Test func aSlotOfShortTrialsGetsItsNextAttemptAhead_whichDoesNotCountAgainstParallel() throws {
        machine = try CoordinatorMachine(spec: Self.spec(parallel: 1))
        join("w1")
        join("w2")
        // Nothing is known of the stage yet: no attempt is given ahead.
        let first = try #require(Self.plan(ask("w1")))
        #expect(ask("w1", behind: first.attempt) == .noWork(.idle))
        end(first, worker: "w1")
        try runInTurn(2, on: "w1")

        let current = try #require(Self.plan(ask("w1")))
        let next = try #require(Self.plan(ask("w1", behind: current.attempt)))
        #expect(next.trial == current.trial + 1)
        #expect(machine.attemptsInFlight == 2)
        // One ahead per attempt: asking again behind the same one gets nothing.
        #expect(ask("w1", behind: current.attempt) == .noWork(.idle))
        // `parallel: 1` holds: the queued attempt is not running, and the one running fills it.
        #expect(ask("w2") == nil)
        #expect(machine.parkedCount == 1)
        // Its slot's attempt ends: the queued one runs on w1 in its turn, w2 still waits.
        end(current, worker: "w1")
        #expect(machine.parkedCount == 1)
        #expect(machine.trials[next.trial]?.status == .running)
        // A free slot waiting anywhere comes first: nothing ahead while w2 waits.
        #expect(ask("w1", behind: next.attempt) == .noWork(.idle))
        end(next, worker: "w1")
        #expect(machine.parkedCount == 0)
        #expect(machine.progress.completed == 5)
    }

    @Test func theSlotAsksBehindTheQueuedAttemptOnceItStarted_beforeItsPredecessorsEndArrives() throws {
        join("w1")
        try runInTurn(3, on: "w1")
        let a = try #require(Self.plan(ask("w1")))
        let x = try #require(Self.plan(ask("w1", behind: a.attempt)))
        // The worker started x when a ended, and asks behind x before a's end is known here.
        let y = try #require(Self.plan(ask("w1", behind: x.attempt)))
        #expect(machine.attemptsInFlight == 3)
        end(a, worker: "w1")
        end(x, worker: "w1")
        end(y, worker: "w1")
        #expect(machine.attemptsInFlight == 0)
        #expect(machine.progress.completed == 6)
    }

    @Test func longTrials_aLearningSampler_andAStageWithGPUs_getNothingAhead() throws {
        join("w1")
        try runInTurn(3, on: "w1", wallMillis: 5_000)
        let long = try #require(Self.plan(ask("w1")))
        #expect(ask("w1", behind: long.attempt) == .noWork(.idle))

        machine = try CoordinatorMachine(spec: Self.spec(sampler: .tpe(seed: 1, startup: 2)))
        join("w1")
        try runInTurn(3, on: "w1")
        let learning = try #require(Self.plan(ask("w1")))
        #expect(ask("w1", behind: learning.attempt) == .noWork(.idle))

        machine = try CoordinatorMachine(spec: Self.spec(gpus: 1))
        join("w1", gpus: ["0", "1"])
        try runInTurn(3, on: "w1")
        let gpu = try #require(Self.plan(ask("w1")))
        #expect(ask("w1", behind: gpu.attempt) == .noWork(.idle))
    }

    @Test func aRetryIsFixedAlready_soItMayWaitAheadEvenWithALearningSampler() throws {
        machine = try CoordinatorMachine(spec: Self.spec(sampler: .tpe(seed: 1, startup: 2)))
        join("w1")
        join("w2")
        try runInTurn(3, on: "w1")
        let failing = try #require(Self.plan(ask("w2")))
        let current = try #require(Self.plan(ask("w1")))
        end(failing, worker: "w2", code: 1)
        let retry = try #require(Self.plan(ask("w1", behind: current.attempt)))
        #expect(retry.trial == failing.trial && retry.number == 2)
    }

    @Test func pausedSpentOrOver_andSomeoneElsesAttempt_getNothingAhead() throws {
        join("w1")
        join("w2")
        try runInTurn(3, on: "w1")
        let current = try #require(Self.plan(ask("w1")))
        #expect(ask("w2", behind: current.attempt) == .noWork(.idle))
        _ = machine.setPaused(true, now: clock.now)
        #expect(ask("w1", behind: current.attempt) == .noWork(.idle))
        _ = machine.setPaused(false, now: clock.now)
        end(current, worker: "w1")

        machine = try CoordinatorMachine(spec: Self.spec(trials: 4))
        join("w1")
        try runInTurn(3, on: "w1")
        let last = try #require(Self.plan(ask("w1")))
        // Every trial is drawn: nothing is left to give ahead.
        #expect(ask("w1", behind: last.attempt) == .noWork(.idle))
        end(last, worker: "w1")
        #expect(machine.isFinished)
        #expect(ask("w1", behind: last.attempt) == .noWork(.finished))
    }

    @Test func aQueuedAttemptsTrialCancelled_isToldToItsWorker_andEndsNeverRunning_whileTheSlotsAttemptGoesOn() throws {
        join("w1")
        try runInTurn(3, on: "w1")
        let current = try #require(Self.plan(ask("w1")))
        let next = try #require(Self.plan(ask("w1", behind: current.attempt)))
        _ = machine.cancel(trial: next.trial, now: clock.now)
        let beat = machine.heartbeat(worker: "w1", incarnation: 1, running: [current.attempt, next.attempt], now: clock.now)
        guard case .heartbeat(let answer) = beat.answer else { Issue.record("no heartbeat answer: \(beat)"); return }
        #expect(answer.cancel == [next.attempt])
        // Its slot's attempt ends; the worker reports the queued one cancelled, never started.
        end(current, worker: "w1")
        _ = machine.attemptEnded(
            AttemptResult(attempt: next.attempt, outcome: .cancelled, startedAt: clock.now, endedAt: clock.now, wallMillis: 0),
            worker: "w1", incarnation: 1, now: clock.now)
        #expect(machine.trials[next.trial]?.status == .cancelled)
        #expect(machine.trials[current.trial]?.status == .completed)
        #expect(machine.attemptsInFlight == 0)
        // Nothing of it counts as how long the stage's attempts take: the next one goes ahead too.
        let after = try #require(Self.plan(ask("w1")))
        #expect(Self.plan(ask("w1", behind: after.attempt)) != nil)
    }

    @Test func aQueuedAttemptIsNeverLost_aRepeatedRequestGetsIt_andItsWorkersLossRequeuesIt() throws {
        join("w1")
        try runInTurn(3, on: "w1")
        let current = try #require(Self.plan(ask("w1")))
        let next = try #require(Self.plan(ask("w1", behind: current.attempt, requestID: 900)))
        // The reply was lost: the slot's next request (a free slot's) repeats the id.
        #expect(Self.plan(ask("w1", requestID: 900)) == next)
        #expect(machine.attemptsInFlight == 2)
        // The worker is lost with both: both trials run again, neither is counted twice. The
        // queued one had not started: it costs its trial no retry of `lost`.
        clock.advance(by: 10_001)
        _ = machine.tick(now: clock.now)
        #expect(machine.attempts[current.attempt]?.status == .lost)
        #expect(machine.attempts[next.attempt]?.status == .preempted)
        #expect(machine.trials[current.trial]?.lostCount == 1)
        #expect(machine.trials[next.trial]?.lostCount == 0 && machine.trials[next.trial]?.retriesUsed == 0)
        #expect(machine.attemptsInFlight == 0)
        join("w2")
        let again = try #require(Self.plan(ask("w2")))
        #expect([current.trial, next.trial].contains(again.trial))
    }
}
