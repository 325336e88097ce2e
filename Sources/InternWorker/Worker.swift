import Foundation
import InternAuth
import InternCore
import InternJob
import InternProtocol
import Logging
import NNG
import Synchronization

/// The worker process's shell: dials the coordinator, asks for one attempt per free slot,
/// runs each as a job in its own process group, streams its compressed output and metrics
/// back, and heartbeats. Its lifecycle (joining, active, draining, leaving, giving up,
/// finished) is a `WorkerLifecycle`: the shell reads the clock, feeds it events and carries
/// out what it returns. `run()` returns once no slot asks for work (the campaign is over, the
/// coordinator drains this worker, or `leave()` was called), nothing runs and every report is
/// acknowledged (or, past the leave or campaign-over flush time, dropped).
public final class Worker: Sendable {
    let options: WorkerOptions
    let logger: Logger
    let incarnation = UInt64.random(in: 1...UInt64.max)
    let outbox: Outbox
    let registry: JobRegistry?
    /// Serialises writes of the job list (slots end jobs concurrently).
    let registryLock = Mutex(())
    /// Holds the state directory's lock for the worker's lifetime.
    private let lock: StateDirectoryLock?
    let state: Mutex<State>
    /// Wakes the heartbeat loop from its wait between heartbeats: the worker leaves (one goes at
    /// once), or a loop of its work has ended (the worker may be done: it exits without waiting
    /// out the interval).
    let heartbeatAlarm = Alarm()
    private let requestIDs = Atomic<UInt64>(0)
    /// Where jobs may write their outputs (`INTERN_OUTPUT_FILE`, one file per attempt): in the
    /// state directory, else a private temporary directory removed when `run()` returns.
    let outputsDirectory: String?
    private let outputsDirectoryIsTemporary: Bool
    let provenanceProbe = ProvenanceProbe()
    /// What every job's environment starts from: this worker's, read once (0.1 ms per attempt
    /// otherwise), without the campaign's credentials: they are the worker's, never the job's
    /// (a job that prints its environment would put the secret into the stored logs).
    let jobEnvironment: [String: String] = {
        var environment = ProcessInfo.processInfo.environment
        for name in Credentials.environmentVariables { environment[name] = nil }
        return environment
    }()

    struct State {
        /// The phase, the attempts running and what was asked of them, the deadlines.
        var lifecycle: WorkerLifecycle
        var welcome: Welcome?
        /// Send a heartbeat now (the coordinator must learn at once that the worker leaves).
        var heartbeatNow = false
        /// The slots' contexts while they wait for work; closed to stop the waits when the
        /// worker stops asking (the campaign is over, it drains or leaves).
        var waitingSlots: [Int: Context] = [:]
        /// Every job started and not yet seen to end.
        var spawned: [UInt64: JobProcess] = [:]
        /// Wakes the deadline loop, while it runs, when the lifecycle may have a new deadline (a leave).
        var deadlineWake: AsyncStream<Void>.Continuation?
    }

    /// Creates a worker; `run()` starts it. Takes the state directory (refused when another
    /// worker holds it), stops the jobs a killed previous incarnation left running, and starts
    /// an empty spool.
    public init(options: WorkerOptions, logger: Logger) throws {
        self.options = options
        state = Mutex(State(lifecycle: WorkerLifecycle(settings: WorkerLifecycle.Settings(options))))
        var logger = logger
        logger[metadataKey: "worker.id"] = "\(options.id)"
        self.logger = logger
        guard let directory = options.stateDirectory else {
            (outputsDirectory, outputsDirectoryIsTemporary) = Self.makeOutputsDirectory(in: nil)
            outbox = Outbox(memoryBytes: options.spoolLimitBytes, limitBytes: options.spoolLimitBytes)
            registry = nil
            lock = nil
            return
        }
        do {
            lock = try StateDirectoryLock(directory: directory)
            (outputsDirectory, outputsDirectoryIsTemporary) = Self.makeOutputsDirectory(in: directory)
            let spool = try SpoolFiles(directory: "\(directory)/spool")
            outbox = Outbox(spool: spool, memoryBytes: options.spoolMemoryBytes, limitBytes: options.spoolLimitBytes)
        } catch {
            throw WorkerError(code: .stateDirectory, message: error.description, underlying: error)
        }
        let registry = JobRegistry(directory: directory)
        let killed = registry.killLeftovers()
        if !killed.isEmpty {
            logger.warning("stopped jobs a previous run of this worker left behind", metadata: ["pids": "\(killed)"])
        }
        self.registry = registry
    }

    private static func makeOutputsDirectory(in stateDirectory: String?) -> (String?, Bool) {
        if let stateDirectory {
            let path = "\(stateDirectory)/outputs"
            return (mkdir(path, 0o700) == 0 || errno == EEXIST ? path : nil, false)
        }
        var template = Array("/tmp/intern-outputs-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (made ? path : nil, made)
    }

    func nextRequestID() -> UInt64 {
        requestIDs.add(1, ordering: .relaxed).newValue
    }

    /// Runs until the worker is done (see the type's summary) or its task is cancelled; throws a
    /// `WorkerError` when it cannot go on (it gave up on a silent coordinator, was refused or
    /// fenced, left before joining). Whatever ends it, its jobs are stopped before it returns.
    public func run() async throws {
        state.withLock { $0.lifecycle.joinStarted(now: .now) }
        let socket = try Socket.request(maxMessageSize: options.maxMessageBytes)
        defer {
            // Bounded: a stopping worker never hangs in NNG (see Socket.close(waitingAtMost:)).
            if !socket.close(waitingAtMost: .seconds(5)) { logger.error("the NNG socket did not close within 5 s; stopping without it") }
        }
        if options.connect.hasPrefix("ipc://") {
            // ipc peers are not authenticated: only a coordinator of this user's (or root's) may
            // give this worker commands, whoever made the socket file.
            try PrivateDirectory.checkSocket(String(options.connect.dropFirst("ipc://".count)))
            try socket.restrictIPCPeers(to: [UInt32(geteuid()), 0])
        }
        defer { if outputsDirectoryIsTemporary, let outputsDirectory { try? FileManager.default.removeItem(atPath: outputsDirectory) } }
        let dialer = try await dial(socket)
        try? dialer.setReconnectTime(min: .milliseconds(50), max: .milliseconds(LinkTiming.redialMaxMillis))
        let link = CoordinatorLink(codec: MessageCodec(maxMessageBytes: options.maxMessageBytes), credentials: options.credentials)
        let control = try socket.openContext()
        defer { control.close() }
        try await sayHello(control, link: link, socket: socket)

        // Stopped (the task cancelled by a second signal, or an error that ends the worker): the
        // jobs must not outlive the worker unnoticed, so their process groups are terminated
        // before the process exits.
        do {
            try await serve(socket: socket, link: link)
        } catch {
            stopJobs()
            throw error
        }
        stopJobs()
        await sayGoodbye(control, link: link)
        logger.info("worker finished")
    }

    /// The worker's loops: those that do its work end themselves once it is done; the deadline
    /// loop runs until it is cancelled.
    private enum Loop {
        case work, deadlines
    }

    private func serve(socket: Socket, link: CoordinatorLink) async throws {
        let wakes = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        state.withLock { $0.deadlineWake = wakes.continuation }
        defer {
            state.withLock { $0.deadlineWake = nil }
            wakes.continuation.finish()
        }
        try await withThrowingTaskGroup(of: Loop.self) { group in
            group.addTask {
                await self.deadlineLoop(wakes: wakes.stream)
                return .deadlines
            }
            group.addTask {
                try await self.heartbeatLoop(try socket.openContext(), link: link)
                return .work
            }
            group.addTask {
                try await self.reportLoop(try socket.openContext(), link: link)
                return .work
            }
            for slot in 0..<options.slots {
                group.addTask {
                    try await self.slotLoop(slot, context: try socket.openContext(), link: link)
                    return .work
                }
            }
            // The worker is done when its lifecycle is finished (every slot has stopped, nothing
            // runs, the outbox is empty); the work loops end themselves then, and the deadline
            // loop is cancelled. A loop that throws (fenced, the coordinator given up on) ends the
            // worker: `next()` rethrows at once and leaving the group cancels the other loops
            // (`waitForAll` would wait for them forever).
            var working = options.slots + 2
            while working > 0, let loop = try await group.next() {
                if loop == .work {
                    working -= 1
                    heartbeatAlarm.ring()
                }
            }
            group.cancelAll()
        }
    }

    /// Acts on the lifecycle's deadlines (the end of the drain grace) until it is cancelled:
    /// sleeps until the next one, or while there is none, until `wakes` says a leave may have
    /// made one. A loop of the worker's task group, so it ends with the worker.
    private func deadlineLoop(wakes: AsyncStream<Void>) async {
        var wakes = wakes.makeAsyncIterator()
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (actions, next) = state.withLock { ($0.lifecycle.tick(now: now), $0.lifecycle.nextDeadline) }
            perform(actions)
            if let next {
                do { try await Task.sleep(until: next, clock: .continuous) } catch { return }
            } else if await wakes.next() == nil {
                return  // cancelled
            }
        }
    }

    /// Carries out the lifecycle's actions that are IO: closing the slots' waits, announcing a
    /// leave, stopping jobs. The others (start or refuse an attempt, report an end, give up, stop
    /// joining, drop what is undelivered, exit) concern the loop that fed the event, which acts
    /// on them itself. Never called with the state locked.
    func perform(_ actions: [WorkerLifecycle.Action]) {
        let grace = Duration.milliseconds(options.terminationGraceMillis)
        for action in actions {
            switch action {
            case .stopAsking:
                let waits = state.withLock { Array($0.waitingSlots.values) }
                for context in waits { context.close() }
            case .announceLeave:
                logger.info("leaving: no new work; running attempts get the drain grace",
                            metadata: ["grace.ms": "\(options.drainGraceMillis)"])
                let wake = state.withLock { state in
                    state.heartbeatNow = true
                    return state.deadlineWake
                }
                outbox.wake()
                heartbeatAlarm.ring()
                wake?.yield()
            case .cancel(let attempts):
                logger.info("cancelling attempts", metadata: ["attempts": "\(attempts)"])
                for job in jobs(attempts) { job.terminate(grace: grace) }
            case .preempt(let attempts):
                logger.info("drain grace over: stopping running attempts", metadata: ["attempts": "\(attempts)"])
                for job in jobs(attempts) { job.terminate(grace: grace) }
            case .start, .refuse, .reportEnd, .giveUp, .abandonJoin, .dropUndelivered, .exit:
                break
            }
        }
    }

    /// The jobs of these attempts that have started and not yet been seen to end.
    private func jobs(_ attempts: [UInt64]) -> [JobProcess] {
        state.withLock { state in attempts.compactMap { state.spawned[$0] } }
    }

    /// Feeds one event to the lifecycle, under the state's lock; the caller carries out the
    /// actions it returns once the lock is released.
    func lifecycle(_ event: (inout WorkerLifecycle) -> [WorkerLifecycle.Action]) -> [WorkerLifecycle.Action] {
        state.withLock { event(&$0.lifecycle) }
    }

    var welcome: Welcome? { state.withLock { $0.welcome } }

    /// Leaves gracefully (SIGTERM or SIGINT: preemption, a node drained): asks for no more
    /// work, lets running attempts go on for the drain grace, then stops their process groups
    /// (SIGTERM, then SIGKILL after the termination grace) and reports them `preempted`. `run()`
    /// returns once every attempt's end is delivered, or the flush time has passed. Called before
    /// the coordinator answered, `run()` throws instead. Only the first call counts.
    public func leave() {
        perform(lifecycle { $0.leave(now: .now) })
    }

    /// How long a request may wait: `normal`, or less once leaving (never past the deadline).
    func requestTimeout(_ normal: Duration) -> Duration {
        guard let deadline = state.withLock({ $0.lifecycle.leaveDeadline }) else { return normal }
        return max(.milliseconds(100), min(normal, deadline - ContinuousClock.now))
    }

    /// Terminates every job still alive (SIGTERM to its process group) and waits for it; a job
    /// that outlives the grace is SIGKILLed here, since the reader thread that would do it dies
    /// with this process. Blocks the calling thread: only used when the worker stops.
    private func stopJobs() {
        let jobs = state.withLock { Array($0.spawned.values) }
        guard !jobs.isEmpty else { return }
        for job in jobs { job.terminate(grace: .milliseconds(options.terminationGraceMillis)) }
        let deadline = ContinuousClock.now + .milliseconds(options.terminationGraceMillis)
        while jobs.contains(where: { $0.exit == nil }), ContinuousClock.now < deadline { usleep(20_000) }
        for job in jobs where job.exit == nil { job.kill() }
        let killDeadline = ContinuousClock.now + .seconds(2)
        while jobs.contains(where: { $0.exit == nil }), ContinuousClock.now < killDeadline { usleep(20_000) }
    }
}
