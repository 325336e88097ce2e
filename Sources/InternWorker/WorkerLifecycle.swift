import InternCore

/// The worker's lifecycle as a value type: the phase it is in, the attempts it runs and what intern
/// asked of each (cancel, preempt), and the deadlines that follow from a leave or a silent
/// coordinator.
///
/// The `Worker` shell reads the clock, feeds events in (with `now`) and carries out the actions
/// they return; this type does no IO and reads no clock, so every transition, deadline and timeout
/// is tested without sockets or sleeping. Events that only record a fact return nothing.
///
/// ```
/// joining ─welcomed─▶ active ─noMoreWork─▶ draining ──┐
///    │                  │                     │         ├─nothingUndelivered (idle)─▶ finished
///    └──────leave───────┴───────leave─────────┴─▶ leaving ┘
///                                                 (tick: preempt when the drain grace ends)
/// any phase but finished ─heartbeatUnanswered, joinAttempt (silent past the give-up time,
///                          nothing running)─▶ givingUp
/// ```
struct WorkerLifecycle: Sendable {
    /// The monotonic instants the shell passes in.
    typealias Instant = ContinuousClock.Instant

    /// The worker's settings that shape its lifecycle.
    struct Settings: Sendable, Equatable {
        /// How many slots ask for work: the worker is idle once all of them have stopped.
        var slots: Int
        /// When leaving: how long running attempts may go on before they are preempted.
        var drainGrace: Duration
        /// How long a stopped job has between SIGTERM and SIGKILL.
        var terminationGrace: Duration
        /// When leaving: how long to keep delivering once every attempt has ended.
        var leaveFlush: Duration
        /// Added to the leave deadline so that a job SIGKILLed at the end of its grace still has
        /// its end delivered.
        var leaveSlack: Duration = .milliseconds(500)
        /// Silence from the coordinator after which an idle worker gives up; `nil`: never.
        var giveUpAfter: Duration?
        /// Once the campaign is over and everything has ended: how long to keep resending what
        /// was never acknowledged (it was stored; only the acknowledgement was lost with the
        /// closing coordinator).
        var campaignOverFlush: Duration = .seconds(3)
    }

    /// Where the worker is in its life.
    enum Phase: Sendable, Equatable {
        /// Dialing and saying hello; no Welcome yet.
        case joining
        /// Every free slot asks for work.
        case active
        /// No new work (the coordinator drains this worker, or the campaign is over); running
        /// attempts go on to their end.
        case draining
        /// Told to leave (SIGTERM, SIGINT, or drained by a heartbeat reply): no new work; running
        /// attempts are preempted at the end of the drain grace; the worker is gone by the deadline.
        case leaving(Leave)
        /// The coordinator has been silent past the give-up time while nothing ran: the worker ends
        /// with an error.
        case givingUp
        /// No slot asks, nothing runs, nothing waits for delivery: the worker ends.
        case finished
    }

    /// The deadlines of a leave.
    struct Leave: Sendable, Equatable {
        /// When the drain grace ends: the attempts still running are preempted.
        var preemptAt: Instant
        /// When the worker stops waiting for the coordinator (requests are cut short to end by
        /// then, and what it never acknowledged is dropped): drain grace, termination grace and
        /// flush time after the leave.
        var deadline: Instant
        /// Whether the drain grace is over and the running attempts were told to stop.
        var preempted = false
    }

    /// Why the coordinator has no more work for this worker.
    enum NoMoreWork: Sendable, Equatable {
        /// It drains this worker (`intern drain`, quarantine).
        case drained
        /// The campaign is over: finished, or the coordinator shuts down.
        case campaignOver
    }

    /// What intern did to an attempt's job, which its reported outcome says (a job that ended by
    /// itself keeps its own outcome).
    enum StopCause: Sendable, Equatable {
        /// The coordinator cancelled it.
        case cancelled
        /// The worker left and the drain grace ended before the attempt did.
        case preempted
    }

    /// What the shell does in answer to an event.
    enum Action: Sendable, Equatable {
        /// Ask for no more work: end the slots' outstanding work requests.
        case stopAsking
        /// The worker has begun to leave: say so now, in the log and in a heartbeat sent at once
        /// rather than at the next interval.
        case announceLeave
        /// Start this assigned attempt's job.
        case start(AttemptID)
        /// Do not start this assigned attempt (the worker is leaving); report it `preempted`.
        case refuse(AttemptID)
        /// Stop these attempts' jobs (SIGTERM to the process group, SIGKILL after the
        /// termination grace): the coordinator cancelled them.
        case cancel([AttemptID])
        /// Stop these attempts' jobs the same way: the drain grace is over.
        case preempt([AttemptID])
        /// Report this attempt's end; `stoppedBy` says what intern did to its job, if anything.
        case reportEnd(AttemptID, stoppedBy: StopCause?)
        /// The coordinator has been silent past the give-up time and nothing runs: end the worker
        /// with an error (what it still holds is lost).
        case giveUp
        /// Told to leave before the coordinator ever answered (or, saying hello again, past the
        /// leave deadline): stop joining and end the worker with an error.
        case abandonJoin
        /// Stop resending what the coordinator never acknowledged, and drop it: the campaign is
        /// over (it was stored, the acknowledgement lost) or the leave deadline has passed.
        case dropUndelivered(campaignOver: Bool)
        /// Everything is done: the worker's loops end and `run()` returns.
        case exit
    }

    /// What intern asked of a running attempt.
    private struct Marks: Sendable {
        /// The coordinator cancelled it.
        var cancelled = false
        /// The drain grace ended while it ran.
        var preempted = false
        /// Its job has started (before that, there is nothing to stop; `jobStarted` stops it).
        var job = false
    }

    /// The settings it was made with.
    let settings: Settings
    /// The current phase.
    private(set) var phase: Phase = .joining
    /// Whether a Welcome ever came (a leave may have come before it).
    private var joined = false
    /// The coordinator said the campaign is over (while draining or leaving alike).
    private var campaignOver = false
    /// Since when the coordinator has not answered; `nil` until the worker starts joining.
    private var silentSince: Instant?
    /// The attempts assigned and not yet ended.
    private var attempts: [AttemptID: Marks] = [:]
    private var slotsStopped = 0
    /// Once everything has ended: until when undelivered output is resent (set by the first
    /// unacknowledged report after that).
    private var flushDeadline: Instant?
    /// Undelivered output was dropped (the coordinator is gone).
    private var droppedUndelivered = false

    /// Creates the lifecycle of a worker that has not started joining yet.
    init(settings: Settings) {
        self.settings = settings
    }

    // MARK: - What the shell asks

    /// Whether the slots ask for work.
    var asksForWork: Bool { phase == .active }

    /// Whether the worker was told to leave (heartbeats say so).
    var isLeaving: Bool {
        if case .leaving = phase { true } else { false }
    }

    /// When the worker stops waiting for the coordinator, once leaving.
    var leaveDeadline: Instant? {
        if case .leaving(let leave) = phase { leave.deadline } else { nil }
    }

    /// Whether the worker is done (its loops end).
    var isFinished: Bool { phase == .finished }

    /// Whether the worker, done, says goodbye to the coordinator: it learned the campaign is over
    /// and everything it sent was acknowledged (so the coordinator is there to hear it). The
    /// coordinator lingers until every worker it told has said goodbye: a "finished" it handed
    /// to a connection that then dropped is not taken as heard.
    var saysGoodbye: Bool { phase == .finished && campaignOver && !droppedUndelivered }

    /// The attempts assigned and not yet ended, in order (heartbeats and hellos name them).
    var runningAttempts: [AttemptID] { attempts.keys.sorted() }

    /// The next instant at which `tick` has something to do (the end of the drain grace while
    /// attempts run), or `nil` when there is none. Only a leave makes one: the shell that waits
    /// for it waits for a leave too.
    var nextDeadline: Instant? {
        guard case .leaving(let leave) = phase, !leave.preempted, !attempts.isEmpty else { return nil }
        return leave.preemptAt
    }

    private var isIdle: Bool { slotsStopped >= settings.slots && attempts.isEmpty }

    // MARK: - Joining

    /// The worker starts dialing, or saying hello (at first, or again when the coordinator no
    /// longer knows it): the coordinator's silence is counted from `now`.
    mutating func joinStarted(now: Instant) {
        silentSince = now
    }

    /// The worker is about to dial or say hello (again; the last try got no answer). `[.giveUp]`
    /// when the coordinator has been silent past the give-up time while nothing runs;
    /// `[.abandonJoin]` when the worker is leaving and was never welcomed, or is past its leave
    /// deadline; else nothing (go on).
    mutating func joinAttempt(now: Instant) -> [Action] {
        if let giveUp = giveUpIfSilent(now: now) { return [giveUp] }
        if case .leaving(let leave) = phase, !joined || now > leave.deadline { return [.abandonJoin] }
        return []
    }

    /// A Welcome came: the worker asks for work (unless it was told to leave meanwhile).
    mutating func welcomed(now: Instant) {
        joined = true
        silentSince = now
        if phase == .joining { phase = .active }
    }

    // MARK: - The coordinator

    /// The coordinator answered a heartbeat (a refusal is an answer too): it is not silent.
    mutating func coordinatorAnswered(now: Instant) {
        silentSince = now
    }

    /// A heartbeat got no answer (none came in time, or one that did not decode or authenticate):
    /// `[.giveUp]` when the coordinator has now been silent past the give-up time and nothing
    /// runs, else nothing. The silence is judged when a request goes unanswered, never between
    /// requests: the worker only knows the coordinator is silent when it asked.
    mutating func heartbeatUnanswered(now: Instant) -> [Action] {
        giveUpIfSilent(now: now).map { [$0] } ?? []
    }

    /// A heartbeat's reply. `drain`: leave, as on SIGTERM (see `leave`); `shutdown`: the campaign
    /// is over, ask for no more work; `cancel`: stop those running attempts (each once).
    mutating func heartbeatAnswered(drain: Bool, shutdown: Bool, cancel: [AttemptID], now: Instant) -> [Action] {
        coordinatorAnswered(now: now)
        var actions: [Action] = []
        if drain { actions += leave(now: now) }
        if shutdown { actions += noMoreWork(.campaignOver) }
        var cancelled: [AttemptID] = []
        for attempt in cancel where attempts[attempt].map({ !$0.cancelled }) ?? false {
            attempts[attempt]!.cancelled = true
            if attempts[attempt]!.job { cancelled.append(attempt) }
        }
        if !cancelled.isEmpty { actions.append(.cancel(cancelled)) }
        return actions
    }

    /// The coordinator has no more work for this worker (a `NoWork` reply, or a heartbeat's
    /// shutdown): an active worker stops asking; running attempts go on to their end.
    mutating func noMoreWork(_ reason: NoMoreWork) -> [Action] {
        if reason == .campaignOver { campaignOver = true }
        guard phase == .active else { return [] }
        phase = .draining
        return [.stopAsking]
    }

    // MARK: - Leaving

    /// Told to leave (SIGTERM, SIGINT, or drained by a heartbeat reply): no new work, running
    /// attempts go on for the drain grace and are then preempted, and the worker is gone by the
    /// leave deadline (drain grace, termination grace, flush time and a little slack from `now`).
    /// Only the first leave counts; a later one, or one after the worker gave up or finished,
    /// does nothing.
    mutating func leave(now: Instant) -> [Action] {
        let wasAsking: Bool
        switch phase {
        case .leaving, .givingUp, .finished: return []
        case .joining, .draining: wasAsking = false
        case .active: wasAsking = true
        }
        let grace = settings.drainGrace
        phase = .leaving(Leave(
            preemptAt: now + grace,
            deadline: now + grace + settings.terminationGrace + settings.leaveFlush + settings.leaveSlack))
        return [.announceLeave] + (wasAsking ? [.stopAsking] : []) + preemptIfDue(now: now)
    }

    /// Time has passed: at the end of the drain grace the attempts still running are preempted
    /// (once).
    mutating func tick(now: Instant) -> [Action] {
        preemptIfDue(now: now)
    }

    private mutating func preemptIfDue(now: Instant) -> [Action] {
        guard case .leaving(var leave) = phase, !leave.preempted, now >= leave.preemptAt else { return [] }
        leave.preempted = true
        phase = .leaving(leave)
        // Attempts whose job has not started yet are marked too: `jobStarted` stops them.
        for attempt in attempts.keys { attempts[attempt]!.preempted = true }
        let running = attempts.filter(\.value.job).keys.sorted()
        return running.isEmpty ? [] : [.preempt(running)]
    }

    private mutating func giveUpIfSilent(now: Instant) -> Action? {
        guard let giveUpAfter = settings.giveUpAfter, let silentSince else { return nil }
        switch phase {
        case .givingUp, .finished: return nil
        case .joining, .active, .draining, .leaving: break
        }
        // Running jobs are never abandoned: a worker with work holds on.
        guard attempts.isEmpty, now - silentSince >= giveUpAfter else { return nil }
        phase = .givingUp
        return .giveUp
    }

    // MARK: - Attempts and slots

    /// An assignment came: `[.start(attempt)]`, or `[.refuse(attempt)]` once the worker is leaving
    /// (or done): the coordinator may already have settled it as preempted.
    mutating func attemptAssigned(_ attempt: AttemptID) -> [Action] {
        switch phase {
        case .leaving, .givingUp, .finished:
            return [.refuse(attempt)]
        case .joining, .active, .draining:
            attempts[attempt] = Marks()
            return [.start(attempt)]
        }
    }

    /// A queued attempt's turn came (it was assigned ahead, and the attempt before it on its
    /// slot ended): `[.start(attempt)]`, or `[.reportEnd(attempt, stoppedBy:)]` when it must not
    /// run: cancelled while it waited, or the worker takes no more work (drained, leaving: it is
    /// handed back unstarted, as preempted, for another worker to run).
    mutating func queuedAttemptDue(_ attempt: AttemptID) -> [Action] {
        guard let marks = attempts[attempt] else { return [] }
        let stop: StopCause? = switch phase {
        case _ where marks.cancelled: .cancelled
        case _ where marks.preempted: .preempted
        case .joining, .active: nil
        case .draining, .leaving, .givingUp, .finished: .preempted
        }
        guard let stop else { return [.start(attempt)] }
        attempts[attempt] = nil
        return [.reportEnd(attempt, stoppedBy: stop)]
    }

    /// The attempt's job has started: `[.cancel([attempt])]` or `[.preempt([attempt])]` when that
    /// was asked while it was starting, else nothing.
    mutating func jobStarted(_ attempt: AttemptID) -> [Action] {
        guard let marks = attempts[attempt] else { return [] }
        attempts[attempt]!.job = true
        if marks.cancelled { return [.cancel([attempt])] }
        if marks.preempted { return [.preempt([attempt])] }
        return []
    }

    /// The attempt ended (or never started): `[.reportEnd(attempt, stoppedBy:)]`, where a cancel
    /// counts before a preemption; nothing for an attempt it does not know.
    mutating func attemptEnded(_ attempt: AttemptID) -> [Action] {
        guard let marks = attempts.removeValue(forKey: attempt) else { return [] }
        let cause: StopCause? = marks.cancelled ? .cancelled : marks.preempted ? .preempted : nil
        return [.reportEnd(attempt, stoppedBy: cause)]
    }

    /// A slot stopped asking for work (for good).
    mutating func slotStopped() {
        slotsStopped += 1
    }

    // MARK: - Delivery

    /// Everything reported so far is acknowledged: once no slot asks and nothing runs, the worker
    /// is done (`[.exit]`).
    mutating func nothingUndelivered() -> [Action] {
        switch phase {
        case .draining, .leaving:
            guard isIdle else { return [] }
            phase = .finished
            return [.exit]
        case .joining, .active, .givingUp, .finished:
            return []
        }
    }

    /// A report was not acknowledged (it is resent). Once everything has ended and the campaign
    /// is over, resending stops `campaignOverFlush` after the first such failure; once leaving, at
    /// the leave deadline. Then `[.dropUndelivered(campaignOver:), .exit]`; else nothing. A worker
    /// that is only drained keeps resending (its coordinator is there, or it gives up on it).
    mutating func reportUnacknowledged(now: Instant) -> [Action] {
        let leaveDeadline: Instant?
        switch phase {
        case .draining: leaveDeadline = nil
        case .leaving(let leave): leaveDeadline = leave.deadline
        case .joining, .active, .givingUp, .finished: return []
        }
        guard campaignOver || leaveDeadline != nil, isIdle else { return [] }
        let deadline = flushDeadline ?? (campaignOver ? now + settings.campaignOverFlush : leaveDeadline!)
        flushDeadline = deadline
        guard now > deadline else { return [] }
        phase = .finished
        droppedUndelivered = true
        return [.dropUndelivered(campaignOver: campaignOver), .exit]
    }
}
