import Foundation
import InternAuth
import InternCore
import InternProtocol
import InternStore
import Logging
import NNG
import Synchronization

/// The coordinator process's shell: receives worker requests on NNG reply contexts, feeds them
/// to `CoordinatorMachine`, commits the resulting changes to the store, then answers.
///
/// Runs on its own thread (a `DedicatedExecutor`), so its synchronous SQLite commits and log
/// appends never block Swift's cooperative pool. Work requests are parked as suspended
/// handlers; each parked request is one free slot of one worker (a credit).
public actor Coordinator {
    let executor: DedicatedExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let options: CoordinatorOptions
    let store: CampaignStore
    let ingestor: ReportIngestor
    /// Checkpoints the store's write-ahead log every ``checkpointInterval``, off the coordinator's
    /// thread (nil: it could not open its connection, and commits checkpoint as SQLite does).
    let checkpointer: WALCheckpointer?
    static let checkpointInterval: Duration = .seconds(1)
    let codec: MessageCodec
    let gatekeeper: Gatekeeper
    let rejections = Mutex(RejectionLog())
    /// The network connections and whether their peers authenticated (see `screen`).
    let gate: Mutex<ConnectionGate>
    /// Connections to hang up on at the warden's next round (rejected, evicted, timed out).
    let hangUps = Mutex<[NNG.Pipe]>([])
    let hostname = ProcessInfo.processInfo.hostName
    let logger: Logger
    let incarnation = UInt64.random(in: 1...UInt64.max)
    var machine: CoordinatorMachine
    var parked: [RequestToken: CheckedContinuation<WorkReply, Never>] = [:]
    var nextToken: UInt64 = 1
    /// When the machine is due to be ticked next (wall-clock milliseconds), as its last event said.
    var machineDeadline: Timestamp?
    /// When the clock loop is set to wake (wall-clock milliseconds); a nearer deadline rings it.
    var wakeAt: Timestamp = .max
    let alarm = Alarm()
    /// When the store was last read for control requests, and this coordinator last marked alive.
    var controlPolledAt: Timestamp = 0
    var markedAliveAt: Timestamp = 0
    /// Set when a commit failed: the coordinator stops (see `carryOut`).
    var storeFailure: String?
    /// Workers that said goodbye once told the campaign is over (a leaving heartbeat answered
    /// with shutdown): they heard it. A "finished" handed to a connection that then dropped is
    /// not heard; the worker asks again while the coordinator lingers.
    var saidGoodbye: Set<WorkerID> = []
    /// Reply contexts (each with its receive loop) and, of them, those holding a parked work
    /// request (a long-poll: its reply goes through the context that received it). Counted off
    /// the coordinator's thread. A long-poll that leaves fewer than ``spareReceivers`` free opens
    /// another through `receiverDemand`; a loop that finds more than twice that many free closes.
    /// So the contexts number the long-polls plus 8 to 16: 1,000 workers' requests queued behind
    /// a busy coordinator once opened a context (and a task) each and kept them, 500 MB at the end
    /// of a 30,000-trial run.
    nonisolated let receivers = Atomic<Int>(0)
    nonisolated let longPolls = Atomic<Int>(0)
    static let spareReceivers = 8
    let receiverDemand: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation) = AsyncStream<Void>.makeStream()
    let startedAt: Timestamp
    /// The socket, once ``listen()`` opened it.
    var bound: Socket?
    /// How long reports take to store and slots wait for their next attempt: recorded here, read
    /// by whoever shows them (the dashboard's `/metrics`, `intern run --http`).
    public nonisolated let measurements: CoordinatorMeasurements
    /// Pairs the ends stored with the slots' next assignments, for ``measurements``.
    var decisions = DecisionClock()
    /// How often workers report and heartbeat, by the size of the fleet (``pacedIntervals(now:)``).
    let pacing: FleetPacing
    var paced: (report: UInt64, heartbeat: UInt64, at: Timestamp) = (0, 0, 0)

    /// Opens the campaign in `store`: a fresh campaign, or the one stored there, continued.
    public init(spec: CampaignSpec, store: CampaignStore, options: CoordinatorOptions, logger: Logger) throws {
        executor = DedicatedExecutor(label: "intern.coordinator")
        self.options = options
        self.store = store
        self.logger = logger
        ingestor = ReportIngestor(store: store)
        do {
            checkpointer = try WALCheckpointer(store: store)
        } catch {
            // Then the writer checkpoints by itself, past `CampaignStore.writerCheckpointPages`.
            logger.warning("cannot checkpoint the store in the background; commits will", metadata: ["error": "\(error)"])
            checkpointer = nil
        }
        codec = MessageCodec(maxMessageBytes: options.maxMessageBytes)
        measurements = CoordinatorMeasurements(campaign: spec.name)
        gatekeeper = Gatekeeper(secret: options.credentials?.secret, allowUnsealedFromNetwork: options.insecure)
        gate = Mutex(ConnectionGate(limits: options.connectionLimits))
        pacing = FleetPacing(
            reportMillis: options.logFlushIntervalMillis, heartbeatMillis: UInt64(max(1, options.config.heartbeatIntervalMillis)),
            leaseMillis: UInt64(max(1, options.config.leaseTimeoutMillis)))
        let now = Self.now()
        startedAt = now
        let attempts = try store.attempts()
        let info = try store.info()
        // What the attempts still in flight reported so far, read once per attempt: their stage's
        // objectives (last or best, as each says) and the constrained metrics' last values.
        let trials = try store.trials()
        let stages = spec.stages
        let stageOf = Dictionary(trials.map { ($0.id, stages[min($0.stage, stages.count - 1)]) }, uniquingKeysWith: { a, _ in a })
        var objectives: [AttemptID: Double] = [:]
        var constraintValues: [AttemptID: [String: Double]] = [:]
        // And the constrained metrics of the attempt that completed each infeasible trial: the
        // sampler ranks those trials by how far they missed.
        let infeasible = Set(trials.filter { $0.feasible == false }.map(\.id))
        for attempt in attempts where !attempt.status.isTerminal || (attempt.status == .succeeded && infeasible.contains(attempt.trial)) {
            guard let stage = stageOf[attempt.trial], !stage.objectives.isEmpty || !stage.constraints.isEmpty else { continue }
            for series in try store.metricSeries(attempt: attempt.id) {
                for (index, objective) in stage.objectives.enumerated() where series.name == objective.metric {
                    guard let value = objective.summarize(last: series.lastValue, min: series.minValue, max: series.maxValue) else { continue }
                    if index == 0 { objectives[attempt.id] = value } else { constraintValues[attempt.id, default: [:]][series.name] = value }
                }
                if stage.constraints.contains(where: { $0.metric == series.name }), let value = series.lastValue {
                    constraintValues[attempt.id, default: [:]][series.name] = value
                }
            }
        }
        // The pruners' memory is their metrics' stored points: replayed, trial by trial.
        var pruningPoints: [(trial: TrialID, step: Int64, value: Double)] = []
        for attempt in attempts.sorted(by: { $0.id < $1.id }) {
            guard let pruning = stageOf[attempt.trial]?.pruning else { continue }
            for point in try store.metricPoints(attempt: attempt.id, name: pruning.metric) {
                pruningPoints.append((attempt.trial, point.step, point.value))
            }
        }
        let (machine, effects) = try CoordinatorMachine.restore(
            spec: spec, config: options.config, trials: trials, attempts: attempts, workers: try store.workers(),
            objectives: objectives, constraintValues: constraintValues, paused: info?.paused ?? false, startedAt: info?.createdAt,
            adjustments: info?.adjustments ?? CampaignAdjustments(), fedStages: info?.fedStages ?? [],
            reportedMetrics: trials.isEmpty ? [:] : try store.metricNamesByStage(), pruningPoints: pruningPoints, now: now)
        self.machine = machine
        try store.apply(effects.changes)
        machineDeadline = effects.nextDeadline
        // Validation asked for while no coordinator ran (after the campaign finished, say):
        // applied before the campaign could end again, so it reopens a finished one.
        for request in try store.pendingControlRequests() where request.kind == .validate {
            try store.take(request.id, now: now)
            let amounts = Self.validationAmounts(request.target)
            let effects = self.machine.validate(top: amounts.top, repeats: amounts.repeats, actor: request.actor, reopen: true, now: now)
            try store.apply(effects.changes)
            if let deadline = effects.nextDeadline { machineDeadline = min(machineDeadline ?? deadline, deadline) }
            try store.markHandled(request.id, outcome: effects.said ?? "nothing validated", refused: effects.declined, now: now)
        }
    }

    /// The amounts of a `validate` control request (`TOP REPEATS`, `-` for the spec's).
    static func validationAmounts(_ target: String) -> (top: Int?, repeats: Int?) {
        let amounts = target.split(separator: " ").map { Int($0) }
        return (amounts.first ?? nil, amounts.dropFirst().first ?? nil)
    }

    /// Unix time in milliseconds.
    static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// A monotonic instant in nanoseconds, for the measurements' durations.
    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    // MARK: - Running

    /// Listens and serves workers until the campaign is finished (plus a short linger so
    /// workers learn it), or until the task is cancelled.
    public func run() async throws {
        let socket = try bound ?? listen()
        defer {
            // Bounded: a stopping coordinator never hangs in NNG (see Socket.close(waitingAtMost:)).
            if !socket.close(waitingAtMost: .seconds(5)) {
                logger.critical("the NNG socket did not close within 5 s; stopping without it")
            }
        }
        try? store.markCoordinatorAlive(pid: getpid(), host: hostname, now: Self.now())
        defer { try? store.markCoordinatorAlive(pid: nil, now: Self.now()) }
        let (demand, demandContinuation) = receiverDemand
        let initialReceivers = Self.spareReceivers

        try await withThrowingDiscardingTaskGroup { group in
            for _ in 0..<initialReceivers {
                let context = try socket.openContext()
                group.addTask { await self.serve(context) }
            }
            group.addTask { await self.clock() }
            group.addTask { await self.warden() }
            if let checkpointer {
                group.addTask { await checkpointer.run(every: Self.checkpointInterval) }
            }
            group.addTask {
                // Once the campaign is over (and workers had time to learn it), or the store
                // failed, stop receiving: ending `demand` ends the loop below.
                defer { demandContinuation.finish() }
                try await self.waitUntilDone()
            }
            // A parked long-poll holds its context; open another so requests keep flowing.
            for await _ in demand {
                let context = try socket.openContext()
                group.addTask { await self.serve(context) }
            }
            group.cancelAll()
        }
    }

    /// Opens the socket and listens on every URL of the options, so that a caller can know the
    /// coordinator is there before it starts workers (`run()` does it when no one did): an address
    /// in use, or one that cannot be listened on, throws, and nothing was started. On `ipc://`,
    /// only peers of this user (or root) are accepted (`SO_PEERCRED`), whatever the socket file's
    /// mode.
    @discardableResult
    public func listen() throws -> Socket {
        if let bound { return bound }
        // A sealed message is a little longer than the message it carries.
        let socket = try Socket.reply(maxMessageSize: options.maxMessageBytes + AuthFrame.sealingOverhead)
        do {
            if options.listen.contains(where: { $0.hasPrefix("ipc://") }) {
                try socket.restrictIPCPeers(to: [UInt32(geteuid()), 0])
            }
            try socket.screenConnections { [weak self] pipe in self?.screen(pipe) ?? false }
            try socket.onPipeEvent { [weak self] event in
                if event.kind == .removed { self?.gate.withLock { $0.closed(event.pipeID) } }
            }
            for url in options.listen {
                try socket.listen(url, tls: url.hasPrefix("tls+") ? options.tls : nil)
                logger.info("listening", metadata: ["url": "\(url)"])
            }
        } catch {
            socket.close()
            throw CoordinatorError(code: .cannotListen, message: "cannot listen on \(options.listen.joined(separator: ", ")): \(error)")
        }
        bound = socket
        return socket
    }

    func waitUntilDone() async throws {
        // A campaign stopped by its circuit breaker still waits for the attempts in flight:
        // their results and logs are stored before the coordinator goes.
        while !(machine.isFinished || (machine.stoppedReason != nil && machine.attemptsInFlight == 0)) {
            if let storeFailure { throw CoordinatorError(code: .storeFailed, message: "the store cannot be written: \(storeFailure)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Keep answering until every live worker has said goodbye (its parked work requests were
        // answered "finished" at once, and it heard), or the linger has passed.
        let deadline = ContinuousClock.now + .milliseconds(options.lingerMillis)
        while ContinuousClock.now < deadline {
            let live = machine.workers.values.filter { $0.state != .lost }.map(\.id)
            if live.allSatisfy(saidGoodbye.contains) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Replies just handed to NNG (the last report's acknowledgement) must leave before the
        // socket closes: closing drops queued messages.
        try await Task.sleep(for: .milliseconds(200))
    }

    /// The clock: sleeps until the machine is due (the deadline its last event gave) or the
    /// store is due to be read for control requests, whichever is first; a machine event with a
    /// nearer deadline rings it awake.
    nonisolated func clock() async {
        while !Task.isCancelled {
            let delay = await armClock()
            await alarm.wait(until: .now + .milliseconds(delay))
            // Ends quietly when the group is cancelled (the campaign is over, or a signal).
            if Task.isCancelled { break }
            await clockWoke()
        }
        // Parked work requests wait on continuations that cancellation does not reach.
        await releaseParked()
    }

    /// Sets when the clock wakes next; returns how long it sleeps until then, in milliseconds.
    func armClock() -> Int64 {
        let now = Self.now()
        wakeAt = min(machineDeadline ?? .max, controlPolledAt + Int64(options.controlPollMillis))
        return max(0, wakeAt - now)
    }

    /// The clock woke: the machine is ticked when it is due, the store read when its time came,
    /// and about every 2 s the store learns this coordinator is alive (`intern status`).
    func clockWoke() {
        let now = Self.now()
        if let deadline = machineDeadline, deadline <= now {
            carryOut(machine.tick(now: now))
        }
        if now - controlPolledAt >= Int64(options.controlPollMillis) {
            controlPolledAt = now
            applyControlRequests()
        }
        if now - markedAliveAt >= 2_000 {
            markedAliveAt = now
            try? store.markCoordinatorAlive(pid: getpid(), host: hostname, now: now)
        }
    }

    /// Commits the changes, then resumes the parked requests the effects answer.
    ///
    /// The machine has already applied the event in memory; if the store cannot record it
    /// (disk full, I/O error), memory and journal disagree, so the coordinator stops instead of
    /// acknowledging anything more (fail-stop). Workers keep their unacknowledged data and
    /// retry; a restarted coordinator rebuilds its state from the store. Returns false then.
    @discardableResult
    func carryOut(_ effects: Effects) -> Bool {
        guard storeFailure == nil else { return false }
        do {
            try store.apply(effects.changes)
        } catch {
            storeFailed(error)
            return false
        }
        settle(effects)
        return true
    }

    /// A commit failed: memory and journal disagree, so the coordinator answers nothing more
    /// and stops (fail-stop; started again, it rebuilds its state from the store).
    func storeFailed(_ error: any Error) {
        logger.critical("cannot commit to the store; stopping", metadata: ["error": "\(error)"])
        storeFailure = "\(error)"
        releaseParked()
    }

    /// What follows the commit of `effects`: files of attempts that ended are closed, those of
    /// attempts assigned are made, the decisions are timed (`reportedEnds`: the attempts whose
    /// ends a report just stored), parked requests are answered, and the clock learns the
    /// machine's next deadline.
    func settle(_ effects: Effects, reportedEnds: [AttemptID] = []) {
        let now = Self.monotonicNanos()
        for change in effects.changes {
            switch change {
            case .campaignFinished:
                logger.info("campaign finished", metadata: ["campaign": "\(machine.spec.name)"])
            case .attempt(let attempt) where attempt.status.isTerminal:
                // Also for attempts lost with their worker: no end will ever close their files.
                ingestor.closeStreams(of: attempt.id)
                let reported = reportedEnds.contains(attempt.id)
                if let latency = decisions.ended(attempt: attempt.id, worker: attempt.worker, reported: reported, now: now) {
                    measurements.decided(nanoseconds: latency)
                }
            case .worker(let worker) where worker.state != .active:
                // Lost, or draining: its slots get no next attempt, so its ends wait for nothing.
                decisions.lost(worker: worker.id)
            default:
                break
            }
        }
        // After the ends: an end and the assignment it freed a slot for commit together.
        for case .attempt(let attempt) in effects.changes where attempt.status == .assigned {
            // Its log file is made now, in the background, not when its first report waits for it.
            ingestor.prepare(attempt: attempt.id, trial: attempt.trial)
            if let latency = decisions.assigned(worker: attempt.worker, behind: machine.queuedBehind(attempt.id), now: now) {
                measurements.decided(nanoseconds: latency)
            }
        }
        for reply in effects.replies {
            parked.removeValue(forKey: reply.token)?.resume(returning: reply.reply)
        }
        // Every machine event says when the machine is due next: a nearer deadline than the
        // clock sleeps to wakes it.
        machineDeadline = effects.nextDeadline
        if let deadline = machineDeadline, deadline < wakeAt {
            wakeAt = deadline
            alarm.ring()
        }
    }

    /// The intervals workers report and heartbeat at (`Welcome` and every `HeartbeatReply` say
    /// them): the campaign's, stretched by ``pacing`` for the live workers, counted at most once a
    /// second.
    func pacedIntervals(now: Timestamp) -> (report: UInt64, heartbeat: UInt64) {
        if now - paced.at >= 1_000 {
            let live = machine.workers.values.reduce(0) { $0 + ($1.state == .lost ? 0 : 1) }
            let intervals = pacing.intervals(workers: live)
            paced = (intervals.report, intervals.heartbeat, now)
        }
        return (paced.report, paced.heartbeat)
    }

    /// Answers every parked request (the coordinator is stopping): nothing may wait forever.
    func releaseParked() {
        for token in Array(parked.keys) {
            parked.removeValue(forKey: token)?.resume(returning: .noWork(.idle))
        }
    }

    // MARK: - Views and control

    /// Where the campaign stands.
    public func snapshot() -> CoordinatorSnapshot {
        let active = machine.workers.values.filter { $0.state != .lost }
        return CoordinatorSnapshot(
            progress: machine.progress, best: machine.bestTrial, workers: active.count, freeSlots: machine.parkedCount,
            isFinished: machine.isFinished, stoppedReason: machine.stoppedReason, startedAt: startedAt,
            missingMetrics: machine.coverage.missing, validation: machine.spec.selectionStage.flatMap { machine.validationVerdict(stage: $0) })
    }
}
