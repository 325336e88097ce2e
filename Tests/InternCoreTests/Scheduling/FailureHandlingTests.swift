import InternCore
import InternTestKit
import Testing

/// What the coordinator's logic does with failed, lost and preempted attempts: classify them,
/// retry within the budgets of their class (after a backoff), stop a campaign that fails the same
/// way everywhere, and quarantine a worker whose failures succeed elsewhere. No IO, a manual clock.
@Suite struct FailureHandlingTests {
    static let traceback = """
        Traceback (most recent call last):
          File "/home/me/train.py", line 3, in <module>
            import transfomers
        ModuleNotFoundError: No module named 'transfomers'
        """
    static let cudaOOM = """
        Traceback (most recent call last):
          File "/home/me/train.py", line 88, in <module>
            loss.backward()
        torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity)
        """

    /// A grid over `lr` (the given values) and `seed` (1...seeds): trials = values × seeds.
    static func spec(seeds: Int = 3, retries: Int = 0, policy: FailurePolicy = FailurePolicy(backoffSeconds: 0),
                     values: [ParameterValue] = [.double(0.1), .double(0.01)]) -> CampaignSpec {
        CampaignSpec(
            name: "unit", command: CommandTemplate(argv: ["train", "--lr", "{lr}", "--seed", "{seed}"]), workdir: "/tmp",
            space: [Parameter(name: "lr", domain: .choice(values)),
                    Parameter(name: "seed", domain: .choice((1...seeds).map { .int($0) }))],
            sampler: .grid, trials: values.count * seeds, retries: retries, failurePolicy: policy)
    }

    var machine: CoordinatorMachine
    var now: Timestamp = 1_000
    var token: UInt64 = 0

    init() throws { machine = try CoordinatorMachine(spec: Self.spec()) }

    mutating func join(_ worker: WorkerID, slots: Int = 1) {
        _ = machine.hello(worker: worker, incarnation: 1, hostname: "h", pid: 1, slots: slots, gpus: [], now: now)
    }

    mutating func ask(_ worker: WorkerID) -> AttemptPlan? {
        token += 1
        let effects = machine.requestWork(token: RequestToken(token), worker: worker, incarnation: 1, requestID: token, now: now)
        for reply in effects.replies where reply.token == RequestToken(token) {
            if case .assignment(let plan) = reply.reply { return plan }
        }
        return nil
    }

    @discardableResult
    mutating func end(_ plan: AttemptPlan, on worker: WorkerID, _ outcome: AttemptResult.Outcome, tail: String = "") -> Effects {
        machine.attemptEnded(
            AttemptResult(attempt: plan.attempt, outcome: outcome, startedAt: now, endedAt: now, wallMillis: 5, logTail: tail),
            worker: worker, incarnation: 1, now: now)
    }

    @Test mutating func aUserError_isClassifiedSigned_andNeverRetried() throws {
        machine = try CoordinatorMachine(spec: Self.spec(retries: 5))
        join("w")
        let plan = try #require(ask("w"))
        end(plan, on: "w", .exited(1), tail: Self.traceback)
        let attempt = try #require(machine.attempts[plan.attempt])
        #expect(attempt.failureClass == .user)
        #expect(attempt.failureSignature?.count == 16)
        #expect(attempt.failureExcerpt?.contains("ModuleNotFoundError") == true)
        #expect(machine.trials[plan.trial]?.status == .failed)
        #expect(machine.trials[plan.trial]?.note?.contains("never retried") == true)
    }

    @Test mutating func infraFailures_areRetriedAfterABackoffThatDoubles_untilTheirLimit() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 1, policy: FailurePolicy(retries: [.infra: 2], backoffSeconds: 2), values: [.double(0.1)]))
        join("w")
        let first = try #require(ask("w"))
        end(first, on: "w", .exited(1), tail: "RuntimeError: NCCL error: unhandled system error, NCCL version 2.18.1")
        #expect(machine.attempts[first.attempt]?.failureClass == .infra)
        #expect(machine.trials[1]?.status == .pending)
        #expect(ask("w") == nil)  // backoff: not before 2 s
        now += 2_000
        let second = try #require(ask("w"))
        #expect(second.trial == 1 && second.number == 2)
        end(second, on: "w", .exited(1), tail: "ConnectionResetError: [Errno 104] Connection reset by peer")
        now += 2_000
        #expect(ask("w") == nil)  // doubled: 4 s
        now += 2_000
        let third = try #require(ask("w"))
        end(third, on: "w", .exited(1), tail: "OSError: [Errno 5] Input/output error")
        #expect(machine.trials[1]?.status == .failed)
        #expect(machine.trials[1]?.retryCounts[.infra] == 2)
        #expect(machine.isFinished)
    }

    @Test mutating func cudaOOM_isNotRetriedByDefault_butIsWhenTheSpecSaysSo() throws {
        join("w")
        let plan = try #require(ask("w"))
        end(plan, on: "w", .exited(1), tail: Self.cudaOOM)
        #expect(machine.attempts[plan.attempt]?.failureClass == .oom)
        #expect(machine.trials[plan.trial]?.status == .failed)

        machine = try CoordinatorMachine(spec: Self.spec(policy: FailurePolicy(retries: [.oom: 1], backoffSeconds: 0)))
        join("w")
        let again = try #require(ask("w"))
        end(again, on: "w", .signaled(9))  // a SIGKILL intern did not send: the host's OOM killer
        #expect(machine.attempts[again.attempt]?.failureClass == .oom)
        #expect(machine.trials[again.trial]?.status == .pending)
    }

    @Test mutating func preemption_isRetriedWithoutUsingTheBudget() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 1, policy: FailurePolicy(maxRetriesPerTrial: 0, backoffSeconds: 0), values: [.double(0.1)]))
        join("w")
        for number in 1...4 {
            let plan = try #require(ask("w"))
            #expect(plan.number == number)
            end(plan, on: "w", .preempted)
            #expect(machine.attempts[plan.attempt]?.failureClass == .preempted)
        }
        #expect(machine.trials[1]?.status == .pending)
        #expect(machine.trials[1]?.retriesUsed == 0)
    }

    @Test mutating func aTrialLostMoreOftenThanRetryLostAllows_fails() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 1, policy: FailurePolicy(retries: [.lost: 1], backoffSeconds: 0), values: [.double(0.1)]))
        join("w1")
        let first = try #require(ask("w1"))
        _ = machine.hello(worker: "w1", incarnation: 2, hostname: "h", pid: 1, slots: 1, gpus: [], now: now)
        #expect(machine.attempts[first.attempt]?.failureClass == .lost)
        #expect(machine.trials[1]?.status == .pending)
        token += 1
        let e = machine.requestWork(token: RequestToken(token), worker: "w1", incarnation: 2, requestID: token, now: now)
        guard case .assignment(let second)? = e.replies.first?.reply else { Issue.record("no retry"); return }
        _ = machine.hello(worker: "w1", incarnation: 3, hostname: "h", pid: 1, slots: 1, gpus: [], now: now)
        #expect(machine.attempts[second.attempt]?.status == .lost)
        #expect(machine.trials[1]?.status == .failed)
        #expect(machine.trials[1]?.lostCount == 2)
    }

    @Test mutating func theCampaignRetryBudget_capsRetriesAcrossTrials() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 3, retries: 5, policy: FailurePolicy(campaignRetryBudget: 1, backoffSeconds: 0), values: [.double(0.1)]))
        join("w")
        let a = try #require(ask("w"))
        end(a, on: "w", .exited(3), tail: "something odd")
        #expect(machine.trials[a.trial]?.status == .pending)
        let b = try #require(ask("w"))
        let c = try #require(ask("w"))
        _ = b
        end(c, on: "w", .exited(3), tail: "something odd")
        #expect(machine.trials[c.trial]?.status == .failed)
        #expect(machine.trials[c.trial]?.note?.contains("retry.campaign") == true)
    }

    @Test mutating func theSameUserErrorOnThreeTrials_stopsTheCampaign_andWorkersAreToldToExit() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 1, values: (1...10).map { .double(Double($0) / 100) }))
        join("w", slots: 2)
        var stopped = Effects()
        for _ in 0..<3 {
            let plan = try #require(ask("w"))
            stopped = end(plan, on: "w", .exited(1), tail: Self.traceback.replacingOccurrences(of: "line 3", with: "line \(plan.trial * 7)"))
        }
        #expect(machine.stoppedReason?.contains("ModuleNotFoundError") == true)
        #expect(stopped.changes.contains { if case .campaignStopped = $0 { true } else { false } })
        #expect(machine.isOver && !machine.isFinished)
        token += 1
        let after = machine.requestWork(token: RequestToken(token), worker: "w", incarnation: 1, requestID: token, now: now)
        #expect(after.replies.first?.reply == .noWork(.finished))
        #expect(machine.progress.pending == 7)
    }

    @Test mutating func aUserErrorTiedToOneParameterValue_skipsOnlyTrialsWithThatValue() throws {
        // lr 0.1 always crashes; 0.01 and 0.001 run. Grid order: 0.1, 0.01, 0.001, 0.1, ...
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 4, values: [.double(0.1), .double(0.01), .double(0.001)]))
        join("w")
        var skipped = 0
        while let plan = ask("w") {
            if plan.argv[2] == "0.1" {
                end(plan, on: "w", .exited(1), tail: "Traceback (most recent call last):\n  File \"t.py\", line 9, in f\nTypeError: lr 0.1 unsupported")
            } else {
                end(plan, on: "w", .exited(0))
            }
        }
        skipped = machine.trials.values.filter { $0.note?.hasPrefix("skipped") == true }.count
        #expect(machine.isFinished && machine.stoppedReason == nil)
        #expect(machine.trials.values.filter { $0.status == .failed }.count == 3)
        #expect(skipped == 1)
        #expect(machine.progress.completed == 8)
    }

    @Test mutating func aWorkerWhoseInfraFailuresSucceedElsewhere_isQuarantined() throws {
        machine = try CoordinatorMachine(spec: Self.spec(policy: FailurePolicy(retries: [.infra: 3], backoffSeconds: 0, quarantineAfter: 2)))
        join("bad")
        join("good")
        for _ in 0..<2 {
            let plan = try #require(ask("bad"))
            end(plan, on: "bad", .exited(1), tail: "OSError: [Errno 5] Input/output error")
            let retry = try #require(ask("good"))
            #expect(retry.trial == plan.trial)
            end(retry, on: "good", .exited(0))
        }
        #expect(machine.workers["bad"]?.state == .draining)
        #expect(ask("bad") == nil)
        #expect(machine.workers["good"]?.state == .active)
    }

    @Test mutating func restore_keepsRetryCountsAndTheCampaignBudget() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 3, retries: 5, policy: FailurePolicy(campaignRetryBudget: 1, backoffSeconds: 0), values: [.double(0.1)]))
        join("w")
        let a = try #require(ask("w"))
        end(a, on: "w", .exited(3))
        let (restored, _) = try CoordinatorMachine.restore(
            spec: machine.spec, trials: Array(machine.trials.values), attempts: Array(machine.attempts.values),
            workers: Array(machine.workers.values), now: now)
        machine = restored
        #expect(machine.trials[a.trial]?.retryCounts[.unknown] == 1)
        let b = try #require(ask("w"))
        #expect(b.trial == a.trial)
        end(b, on: "w", .exited(3))
        // The campaign's one retry was used before the restart.
        #expect(machine.trials[a.trial]?.status == .failed)
    }

    @Test mutating func aLeavingWorker_getsNoMoreWork_andAnAssignmentItNeverStartedIsPreempted() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 3))
        join("w", slots: 2)
        let running = try #require(ask("w"))
        let unconfirmed = try #require(ask("w"))
        _ = machine.heartbeat(worker: "w", incarnation: 1, running: [running.attempt], now: now)
        let effects = machine.heartbeat(worker: "w", incarnation: 1, running: [running.attempt], leaving: true, now: now)
        #expect(machine.workers["w"]?.state == .draining)
        #expect(machine.attempts[unconfirmed.attempt]?.status == .preempted)
        #expect(machine.attempts[running.attempt]?.status == .running)
        #expect(machine.trials[unconfirmed.trial]?.status == .pending)
        #expect(machine.trials[unconfirmed.trial]?.retriesUsed == 0)
        #expect(effects.changes.contains { if case .worker(let w) = $0 { w.state == .draining } else { false } })
        #expect(ask("w") == nil)
    }

    @Test mutating func aLeavingHeartbeatOnceTheCampaignIsFinished_isAGoodbye_thatChangesNothing() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 1, values: [.double(0.1)]))
        join("w")
        let only = try #require(ask("w"))
        end(only, on: "w", .exited(0))
        #expect(machine.isFinished)
        let effects = machine.heartbeat(worker: "w", incarnation: 1, running: [], leaving: true, now: now)
        #expect(effects.heartbeatAnswer?.shutdown == true)
        #expect(effects.changes.isEmpty, "\(effects.changes)")
        #expect(machine.workers["w"]?.state == .active)
    }

    @Test mutating func aQuarantinedWorker_comingBackAsANewIncarnation_staysQuarantined() throws {
        machine = try CoordinatorMachine(spec: Self.spec(policy: FailurePolicy(retries: [.infra: 3], backoffSeconds: 0, quarantineAfter: 1)))
        join("bad")
        join("good")
        let plan = try #require(ask("bad"))
        end(plan, on: "bad", .exited(1), tail: "OSError: [Errno 5] Input/output error")
        let retry = try #require(ask("good"))
        end(retry, on: "good", .exited(0))
        #expect(machine.workers["bad"]?.state == .draining)
        _ = machine.hello(worker: "bad", incarnation: 2, hostname: "h", pid: 2, slots: 1, gpus: [], now: now)
        #expect(machine.workers["bad"]?.state == .draining)
        token += 1
        let e = machine.requestWork(token: RequestToken(token), worker: "bad", incarnation: 2, requestID: token, now: now)
        #expect(e.replies.first?.reply == .noWork(.draining))
    }

    @Test mutating func afterALongCoordinatorOutage_anUnconfirmedAssignmentGetsAFreshLease() throws {
        join("w")
        let plan = try #require(ask("w"))
        now += 60_000  // down for a minute
        let (restored, _) = try CoordinatorMachine.restore(
            spec: machine.spec, trials: Array(machine.trials.values), attempts: Array(machine.attempts.values),
            workers: Array(machine.workers.values), now: now)
        machine = restored
        _ = machine.tick(now: now + 100)
        #expect(machine.attempts[plan.attempt]?.status == .assigned)
        _ = machine.heartbeat(worker: "w", incarnation: 1, running: [plan.attempt], now: now + 500)
        #expect(machine.attempts[plan.attempt]?.status == .running)
    }

    @Test mutating func anAttemptTheWorkerWasToldToStop_isNeverReattached() throws {
        machine = try CoordinatorMachine(spec: Self.spec(seeds: 1, retries: 1, values: [.double(0.1)]))
        join("w1")
        join("w2")
        let a = try #require(ask("w1"))
        _ = machine.heartbeat(worker: "w1", incarnation: 1, running: [a.attempt], now: now)
        now += 6_000
        _ = machine.heartbeat(worker: "w2", incarnation: 1, running: [], now: now)
        now += 5_000
        _ = machine.tick(now: now)  // w1 lost, trial requeued
        let b = try #require(ask("w2"))
        _ = machine.hello(worker: "w1", incarnation: 1, hostname: "h", pid: 1, slots: 1, gpus: [], now: now)
        let answer = try #require(machine.heartbeat(worker: "w1", incarnation: 1, running: [a.attempt], now: now).heartbeatAnswer)
        #expect(answer.cancel == [a.attempt])
        // b fails and is retried: the trial is pending again, but a stays stopped.
        _ = machine.attemptEnded(AttemptResult(attempt: b.attempt, outcome: .exited(3), startedAt: now, endedAt: now, wallMillis: 1),
                                 worker: "w2", incarnation: 1, now: now)
        #expect(machine.trials[a.trial]?.status == .pending)
        _ = machine.heartbeat(worker: "w1", incarnation: 1, running: [a.attempt], now: now)
        #expect(machine.attempts[a.attempt]?.status == .lost)
    }
}
