import InternCore
import InternTestKit
import Testing

/// The coordinator's logic, driven by hand with a manual clock: no sockets, no sleeping.
@Suite final class CoordinatorMachineTests {
    /// Backoff 0 unless a test is about backoff: retried trials are dispatched at once.
    static func spec(
        trials: Int = 4, parallel: Int? = nil, retries: Int = 0, objective: Objective? = Objective(metric: "acc", direction: .maximize),
        policy: FailurePolicy = FailurePolicy(backoffSeconds: 0)
    ) -> CampaignSpec {
        CampaignSpec(
            name: "unit", command: CommandTemplate(argv: ["train", "--lr", "{lr}", "--trial", "{trial}"]), workdir: "/tmp",
            environment: ["OMP_NUM_THREADS": "1"],
            space: [Parameter(name: "lr", domain: .choice([.double(0.1), .double(0.01)]))],
            sampler: .random(seed: 1), trials: trials, parallel: parallel, objective: objective, timeoutSeconds: 60, retries: retries,
            failurePolicy: policy)
    }

    var clock = ManualClock()
    var machine: CoordinatorMachine
    var token: UInt64 = 0
    var requestID: UInt64 = 0

    init() throws {
        machine = try CoordinatorMachine(spec: Self.spec())
    }

    func join(_ worker: WorkerID, incarnation: Incarnation = 1, slots: Int = 1) -> Effects {
        machine.hello(worker: worker, incarnation: incarnation, hostname: "h", pid: 1, slots: slots, gpus: [], now: clock.now)
    }

    func ask(_ worker: WorkerID, incarnation: Incarnation = 1, requestID explicit: UInt64? = nil) -> (RequestToken, Effects) {
        token += 1
        requestID += 1
        let t = RequestToken(token)
        return (t, machine.requestWork(token: t, worker: worker, incarnation: incarnation, requestID: explicit ?? requestID, now: clock.now))
    }

    static func plan(_ effects: Effects, for token: RequestToken) -> AttemptPlan? {
        for reply in effects.replies where reply.token == token {
            if case .assignment(let plan) = reply.reply { return plan }
        }
        return nil
    }

    static func reply(_ effects: Effects, for token: RequestToken) -> WorkReply? {
        effects.replies.first { $0.token == token }?.reply
    }

    func end(_ plan: AttemptPlan, worker: WorkerID, incarnation: Incarnation = 1, code: Int32 = 0) -> Effects {
        machine.attemptEnded(
            AttemptResult(attempt: plan.attempt, outcome: .exited(code), startedAt: clock.now, endedAt: clock.now, wallMillis: 10),
            worker: worker, incarnation: incarnation, now: clock.now)
    }

    /// A one-trial campaign whose only worker (`w1`, incarnation 4) ran its attempt and then
    /// went silent past its lease: the attempt is lost, its trial pending. Returns the attempt.
    func cutOffPastItsLease() throws -> AttemptPlan {
        machine = try CoordinatorMachine(spec: Self.spec(trials: 1))
        _ = join("w1", incarnation: 4)
        let (t1, e1) = ask("w1", incarnation: 4)
        let plan = try #require(Self.plan(e1, for: t1))
        _ = machine.heartbeat(worker: "w1", incarnation: 4, running: [plan.attempt], now: clock.now)
        clock.advance(by: 10_001)
        _ = machine.tick(now: clock.now)
        #expect(machine.attempts[plan.attempt]?.status == .lost)
        return plan
    }

    @Test func workRequest_getsAssignmentWithRenderedCommandAndEnvironment() throws {
        _ = join("w1")
        let (t, effects) = ask("w1")
        let plan = try #require(Self.plan(effects, for: t))
        #expect(plan.trial == 1)
        #expect(plan.number == 1)
        #expect(plan.argv[0] == "train" && plan.argv[4] == "1")
        #expect(["0.1", "0.01"].contains(plan.argv[2]))
        let env = Dictionary(uniqueKeysWithValues: plan.environment)
        #expect(env["INTERN_CAMPAIGN"] == "unit")
        #expect(env["INTERN_TRIAL"] == "1")
        #expect(env["INTERN_ATTEMPT"] == "1")
        #expect(env["INTERN_PARAM_LR"] == plan.argv[2])
        #expect(env["OMP_NUM_THREADS"] == "1")
        #expect(plan.timeoutMillis == 60_000)
        // The trial and attempt are committed with the reply.
        #expect(effects.changes.contains { if case .attempt(let a) = $0 { a.id == plan.attempt && a.status == .assigned } else { false } })
    }

    @Test func requestWithoutHello_isRefusedAsUnknownWorker() {
        let (t, effects) = ask("stranger")
        #expect(Self.reply(effects, for: t) == .refused(.unknownWorker))
    }

    @Test func repeatedRequestID_getsTheSameAssignment_notASecondTrial() throws {
        _ = join("w1")
        let (t1, first) = ask("w1", requestID: 77)
        let (t2, again) = ask("w1", requestID: 77)
        let plan = try #require(Self.plan(first, for: t1))
        #expect(Self.plan(again, for: t2) == plan)
        #expect(machine.attempts.count == 1)
    }

    @Test func parallelLimit_parksRequestsUntilATrialEnds() throws {
        machine = try CoordinatorMachine(spec: Self.spec(trials: 3, parallel: 1))
        _ = join("w1", slots: 2)
        let (t1, e1) = ask("w1")
        let (t2, e2) = ask("w1")
        let plan = try #require(Self.plan(e1, for: t1))
        #expect(Self.reply(e2, for: t2) == nil)  // parked
        #expect(machine.parkedCount == 1)
        let ended = end(plan, worker: "w1")
        let next = try #require(Self.plan(ended, for: t2))
        #expect(next.trial == 2)
    }

    @Test func longPoll_isAnsweredIdleAfterTimeout() {
        machine = try! CoordinatorMachine(spec: Self.spec(trials: 1, parallel: 1), config: CoordinatorConfig(longPollMillis: 5_000))
        _ = join("w1", slots: 2)
        _ = ask("w1")
        let (t2, _) = ask("w1")
        clock.advance(by: 4_999)
        #expect(Self.reply(machine.tick(now: clock.now), for: t2) == nil)
        clock.advance(by: 1)
        #expect(Self.reply(machine.tick(now: clock.now), for: t2) == .noWork(.idle))
    }

    @Test func campaignFinishes_whenEveryTrialEnded_andParkedRequestsLearnIt() throws {
        machine = try CoordinatorMachine(spec: Self.spec(trials: 2))
        _ = join("w1")
        _ = join("w2")
        let (t1, e1) = ask("w1")
        let (t2, e2) = ask("w2")
        let p1 = try #require(Self.plan(e1, for: t1))
        let p2 = try #require(Self.plan(e2, for: t2))
        let (t3, e3) = ask("w1")
        #expect(Self.reply(e3, for: t3) == nil)
        _ = end(p1, worker: "w1")
        #expect(!machine.isFinished)
        let last = end(p2, worker: "w2")
        #expect(machine.isFinished)
        #expect(last.changes.contains { if case .campaignFinished = $0 { true } else { false } })
        #expect(Self.reply(last, for: t3) == .noWork(.finished))
        let (t4, e4) = ask("w2")
        #expect(Self.reply(e4, for: t4) == .noWork(.finished))
        #expect(machine.progress.completed == 2)
    }

    @Test func objective_lastValueCounts_andBestTrialIsTheHighest() throws {
        machine = try CoordinatorMachine(spec: Self.spec(trials: 2))
        _ = join("w1", slots: 2)
        let (t1, e1) = ask("w1")
        let (t2, e2) = ask("w1")
        let p1 = try #require(Self.plan(e1, for: t1))
        let p2 = try #require(Self.plan(e2, for: t2))
        _ = machine.metricStored(attempt: p1.attempt, name: "acc", step: 1, value: 0.9, now: clock.now)
        _ = machine.metricStored(attempt: p1.attempt, name: "acc", step: 2, value: 0.5, now: clock.now)
        _ = machine.metricStored(attempt: p2.attempt, name: "acc", step: 1, value: 0.7, now: clock.now)
        _ = end(p1, worker: "w1")
        _ = end(p2, worker: "w1")
        #expect(machine.trials[1]?.objective == 0.5)
        #expect(machine.bestTrial?.id == 2)
    }

    @Test func failedAttempt_isRetriedWithinBudget_thenTheTrialFails() throws {
        machine = try CoordinatorMachine(spec: Self.spec(trials: 1, retries: 1))
        _ = join("w1")
        let (t1, e1) = ask("w1")
        let first = try #require(Self.plan(e1, for: t1))
        _ = end(first, worker: "w1", code: 1)
        #expect(machine.trials[1]?.status == .pending)
        let (t2, e2) = ask("w1")
        let second = try #require(Self.plan(e2, for: t2))
        #expect(second.trial == 1 && second.number == 2)
        _ = end(second, worker: "w1", code: 1)
        #expect(machine.trials[1]?.status == .failed)
        #expect(machine.isFinished)
    }

    @Test func silentWorker_isLost_andItsTrialRunsElsewhere() throws {
        _ = join("w1")
        _ = join("w2")
        let (t1, e1) = ask("w1")
        let plan = try #require(Self.plan(e1, for: t1))
        _ = machine.heartbeat(worker: "w1", incarnation: 1, running: [plan.attempt], now: clock.now)
        #expect(machine.attempts[plan.attempt]?.status == .running)
        clock.advance(by: 5_000)
        _ = machine.heartbeat(worker: "w2", incarnation: 1, running: [], now: clock.now)
        clock.advance(by: 6_000)
        _ = machine.heartbeat(worker: "w2", incarnation: 1, running: [], now: clock.now)
        let effects = machine.tick(now: clock.now)
        #expect(machine.attempts[plan.attempt]?.status == .lost)
        #expect(machine.workers["w1"]?.state == .lost)
        #expect(effects.changes.contains { if case .event(let e) = $0 { e.kind == "worker.lost" } else { false } })
        let (t2, e2) = ask("w2")
        let retry = try #require(Self.plan(e2, for: t2))
        #expect(retry.trial == plan.trial && retry.number == 2)
        // The lost worker's late end is recorded, never counted.
        let late = end(plan, worker: "w1")
        #expect(machine.attempts[plan.attempt]?.status == .lost)
        #expect(late.changes.allSatisfy { if case .event = $0 { true } else { false } })
    }

    @Test func restartedWorker_newIncarnation_losesTheOldAttempts_andOldDataIsFenced() throws {
        _ = join("w1", incarnation: 1)
        let (t1, e1) = ask("w1", incarnation: 1)
        let plan = try #require(Self.plan(e1, for: t1))
        _ = join("w1", incarnation: 2)
        #expect(machine.attempts[plan.attempt]?.status == .lost)
        #expect(!machine.accepts(attempt: plan.attempt, from: "w1", incarnation: 1))
        #expect(machine.touch(worker: "w1", incarnation: 1, now: clock.now).refusal == .fenced)
        let answer = try #require(machine.heartbeat(worker: "w1", incarnation: 2, running: [plan.attempt], now: clock.now).heartbeatAnswer)
        #expect(answer.cancel == [plan.attempt])
    }

    @Test func sameIncarnationReattaching_keepsItsAttempts() throws {
        _ = join("w1", incarnation: 9)
        let (t1, e1) = ask("w1", incarnation: 9)
        let plan = try #require(Self.plan(e1, for: t1))
        _ = join("w1", incarnation: 9)
        #expect(machine.attempts[plan.attempt]?.status == .assigned)
        #expect(machine.accepts(attempt: plan.attempt, from: "w1", incarnation: 9))
    }

    @Test func unconfirmedAssignment_isLostAfterTheLease() throws {
        _ = join("w1")
        let (t1, e1) = ask("w1")
        let plan = try #require(Self.plan(e1, for: t1))
        for _ in 0..<11 {
            clock.advance(by: 1_000)
            _ = machine.heartbeat(worker: "w1", incarnation: 1, running: [], now: clock.now)
            _ = machine.tick(now: clock.now)
        }
        #expect(machine.attempts[plan.attempt]?.status == .lost)
        #expect(machine.trials[plan.trial]?.status == .pending)
    }

    @Test func pause_stopsDispatch_runningAttemptsGoOn_resumeDispatchesTheParkedRequests() throws {
        _ = join("w1", slots: 2)
        let (first, e1) = ask("w1")
        let running = try #require(Self.plan(e1, for: first))
        let paused = machine.setPaused(true, now: clock.now)
        #expect(paused.changes == [.campaignPaused(true, at: clock.now)])
        #expect(machine.setPaused(true, now: clock.now).changes.isEmpty)
        // Nothing new while paused: the request waits, the running attempt ends normally.
        let (second, e2) = ask("w1")
        #expect(Self.reply(e2, for: second) == nil)
        _ = end(running, worker: "w1")
        #expect(machine.trials[running.trial]?.status == .completed)
        clock.advance(by: 100)
        #expect(machine.tick(now: clock.now).replies.isEmpty)
        // Resumed: the parked request gets the next trial at once.
        let resumed = machine.setPaused(false, now: clock.now)
        #expect(resumed.changes.first == .campaignPaused(false, at: clock.now))
        #expect(Self.plan(resumed, for: second) != nil)
    }

    @Test func aPausedCampaignStaysPausedAcrossARestart() throws {
        let (restored, _) = try CoordinatorMachine.restore(spec: Self.spec(), trials: [], attempts: [], paused: true, now: clock.now)
        machine = restored
        #expect(machine.isPaused)
        _ = join("w1")
        let (t, e) = ask("w1")
        #expect(Self.reply(e, for: t) == nil)
        #expect(Self.plan(machine.setPaused(false, now: clock.now), for: t) != nil)
    }

    @Test func drain_stopsNewWork_andReachesTheWorkerInItsHeartbeat() throws {
        _ = join("w1", slots: 2)
        _ = ask("w1")
        _ = machine.drain(worker: "w1", now: clock.now)
        let (t, e) = ask("w1")
        #expect(Self.reply(e, for: t) == .noWork(.draining))
        let answer = try #require(machine.heartbeat(worker: "w1", incarnation: 1, running: [], now: clock.now).heartbeatAnswer)
        #expect(answer.drain)
    }

    @Test func cancel_reachesTheRunningAttemptsWorker() throws {
        _ = join("w1")
        let (t1, e1) = ask("w1")
        let plan = try #require(Self.plan(e1, for: t1))
        _ = machine.cancel(trial: plan.trial, now: clock.now)
        #expect(machine.trials[plan.trial]?.status == .cancelled)
        let answer = try #require(machine.heartbeat(worker: "w1", incarnation: 1, running: [plan.attempt], now: clock.now).heartbeatAnswer)
        #expect(answer.cancel == [plan.attempt])
        _ = machine.attemptEnded(
            AttemptResult(attempt: plan.attempt, outcome: .cancelled, startedAt: 0, endedAt: 0, wallMillis: 1),
            worker: "w1", incarnation: 1, now: clock.now)
        #expect(machine.attempts[plan.attempt]?.status == .cancelled)
        #expect(machine.trials[plan.trial]?.status == .cancelled)
    }

    @Test func restore_keepsFinishedTrials_requeuesInterruptedOnes_andDrawsNoTrialTwice() throws {
        let spec = Self.spec(trials: 3)
        var original = try CoordinatorMachine(spec: spec)
        _ = original.hello(worker: "w1", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], now: 0)
        let e1 = original.requestWork(token: RequestToken(1), worker: "w1", incarnation: 1, requestID: 1, now: 0)
        let e2 = original.requestWork(token: RequestToken(2), worker: "w1", incarnation: 1, requestID: 2, now: 0)
        let p1 = try #require(Self.plan(e1, for: RequestToken(1)))
        _ = try #require(Self.plan(e2, for: RequestToken(2)))
        _ = original.attemptEnded(AttemptResult(attempt: p1.attempt, outcome: .exited(0), startedAt: 0, endedAt: 1, wallMillis: 1),
                                  worker: "w1", incarnation: 1, now: 1)
        let (restored, effects) = try CoordinatorMachine.restore(
            spec: spec, trials: Array(original.trials.values), attempts: Array(original.attempts.values), now: 5)
        #expect(restored.trials[1]?.status == .completed)
        #expect(restored.trials[2]?.status == .pending)
        #expect(effects.changes.contains { if case .attempt(let a) = $0 { a.status == .lost } else { false } })
        var machine = restored
        _ = machine.hello(worker: "w9", incarnation: 3, hostname: "h", pid: 1, slots: 2, gpus: [], now: 6)
        let a = machine.requestWork(token: RequestToken(10), worker: "w9", incarnation: 3, requestID: 1, now: 6)
        let b = machine.requestWork(token: RequestToken(11), worker: "w9", incarnation: 3, requestID: 2, now: 6)
        let pa = try #require(Self.plan(a, for: RequestToken(10)))
        let pb = try #require(Self.plan(b, for: RequestToken(11)))
        #expect(pa.trial == 2 && pa.number == 2)
        #expect(pb.trial == 3)
        #expect(pa.attempt > p1.attempt && pb.attempt > pa.attempt)
        // Trial 3's parameters are what the sampler gives trial 3 in any process.
        #expect(machine.trials[3]?.parameters == (try Sampler(spec: spec)).parameters(forTrial: 2))
    }

    /// TPE draws from what finished; a restored machine (same trials, same objectives) draws the
    /// next trial exactly as the original would have: no repeat, no fallback to random.
    @Test func tpe_learnsFromFinishedTrials_andARestoredCampaignDrawsAsTheOriginalWould() throws {
        var spec = Self.spec(trials: 20, objective: Objective(metric: "acc", direction: .maximize))
        spec.space = [Parameter(name: "lr", domain: .uniform(low: 0, high: 1))]
        spec.command = CommandTemplate(argv: ["train", "{lr}"])
        spec.sampler = .tpe(seed: 3, startup: 4)
        var original = try CoordinatorMachine(spec: spec)
        _ = original.hello(worker: "w1", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        for n in 1...12 {
            let plan = try #require(Self.plan(original.requestWork(token: RequestToken(UInt64(n)), worker: "w1", incarnation: 1, requestID: UInt64(n), now: Int64(n)), for: RequestToken(UInt64(n))))
            guard case .double(let lr)? = original.trials[plan.trial]?.parameters["lr"] else { Issue.record("no lr"); return }
            _ = original.metricStored(attempt: plan.attempt, name: "acc", step: 1, value: 1 - abs(lr - 0.8), now: Int64(n))
            _ = original.attemptEnded(AttemptResult(attempt: plan.attempt, outcome: .exited(0), startedAt: Int64(n), endedAt: Int64(n), wallMillis: 1),
                                      worker: "w1", incarnation: 1, now: Int64(n))
        }
        var restored = try CoordinatorMachine.restore(
            spec: spec, trials: Array(original.trials.values), attempts: Array(original.attempts.values), now: 100).0
        _ = restored.hello(worker: "w2", incarnation: 2, hostname: "h", pid: 1, slots: 1, gpus: [], now: 100)
        let a = try #require(Self.plan(original.requestWork(token: RequestToken(50), worker: "w1", incarnation: 1, requestID: 50, now: 100), for: RequestToken(50)))
        let b = try #require(Self.plan(restored.requestWork(token: RequestToken(51), worker: "w2", incarnation: 2, requestID: 1, now: 100), for: RequestToken(51)))
        #expect(a.trial == 13 && b.trial == 13)
        #expect(original.trials[13]?.parameters == restored.trials[13]?.parameters)
        #expect(restored.trials[13]?.parameters != (try Sampler(space: spec.space, kind: .random(seed: 3))).parameters(forTrial: 12))
        // It learned: the later draws sit closer to the optimum (0.8) than the random start.
        let lrs = (1...13).compactMap { id -> Double? in if case .double(let v)? = restored.trials[id]?.parameters["lr"] { v } else { nil } }
        let start = lrs.prefix(4).map { abs($0 - 0.8) }.reduce(0, +) / 4
        let late = lrs.suffix(5).map { abs($0 - 0.8) }.reduce(0, +) / 5
        #expect(late < start, "distance to the optimum: start \(start), late \(late) (\(lrs))")
    }

    @Test func restore_withItsWorkers_keepsAttemptsInFlight_untilTheirLeaseExpires() throws {
        let spec = Self.spec(trials: 3)
        var original = try CoordinatorMachine(spec: spec)
        _ = original.hello(worker: "w1", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        _ = original.hello(worker: "w2", incarnation: 2, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        let e1 = original.requestWork(token: RequestToken(1), worker: "w1", incarnation: 1, requestID: 11, now: 0)
        let e2 = original.requestWork(token: RequestToken(2), worker: "w2", incarnation: 2, requestID: 21, now: 0)
        let p1 = try #require(Self.plan(e1, for: RequestToken(1)))
        let p2 = try #require(Self.plan(e2, for: RequestToken(2)))
        _ = original.heartbeat(worker: "w1", incarnation: 1, running: [p1.attempt], now: 10)
        let (restored, effects) = try CoordinatorMachine.restore(
            spec: spec, trials: Array(original.trials.values), attempts: Array(original.attempts.values),
            workers: Array(original.workers.values), objectives: [p1.attempt: 0.75], now: 100_000)
        var machine = restored
        #expect(!effects.changes.contains { if case .attempt = $0 { true } else { false } })
        #expect(machine.attempts[p1.attempt]?.status == .running && machine.attempts[p1.attempt]?.objective == 0.75)
        #expect(machine.trials[p1.trial]?.status == .running)
        // w2's reply may have died with the coordinator: its repeated request gets the same attempt.
        let again = machine.requestWork(token: RequestToken(3), worker: "w2", incarnation: 2, requestID: 21, now: 100_001)
        #expect(Self.plan(again, for: RequestToken(3)) == p2)
        // w1 comes back and its attempt's end counts once.
        let answer = try #require(machine.heartbeat(worker: "w1", incarnation: 1, running: [p1.attempt], now: 100_500).heartbeatAnswer)
        #expect(answer.cancel.isEmpty)
        _ = machine.attemptEnded(AttemptResult(attempt: p1.attempt, outcome: .exited(0), startedAt: 0, endedAt: 1, wallMillis: 1),
                                 worker: "w1", incarnation: 1, now: 100_600)
        #expect(machine.trials[p1.trial]?.status == .completed && machine.trials[p1.trial]?.objective == 0.75)
        // w2 never confirms: after the lease its attempt is lost and its trial requeued.
        _ = machine.tick(now: 100_000 + 10_001)
        #expect(machine.attempts[p2.attempt]?.status == .lost)
        #expect(machine.trials[p2.trial]?.status == .pending)
    }

    @Test func workerCutOffPastItsLease_reattaches_andItsAttemptContinues_whenTheTrialHasNotRunAgain() throws {
        let plan = try cutOffPastItsLease()
        #expect(machine.touch(worker: "w1", incarnation: 4, now: clock.now).refusal == .unknownWorker)
        _ = join("w1", incarnation: 4)
        let effects = machine.heartbeat(worker: "w1", incarnation: 4, running: [plan.attempt], now: clock.now)
        let answer = try #require(effects.heartbeatAnswer)
        #expect(answer.cancel.isEmpty)
        #expect(machine.attempts[plan.attempt]?.status == .running)
        #expect(machine.trials[plan.trial]?.status == .running)
        try expectTakenBackOnce(plan, effects: effects)
    }

    /// The attempt was taken back (`effects` say so): its trial is not handed out a second time,
    /// and its end completes it, with one attempt in all.
    private func expectTakenBackOnce(_ plan: AttemptPlan, effects: Effects) throws {
        #expect(effects.changes.contains { if case .event(let e) = $0 { e.kind == "attempt.reattached" } else { false } })
        let (t2, e2) = ask("w1", incarnation: 4)
        #expect(Self.plan(e2, for: t2) == nil)
        _ = end(plan, worker: "w1", incarnation: 4)
        #expect(machine.trials[plan.trial]?.status == .completed)
        #expect(machine.attempts.count == 1)
    }

    /// The job ended while its worker was cut off: the worker's hello names the attempt it still
    /// holds, so its work request after the hello (sent before its report, say) cannot hand the
    /// trial out again, and the end in the report counts once.
    @Test func workerCutOffWhoseJobEndedMeanwhile_takesItsAttemptBackInItsHello_beforeItsWorkRequest() throws {
        let plan = try cutOffPastItsLease()
        let effects = machine.hello(
            worker: "w1", incarnation: 4, hostname: "h", pid: 1, slots: 1, gpus: [], held: [plan.attempt], now: clock.now)
        try expectTakenBackOnce(plan, effects: effects)
    }

    /// A report that carries only provenance for an attempt declared lost while its worker was
    /// cut off takes the attempt back, like any other data about it. (The shell decided this
    /// itself and refused the provenance without marking the attempt refused: the worker dropped
    /// the attempt's frames, yet the attempt could still be re-attached and its log stall.)
    @Test func aReportWithOnlyProvenance_takesALostAttemptBack_andAcceptsItsData() throws {
        let plan = try cutOffPastItsLease()
        _ = join("w1", incarnation: 4)
        let admitted = machine.admitReport(worker: "w1", incarnation: 4, dataAbout: [plan.attempt], endsOf: [], now: clock.now)
        let admission = try #require(admitted.admission)
        #expect(admission.accepted == [plan.attempt] && admission.unknown.isEmpty)
        #expect(machine.attempts[plan.attempt]?.status == .running)
        #expect(admitted.changes.contains { if case .event(let e) = $0 { e.kind == "attempt.reattached" } else { false } })
    }

    /// w1 runs the one trial, is cut off past its lease, and the trial runs again on w2; then w1
    /// comes back (same incarnation). Returns w1's attempt.
    private func cutOffWhileItsTrialRanElsewhere() throws -> AttemptPlan {
        machine = try CoordinatorMachine(spec: Self.spec(trials: 1))
        _ = join("w1")
        _ = join("w2")
        let (t1, e1) = ask("w1")
        let plan = try #require(Self.plan(e1, for: t1))
        _ = machine.heartbeat(worker: "w1", incarnation: 1, running: [plan.attempt], now: clock.now)
        clock.advance(by: 6_000)
        _ = machine.heartbeat(worker: "w2", incarnation: 1, running: [], now: clock.now)
        clock.advance(by: 5_000)
        _ = machine.tick(now: clock.now)
        let (t2, e2) = ask("w2")
        let rerun = try #require(Self.plan(e2, for: t2))
        #expect(rerun.trial == plan.trial)
        _ = join("w1")
        return plan
    }

    /// Data the coordinator refuses (its attempt's trial ran again elsewhere) is refused whatever
    /// its kind, and the attempt is never taken back afterwards: the worker is told to stop it.
    @Test func refusedData_ofAnyKind_marksTheAttemptNeverToBeTakenBack() throws {
        let plan = try cutOffWhileItsTrialRanElsewhere()
        let admission = try #require(machine.admitReport(worker: "w1", incarnation: 1, dataAbout: [plan.attempt], endsOf: [], now: clock.now).admission)
        #expect(admission.unknown == [plan.attempt] && admission.accepted.isEmpty)
        let answer = try #require(machine.heartbeat(worker: "w1", incarnation: 1, running: [plan.attempt], now: clock.now).heartbeatAnswer)
        #expect(answer.cancel == [plan.attempt])
        #expect(machine.attempts[plan.attempt]?.status == .lost)
    }

    /// What a report stored counts once, in order: samples of watched metrics first, then ends;
    /// a report from a worker the coordinator does not know stores nothing.
    @Test func reportStored_countsTheObjective_thenTheEnd_andAnUnknownWorkersReportIsRefused() throws {
        machine = try CoordinatorMachine(spec: Self.spec(trials: 1))
        #expect(machine.admitReport(worker: "ghost", incarnation: 1, dataAbout: [1], endsOf: [], now: clock.now).refusal == .unknownWorker)
        _ = join("w1")
        let (t1, e1) = ask("w1")
        let plan = try #require(Self.plan(e1, for: t1))
        let admission = try #require(machine.admitReport(worker: "w1", incarnation: 1, dataAbout: [plan.attempt], endsOf: [plan.attempt], now: clock.now).admission)
        #expect(admission.accepted == [plan.attempt])
        _ = machine.reportStored(
            samples: [.init(attempt: plan.attempt, name: "acc", step: 1, value: 0.75), .init(attempt: plan.attempt, name: "other", step: 1, value: 9)],
            ends: [AttemptResult(attempt: plan.attempt, outcome: .exited(0), startedAt: clock.now, endedAt: clock.now, wallMillis: 10)],
            worker: "w1", incarnation: 1, now: clock.now)
        #expect(machine.trials[plan.trial]?.status == .completed)
        #expect(machine.trials[plan.trial]?.objective == 0.75)
    }

    /// A hello that names attempts of another life (a new incarnation) takes nothing back.
    @Test func aNewIncarnationsHello_takesNothingBack() throws {
        machine = try CoordinatorMachine(spec: Self.spec(trials: 1))
        _ = join("w1", incarnation: 4)
        let (t1, e1) = ask("w1", incarnation: 4)
        let plan = try #require(Self.plan(e1, for: t1))
        clock.advance(by: 10_001)
        _ = machine.tick(now: clock.now)
        _ = machine.hello(worker: "w1", incarnation: 5, hostname: "h", pid: 2, slots: 1, gpus: [], held: [plan.attempt], now: clock.now)
        #expect(machine.attempts[plan.attempt]?.status == .lost)
        #expect(machine.trials[plan.trial]?.status == .pending)
    }

    @Test func workerCutOffPastItsLease_whoseTrialRanElsewhere_isToldToStop() throws {
        let plan = try cutOffWhileItsTrialRanElsewhere()
        let answer = try #require(machine.heartbeat(worker: "w1", incarnation: 1, running: [plan.attempt], now: clock.now).heartbeatAnswer)
        #expect(answer.cancel == [plan.attempt])
        #expect(machine.attempts[plan.attempt]?.status == .lost)
    }

    @Test func environmentName_isUppercasedAndSanitised_andCollisionsAreSpecErrors() {
        #expect(CampaignSpec.environmentName(forParameter: "learning-rate") == "INTERN_PARAM_LEARNING_RATE")
        #expect(CampaignSpec.environmentName(forParameter: "lr") == "INTERN_PARAM_LR")
        var spec = Self.spec()
        spec.space = [Parameter(name: "learning-rate", domain: .uniform(low: 0, high: 1)),
                      Parameter(name: "learning_rate", domain: .uniform(low: 0, high: 1))]
        #expect(spec.problems().contains { $0.keyPath == "space.learning_rate" && $0.message.contains("INTERN_PARAM_LEARNING_RATE") })
    }
}

@Suite struct CoordinatorMachineLimitTests {
    @Test func cancelledTrialsJob_stillCountsAgainstParallel_untilItEnds() throws {
        var machine = try CoordinatorMachine(spec: CoordinatorMachineTests.spec(trials: 3, parallel: 1))
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 2, gpus: [], now: 0)
        let first = machine.requestWork(token: RequestToken(1), worker: "w", incarnation: 1, requestID: 1, now: 0)
        let plan = try #require(CoordinatorMachineTests.plan(first, for: RequestToken(1)))
        let second = machine.requestWork(token: RequestToken(2), worker: "w", incarnation: 1, requestID: 2, now: 0)
        #expect(CoordinatorMachineTests.reply(second, for: RequestToken(2)) == nil)
        let cancelled = machine.cancel(trial: plan.trial, now: 1)
        #expect(CoordinatorMachineTests.reply(cancelled, for: RequestToken(2)) == nil)
        let ended = machine.attemptEnded(
            AttemptResult(attempt: plan.attempt, outcome: .cancelled, startedAt: 0, endedAt: 2, wallMillis: 2),
            worker: "w", incarnation: 1, now: 2)
        #expect(CoordinatorMachineTests.plan(ended, for: RequestToken(2))?.trial == 2)
    }

    @Test func aWorkerCannotParkMoreRequestsThanItHasSlots() throws {
        var machine = try CoordinatorMachine(spec: CoordinatorMachineTests.spec(trials: 1, parallel: 1))
        _ = machine.hello(worker: "w", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        _ = machine.hello(worker: "x", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: 0)
        _ = machine.requestWork(token: RequestToken(1), worker: "x", incarnation: 1, requestID: 1, now: 0)
        let a = machine.requestWork(token: RequestToken(2), worker: "w", incarnation: 1, requestID: 1, now: 0)
        #expect(CoordinatorMachineTests.reply(a, for: RequestToken(2)) == nil)
        let b = machine.requestWork(token: RequestToken(3), worker: "w", incarnation: 1, requestID: 2, now: 0)
        #expect(CoordinatorMachineTests.reply(b, for: RequestToken(2)) == .noWork(.idle))
        #expect(machine.parkedCount == 1)
    }
}
