import InternCore
@testable import InternWorker
import Testing

/// The worker's lifecycle, driven by hand: no sockets, no processes, no sleeping. Time is an
/// origin instant plus offsets (the origin is read once; the machine never reads a clock).
@Suite struct WorkerLifecycleTests {
    typealias Action = WorkerLifecycle.Action

    let t0 = ContinuousClock.now

    /// Two slots, 10 s of drain grace, 5 s of termination grace, 5 s of flush, a 60 s give-up.
    static func settings(drainGrace: Duration = .seconds(10), giveUpAfter: Duration? = .seconds(60)) -> WorkerLifecycle.Settings {
        WorkerLifecycle.Settings(
            slots: 2, drainGrace: drainGrace, terminationGrace: .seconds(5), leaveFlush: .seconds(5), giveUpAfter: giveUpAfter)
    }

    func at(_ seconds: Double) -> ContinuousClock.Instant {
        t0 + .milliseconds(Int64(seconds * 1000))
    }

    /// A worker welcomed at `t0`, with these attempts assigned and their jobs started.
    func activeWorker(
        running attempts: [AttemptID] = [], drainGrace: Duration = .seconds(10), giveUpAfter: Duration? = .seconds(60)
    ) -> WorkerLifecycle {
        var machine = WorkerLifecycle(settings: Self.settings(drainGrace: drainGrace, giveUpAfter: giveUpAfter))
        machine.joinStarted(now: t0)
        machine.welcomed(now: t0)
        for attempt in attempts {
            #expect(machine.attemptAssigned(attempt) == [.start(attempt)])
            #expect(machine.jobStarted(attempt) == [])
        }
        return machine
    }

    /// Both slots stop and every attempt ends, reporting what stopped it.
    static func becomeIdle(_ machine: inout WorkerLifecycle) {
        for attempt in machine.runningAttempts { _ = machine.attemptEnded(attempt) }
        machine.slotStopped()
        machine.slotStopped()
    }

    // MARK: - Joining

    @Test func aNewWorker_asksForNoWorkUntilWelcomed_thenAsksOnEverySlot() {
        var machine = WorkerLifecycle(settings: Self.settings())
        #expect(machine.phase == .joining)
        #expect(!machine.asksForWork)
        machine.joinStarted(now: t0)
        #expect(machine.joinAttempt(now: at(1)) == [])
        machine.welcomed(now: at(2))
        #expect(machine.phase == .active)
        #expect(machine.asksForWork)
        #expect(!machine.isLeaving)
        #expect(machine.leaveDeadline == nil)
        #expect(machine.nextDeadline == nil)
    }

    @Test func aCoordinatorThatNeverAnswers_isGivenUpOnAtTheGiveUpTime_notBefore() {
        var machine = WorkerLifecycle(settings: Self.settings())
        machine.joinStarted(now: t0)
        #expect(machine.joinAttempt(now: at(59.999)) == [])
        #expect(machine.phase == .joining)
        #expect(machine.joinAttempt(now: at(60)) == [.giveUp])
        #expect(machine.phase == .givingUp)
        // Given up once: nothing more happens.
        #expect(machine.joinAttempt(now: at(120)) == [])
        #expect(machine.leave(now: at(121)) == [])
        #expect(machine.phase == .givingUp)
    }

    @Test func sayingHelloAgain_countsTheSilenceFromThatHello() {
        var machine = activeWorker()
        // The coordinator no longer knows the worker 100 s in: it says hello again.
        machine.joinStarted(now: at(100))
        #expect(machine.joinAttempt(now: at(159)) == [])
        #expect(machine.joinAttempt(now: at(160)) == [.giveUp])
    }

    @Test func withoutAGiveUpTime_theWorkerWaitsForever() {
        var machine = activeWorker(giveUpAfter: nil)
        machine.joinStarted(now: t0)
        #expect(machine.joinAttempt(now: at(1_000_000)) == [])
        #expect(machine.heartbeatUnanswered(now: at(1_000_000)) == [])
        #expect(machine.phase == .active)
    }

    @Test func aLeaveBeforeTheWelcome_abandonsTheJoin_andAWelcomeAfterItChangesNothing() {
        var machine = WorkerLifecycle(settings: Self.settings())
        machine.joinStarted(now: t0)
        // No slot asks yet: nothing to stop.
        #expect(machine.leave(now: at(1)) == [.announceLeave])
        #expect(machine.isLeaving)
        #expect(machine.joinAttempt(now: at(1.1)) == [.abandonJoin])
        // A welcome that was already on its way: the worker still leaves, and asks for nothing.
        machine.welcomed(now: at(1.2))
        #expect(machine.isLeaving)
        #expect(!machine.asksForWork)
        #expect(machine.attemptAssigned(1) == [.refuse(1)])
    }

    @Test func aLeavingWorkerSayingHelloAgain_goesOnUntilItsLeaveDeadline() {
        var machine = activeWorker()
        _ = machine.leave(now: at(10))
        let deadline = at(10 + 10 + 5 + 5 + 0.5)
        #expect(machine.leaveDeadline == deadline)
        #expect(machine.joinAttempt(now: deadline) == [])
        #expect(machine.joinAttempt(now: deadline + .milliseconds(1)) == [.abandonJoin])
    }

    // MARK: - Giving up

    @Test func silenceIsCountedFromTheLastAnswer_andJudgedWhenAHeartbeatGoesUnanswered() {
        var machine = activeWorker()
        machine.coordinatorAnswered(now: at(30))
        #expect(machine.heartbeatUnanswered(now: at(60)) == [])
        #expect(machine.heartbeatUnanswered(now: at(89.999)) == [])
        #expect(machine.heartbeatUnanswered(now: at(90)) == [.giveUp])
        #expect(machine.phase == .givingUp)
        #expect(machine.heartbeatUnanswered(now: at(91)) == [])
    }

    @Test func aHeartbeatReply_isAnAnswer() {
        var machine = activeWorker()
        #expect(machine.heartbeatAnswered(drain: false, shutdown: false, cancel: [], now: at(50)) == [])
        #expect(machine.heartbeatUnanswered(now: at(100)) == [])
        #expect(machine.heartbeatUnanswered(now: at(110)) == [.giveUp])
    }

    @Test func aWorkerRunningAnAttempt_neverGivesUp_butGivesUpOnceItEndsIfStillUnanswered() {
        var machine = activeWorker(running: [7])
        #expect(machine.heartbeatUnanswered(now: at(600)) == [])
        #expect(machine.phase == .active)
        #expect(machine.attemptEnded(7) == [.reportEnd(7, stoppedBy: nil)])
        #expect(machine.heartbeatUnanswered(now: at(601)) == [.giveUp])
    }

    @Test func aLeavingOrDrainedWorker_givesUpOnASilentCoordinatorToo() {
        var leaving = activeWorker()
        _ = leaving.leave(now: at(1))
        #expect(leaving.heartbeatUnanswered(now: at(60)) == [.giveUp])
        var drained = activeWorker()
        _ = drained.noMoreWork(.drained)
        #expect(drained.heartbeatUnanswered(now: at(60)) == [.giveUp])
    }

    // MARK: - Draining

    @Test func drained_stopsAsking_letsRunningAttemptsEnd_andFinishesOnceIdleAndDelivered() {
        var machine = activeWorker(running: [1])
        #expect(machine.noMoreWork(.drained) == [.stopAsking])
        #expect(machine.phase == .draining)
        #expect(!machine.asksForWork)
        // The other slot learns it too: nothing more to stop.
        #expect(machine.noMoreWork(.drained) == [])
        // Running attempts are neither preempted nor cancelled.
        #expect(machine.tick(now: at(3_600)) == [])
        #expect(machine.nextDeadline == nil)
        machine.slotStopped()
        machine.slotStopped()
        #expect(machine.nothingUndelivered() == [])
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: nil)])
        #expect(machine.nothingUndelivered() == [.exit])
        #expect(machine.isFinished)
        // Done is done.
        #expect(machine.nothingUndelivered() == [])
        #expect(machine.leave(now: at(3_601)) == [])
        #expect(machine.attemptAssigned(2) == [.refuse(2)])
    }

    @Test func aDrainedWorker_keepsResendingWhatIsUnacknowledged() {
        var machine = activeWorker()
        _ = machine.noMoreWork(.drained)
        Self.becomeIdle(&machine)
        #expect(machine.reportUnacknowledged(now: at(1)) == [])
        #expect(machine.reportUnacknowledged(now: at(3_000)) == [])
        #expect(machine.phase == .draining)
    }

    @Test func theCampaignOver_stopsResendingAFewSecondsAfterTheFirstFailureOnceIdle() {
        var machine = activeWorker(running: [1])
        #expect(machine.noMoreWork(.campaignOver) == [.stopAsking])
        // An attempt still runs: its output must get through, however long it takes.
        #expect(machine.reportUnacknowledged(now: at(10)) == [])
        #expect(machine.reportUnacknowledged(now: at(100)) == [])
        Self.becomeIdle(&machine)
        #expect(machine.reportUnacknowledged(now: at(200)) == [])
        #expect(machine.reportUnacknowledged(now: at(203)) == [])
        #expect(machine.reportUnacknowledged(now: at(203.001)) == [.dropUndelivered(campaignOver: true), .exit])
        #expect(machine.isFinished)
    }

    @Test func aWorkerSaysGoodbye_onlyOnceDoneWithTheCampaignOver_andEverythingDelivered() {
        // Told the campaign is over, everything delivered: it says goodbye.
        var told = activeWorker(running: [1])
        _ = told.noMoreWork(.campaignOver)
        #expect(!told.saysGoodbye)
        Self.becomeIdle(&told)
        #expect(!told.saysGoodbye)
        #expect(told.nothingUndelivered() == [.exit])
        #expect(told.saysGoodbye)
        // Drained, not told: nothing to confirm.
        var drained = activeWorker()
        _ = drained.noMoreWork(.drained)
        Self.becomeIdle(&drained)
        #expect(drained.nothingUndelivered() == [.exit])
        #expect(!drained.saysGoodbye)
        // Told, but the coordinator went before acknowledging: nobody to say goodbye to.
        var cutOff = activeWorker()
        _ = cutOff.noMoreWork(.campaignOver)
        Self.becomeIdle(&cutOff)
        _ = cutOff.reportUnacknowledged(now: at(1))
        #expect(cutOff.reportUnacknowledged(now: at(4.001)) == [.dropUndelivered(campaignOver: true), .exit])
        #expect(!cutOff.saysGoodbye)
    }

    @Test func shutdownWhileJobsRun_stopsAsking_andNeitherCancelsNorPreemptsThem() {
        var machine = activeWorker(running: [1, 2])
        #expect(machine.heartbeatAnswered(drain: false, shutdown: true, cancel: [], now: at(5)) == [.stopAsking])
        #expect(machine.phase == .draining)
        #expect(!machine.isLeaving)
        #expect(machine.tick(now: at(1_000)) == [])
        #expect(machine.runningAttempts == [1, 2])
        #expect(machine.attemptEnded(2) == [.reportEnd(2, stoppedBy: nil)])
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: nil)])
        machine.slotStopped()
        machine.slotStopped()
        #expect(machine.nothingUndelivered() == [.exit])
    }

    // MARK: - Leaving

    @Test func leave_stopsAsking_announcesItself_andPreemptsWhatStillRunsAtTheEndOfTheDrainGrace() {
        var machine = activeWorker(running: [2, 1])
        #expect(machine.leave(now: at(100)) == [.announceLeave, .stopAsking])
        #expect(machine.isLeaving)
        #expect(!machine.asksForWork)
        #expect(machine.phase == .leaving(WorkerLifecycle.Leave(preemptAt: at(110), deadline: at(120.5))))
        #expect(machine.leaveDeadline == at(120.5))
        #expect(machine.nextDeadline == at(110))
        #expect(machine.tick(now: at(109.999)) == [])
        #expect(machine.tick(now: at(110)) == [.preempt([1, 2])])
        // Once.
        #expect(machine.tick(now: at(111)) == [])
        #expect(machine.nextDeadline == nil)
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: .preempted)])
        #expect(machine.attemptEnded(2) == [.reportEnd(2, stoppedBy: .preempted)])
    }

    @Test func aSecondLeave_changesNothing() {
        var machine = activeWorker(running: [1])
        _ = machine.leave(now: at(100))
        let phase = machine.phase
        #expect(machine.leave(now: at(105)) == [])
        #expect(machine.heartbeatAnswered(drain: true, shutdown: false, cancel: [], now: at(106)) == [])
        #expect(machine.phase == phase)
        #expect(machine.nextDeadline == at(110))
    }

    @Test func aHeartbeatThatDrainsTheWorker_makesItLeaveAsOnSigterm() {
        var machine = activeWorker(running: [1])
        #expect(machine.heartbeatAnswered(drain: true, shutdown: false, cancel: [], now: at(50)) == [.announceLeave, .stopAsking])
        #expect(machine.leaveDeadline == at(70.5))
        #expect(machine.tick(now: at(60)) == [.preempt([1])])
    }

    @Test func aLeaveWithoutDrainGrace_preemptsAtOnce() {
        var machine = activeWorker(running: [1], drainGrace: .zero)
        #expect(machine.leave(now: at(5)) == [.announceLeave, .stopAsking, .preempt([1])])
        #expect(machine.tick(now: at(5)) == [])
        #expect(machine.leaveDeadline == at(15.5))
    }

    @Test func aLeaveWhileDraining_needsNoStopAsking_butPreemptsAtTheEndOfTheGrace() {
        var machine = activeWorker(running: [1])
        _ = machine.noMoreWork(.drained)
        #expect(machine.leave(now: at(10)) == [.announceLeave])
        #expect(machine.isLeaving)
        #expect(machine.tick(now: at(20)) == [.preempt([1])])
    }

    @Test func anAssignmentWhileLeaving_isRefused_andNeverCountsAsRunning() {
        var machine = activeWorker(running: [1])
        _ = machine.leave(now: at(10))
        #expect(machine.attemptAssigned(2) == [.refuse(2)])
        #expect(machine.runningAttempts == [1])
        #expect(machine.tick(now: at(20)) == [.preempt([1])])
    }

    @Test func anAttemptQueuedAhead_isHeldWhileItWaits_andStartsInItsTurnUnlessCancelledOrHandedBack() {
        // Taken on while attempt 1 runs: heartbeats name it, so the coordinator confirms it.
        var machine = activeWorker(running: [1])
        #expect(machine.attemptAssigned(2) == [.start(2)])
        #expect(machine.runningAttempts == [1, 2])
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: nil)])
        #expect(machine.queuedAttemptDue(2) == [.start(2)])
        #expect(machine.jobStarted(2) == [])

        // Cancelled while it waited: never started, reported cancelled.
        var cancelled = activeWorker(running: [1])
        _ = cancelled.attemptAssigned(2)
        #expect(cancelled.heartbeatAnswered(drain: false, shutdown: false, cancel: [2], now: at(1)) == [])
        #expect(cancelled.queuedAttemptDue(2) == [.reportEnd(2, stoppedBy: .cancelled)])
        #expect(cancelled.runningAttempts == [1])

        // The worker was drained (or is leaving) while it waited: handed back, preempted.
        var drained = activeWorker(running: [1])
        _ = drained.attemptAssigned(2)
        #expect(drained.noMoreWork(.drained) == [.stopAsking])
        #expect(drained.queuedAttemptDue(2) == [.reportEnd(2, stoppedBy: .preempted)])
        var leaving = activeWorker(running: [1])
        _ = leaving.attemptAssigned(2)
        _ = leaving.leave(now: at(1))
        #expect(leaving.queuedAttemptDue(2) == [.reportEnd(2, stoppedBy: .preempted)])
        #expect(leaving.runningAttempts == [1])
    }

    @Test func anAttemptThatEndsByItselfDuringTheDrainGrace_keepsItsOwnOutcome() {
        var machine = activeWorker(running: [1])
        _ = machine.leave(now: at(10))
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: nil)])
        #expect(machine.nextDeadline == nil)
        #expect(machine.tick(now: at(20)) == [])
    }

    @Test func anAttemptWhoseJobWasStillStartingAtTheEndOfTheGrace_isStoppedAsItStarts() {
        var machine = activeWorker()
        #expect(machine.attemptAssigned(1) == [.start(1)])
        _ = machine.leave(now: at(10))
        // No job yet: nothing to stop now, but the attempt is marked.
        #expect(machine.tick(now: at(20)) == [])
        #expect(machine.jobStarted(1) == [.preempt([1])])
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: .preempted)])
    }

    @Test func aLeavingWorker_finishesOnceDelivered_orDropsWhatIsUndeliveredPastItsLeaveDeadline() {
        var delivered = activeWorker(running: [1])
        _ = delivered.leave(now: at(10))
        Self.becomeIdle(&delivered)
        #expect(delivered.nothingUndelivered() == [.exit])
        #expect(delivered.isFinished)

        var cutOff = activeWorker(running: [1])
        _ = cutOff.leave(now: at(10))
        #expect(cutOff.reportUnacknowledged(now: at(15)) == [], "an attempt still runs")
        Self.becomeIdle(&cutOff)
        #expect(cutOff.reportUnacknowledged(now: at(30.5)) == [])
        #expect(cutOff.reportUnacknowledged(now: at(30.501)) == [.dropUndelivered(campaignOver: false), .exit])
        #expect(cutOff.isFinished)
    }

    @Test func theCampaignEndingWhileLeaving_dropsWhatIsUndeliveredAfterTheCampaignOverFlush() {
        var machine = activeWorker(running: [1])
        _ = machine.leave(now: at(10))
        #expect(machine.heartbeatAnswered(drain: false, shutdown: true, cancel: [], now: at(11)) == [])
        #expect(machine.isLeaving)
        Self.becomeIdle(&machine)
        #expect(machine.reportUnacknowledged(now: at(12)) == [])
        #expect(machine.reportUnacknowledged(now: at(15.001)) == [.dropUndelivered(campaignOver: true), .exit])
    }

    // MARK: - Cancels

    @Test func aCancel_stopsTheRunningJobOnce_andIgnoresAttemptsNotRunningHere() {
        var machine = activeWorker(running: [1, 2])
        #expect(machine.heartbeatAnswered(drain: false, shutdown: false, cancel: [1, 99], now: at(1)) == [.cancel([1])])
        // The coordinator repeats it until the end is reported: stopped once.
        #expect(machine.heartbeatAnswered(drain: false, shutdown: false, cancel: [1, 99], now: at(2)) == [])
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: .cancelled)])
        #expect(machine.attemptEnded(2) == [.reportEnd(2, stoppedBy: nil)])
        #expect(machine.attemptEnded(99) == [])
    }

    @Test func aCancelWhileTheJobStarts_stopsItAsItStarts() {
        var machine = activeWorker()
        #expect(machine.attemptAssigned(1) == [.start(1)])
        #expect(machine.heartbeatAnswered(drain: false, shutdown: false, cancel: [1], now: at(1)) == [])
        #expect(machine.jobStarted(1) == [.cancel([1])])
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: .cancelled)])
    }

    @Test func aCancelledAttemptThatIsAlsoPreempted_isReportedCancelled() {
        var machine = activeWorker(running: [1])
        _ = machine.heartbeatAnswered(drain: false, shutdown: false, cancel: [1], now: at(1))
        _ = machine.leave(now: at(2))
        #expect(machine.tick(now: at(12)) == [.preempt([1])])
        #expect(machine.attemptEnded(1) == [.reportEnd(1, stoppedBy: .cancelled)])
    }

    @Test func drainShutdownAndCancelInOneReply_areAllActedOn() {
        var machine = activeWorker(running: [1])
        let actions = machine.heartbeatAnswered(drain: true, shutdown: true, cancel: [1], now: at(1))
        #expect(actions == [.announceLeave, .stopAsking, .cancel([1])])
        _ = machine.attemptEnded(1)
        machine.slotStopped()
        machine.slotStopped()
        // The campaign is over too: the shorter flush applies.
        #expect(machine.reportUnacknowledged(now: at(2)) == [])
        #expect(machine.reportUnacknowledged(now: at(5.001)) == [.dropUndelivered(campaignOver: true), .exit])
    }

    // MARK: - Slots and what the shell asks

    @Test func theWorkerIsNotDone_whileASlotStillAsks_orWhileActive() {
        var machine = activeWorker()
        machine.slotStopped()
        machine.slotStopped()
        #expect(machine.nothingUndelivered() == [], "an active worker never finishes on its own")
        var draining = activeWorker()
        _ = draining.noMoreWork(.campaignOver)
        draining.slotStopped()
        #expect(draining.nothingUndelivered() == [], "one slot is still in a request")
        draining.slotStopped()
        #expect(draining.nothingUndelivered() == [.exit])
    }

    @Test func runningAttempts_areNamedInOrder() {
        let machine = activeWorker(running: [9, 3, 5])
        #expect(machine.runningAttempts == [3, 5, 9])
    }

    @Test func theSettingsComeFromTheWorkersOptions() {
        let options = WorkerOptions(
            connect: "ipc:///tmp/x.sock", id: WorkerID("w"), slots: 3, terminationGraceMillis: 2_000, drainGraceMillis: 7_000,
            leaveFlushMillis: 1_000, giveUpMillis: 0)
        let settings = WorkerLifecycle.Settings(options)
        #expect(settings.slots == 3)
        #expect(settings.drainGrace == .seconds(7))
        #expect(settings.terminationGrace == .seconds(2))
        #expect(settings.leaveFlush == .seconds(1))
        #expect(settings.giveUpAfter == nil)
        var withGiveUp = options
        withGiveUp.giveUpMillis = 1_500
        #expect(WorkerLifecycle.Settings(withGiveUp).giveUpAfter == .milliseconds(1_500))
    }

    @Test func aWorkerErrorReadsAsItsMessage_andCarriesItsCode() {
        let error = WorkerError(code: .fenced, message: "a newer incarnation of worker w joined: this one stops")
        #expect(error.description == error.message)
        #expect(error.code == .fenced)
        #expect(error.code != .gaveUp)
        #expect("\(WorkerError.Code.gaveUp)" == "gaveUp")
    }
}
