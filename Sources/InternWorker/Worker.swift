import Foundation
import InternAuth
import InternCore
import InternJob
import InternProtocol
import Logging
import NNG
import Synchronization

/// Settings of a worker process.
public struct WorkerOptions: Sendable {
    /// The coordinator's URL (`ipc:///…`, `tcp://host:port`).
    public var connect: String
    /// The worker's stable identity.
    public var id: WorkerID
    /// How many attempts it runs at once.
    public var slots: Int
    /// The largest message accepted from the coordinator.
    public var maxMessageBytes: Int
    /// GPU ids offered (reported in Hello): the coordinator places GPU trials on them and names
    /// the ones each attempt gets (`CUDA_VISIBLE_DEVICES`).
    public var gpus: [String]
    /// How long to wait for SIGTERM'd jobs before SIGKILL (cancel, preemption).
    public var terminationGraceMillis: Int
    /// When the worker is told to leave (SIGTERM, SIGINT): how long running attempts may go on
    /// before they are stopped and reported `preempted`.
    public var drainGraceMillis: Int
    /// When leaving: how long to keep trying to deliver what the coordinator has not
    /// acknowledged once every attempt has ended.
    public var leaveFlushMillis: Int
    /// The worker's own directory (mode 0700): its spool and the list of its running jobs.
    /// One worker at a time may use it (locked). `nil`: no spool, nothing recorded.
    public var stateDirectory: String?
    /// Compressed log bytes waiting for acknowledgement at which the spool is full: further
    /// output is counted and reported lost instead of kept (the job itself goes on).
    public var spoolLimitBytes: Int
    /// Of those, how many are kept in memory before frames go to the spool on disk.
    public var spoolMemoryBytes: Int
    /// Once the coordinator has not answered for this long and nothing runs here, the worker
    /// gives up and exits 1 (what it still holds is lost). 0: never.
    public var giveUpMillis: Int
    /// The campaign's credentials: requests are sealed in an authenticated session and only
    /// replies that prove the coordinator holds the same secret are acted upon. `nil`: plain
    /// messages (ipc://, or tcp:// with --insecure).
    public var credentials: Credentials?
    /// For a `tls+tcp://` coordinator: the CA, this worker's certificate, the coordinator's name.
    public var tls: TLSSettings?
    /// CPUs and bytes of memory offered to attempts (0: not said); a campaign's `cpus:` and
    /// `memory:` requests are placed against them.
    public var resources = WorkerResources(cpus: 0, memoryBytes: 0)

    /// Creates options.
    public init(connect: String, id: WorkerID, slots: Int = 1, maxMessageBytes: Int = 16 << 20, gpus: [String] = [],
                terminationGraceMillis: Int = 5_000, drainGraceMillis: Int = 10_000, leaveFlushMillis: Int = 5_000,
                stateDirectory: String? = nil, spoolLimitBytes: Int = 1 << 30, spoolMemoryBytes: Int = 16 << 20,
                giveUpMillis: Int = 3_600_000, credentials: Credentials? = nil, tls: TLSSettings? = nil) {
        self.connect = connect
        self.id = id
        self.slots = max(1, slots)
        self.maxMessageBytes = maxMessageBytes
        self.gpus = gpus
        self.terminationGraceMillis = terminationGraceMillis
        self.drainGraceMillis = max(0, drainGraceMillis)
        self.leaveFlushMillis = max(0, leaveFlushMillis)
        self.stateDirectory = stateDirectory
        self.spoolLimitBytes = max(1, spoolLimitBytes)
        self.spoolMemoryBytes = max(0, spoolMemoryBytes)
        self.giveUpMillis = max(0, giveUpMillis)
        self.credentials = credentials
        self.tls = tls
    }
}

extension WorkerLifecycle.Settings {
    /// The lifecycle settings of a worker with these options.
    init(_ options: WorkerOptions) {
        self.init(
            slots: options.slots, drainGrace: .milliseconds(options.drainGraceMillis),
            terminationGrace: .milliseconds(options.terminationGraceMillis), leaveFlush: .milliseconds(options.leaveFlushMillis),
            giveUpAfter: options.giveUpMillis > 0 ? .milliseconds(options.giveUpMillis) : nil)
    }
}

/// The worker process's shell: dials the coordinator, asks for one attempt per free slot,
/// runs each as a job in its own process group, streams its compressed output and metrics
/// back, and heartbeats. Its lifecycle (joining, active, draining, leaving, giving up,
/// finished) is a `WorkerLifecycle`: the shell reads the clock, feeds it events and carries
/// out what it returns. `run()` returns once no slot asks for work (the campaign is over, the
/// coordinator drains this worker, or `leave()` was called), nothing runs and every report is
/// acknowledged (or, past the leave or campaign-over flush time, dropped).
public final class Worker: Sendable {
    private let options: WorkerOptions
    private let logger: Logger
    private let incarnation = UInt64.random(in: 1...UInt64.max)
    private let outbox: Outbox
    private let registry: JobRegistry?
    /// Serialises writes of the job list (slots end jobs concurrently).
    private let registryLock = Mutex(())
    /// Holds the state directory's lock for the worker's lifetime.
    private let lock: StateDirectoryLock?
    private let state: Mutex<State>
    private let requestIDs = Atomic<UInt64>(0)
    /// Where jobs may write their outputs (`INTERN_OUTPUT_FILE`, one file per attempt): in the
    /// state directory, else a private temporary directory removed when `run()` returns.
    private let outputsDirectory: String?
    private let outputsDirectoryIsTemporary: Bool
    private let provenanceProbe = ProvenanceProbe()

    private struct State {
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

    /// The outputs a job wrote to its `INTERN_OUTPUT_FILE`, removing the file; empty when it wrote
    /// none. A file that is not a JSON object of names to scalars (or is over 64 KiB) is ignored,
    /// with a warning.
    private func takeOutputFile(_ path: String, metadata: Logger.Metadata) -> [(name: String, value: String)] {
        defer { unlink(path) }
        // Not through a link, never blocking (a FIFO left there), a regular file only.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var info = stat()
        let limit = 64 << 10
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
            while count <= limit {
                let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, limit + 1 - count) }
                if n <= 0 { break }
                count += n
            }
        } else {
            count = limit + 1
        }
        guard count <= limit, let outputs = OutputLineParser().parseFile(Array(bytes[..<count])) else {
            logger.warning("ignored the job's INTERN_OUTPUT_FILE: not a JSON object of names to strings, numbers or booleans (at most 64 KiB)",
                           metadata: metadata)
            return []
        }
        return outputs
    }

    /// Records the running jobs' process groups in the state directory.
    private func recordJobs() {
        guard let registry else { return }
        registryLock.withLock { _ in
            registry.write(state.withLock { $0.spawned.values.map(\.pid) }.sorted())
        }
    }

    /// How long the reporter waits for more output before sending a report that carries no end,
    /// and how much pending output sends it at once.
    static let coalesceDelay = Duration.milliseconds(20)
    static let coalesceBytes = 256 << 10
    /// `INTERN_PROVENANCE=off` in the worker's environment: no provenance is captured (a
    /// benchmark's baseline, or a site that must not record package lists).
    static let capturesProvenance = ProcessInfo.processInfo.environment["INTERN_PROVENANCE"] != "off"

    private func nextRequestID() -> UInt64 {
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
        try? dialer.setReconnectTime(min: .milliseconds(50), max: .seconds(2))
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
        logger.info("worker finished")
    }

    /// Dials the coordinator. Over TLS, dials until one handshake has completed: NNG reports a
    /// failed handshake to nobody (the connection just closes and is redialled), so a worker whose
    /// certificates are not the coordinator's campaign's would otherwise wait in silence; it says
    /// so and stops instead. A coordinator not listening yet is waited for, up to --give-up-after.
    private func dial(_ socket: Socket) async throws -> Dialer {
        guard options.connect.hasPrefix("tls+"), let tls = options.tls else { return try socket.dial(options.connect) }
        var delay = 100
        while true {
            try Task.checkCancellation()
            try stopJoiningIfDue()
            // A blocking dial can take as long as a TCP connect: on a thread of its own.
            let attempt: Result<Dialer, any Error> = await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(returning: Result { try socket.dial(self.options.connect, blocking: true, tls: tls) })
                }
            }
            switch attempt {
            case .success(let dialer):
                return dialer
            case .failure(let error as NNGError) where error == .cryptographic || error == .connectionShutdown:
                throw WorkerError(
                    code: .cannotConnect,
                    message: "the TLS handshake with \(options.connect) failed (\(error)): the coordinator's certificate is not from this campaign's CA, or it refused this worker's",
                    underlying: error)
            case .failure(let error):
                logger.debug("dial failed, retrying", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: .milliseconds(delay))
            delay = min(delay * 2, 2_000)
        }
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
                if loop == .work { working -= 1 }
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
    private func perform(_ actions: [WorkerLifecycle.Action]) {
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
    private func lifecycle(_ event: (inout WorkerLifecycle) -> [WorkerLifecycle.Action]) -> [WorkerLifecycle.Action] {
        state.withLock { event(&$0.lifecycle) }
    }

    private var welcome: Welcome? { state.withLock { $0.welcome } }

    /// Leaves gracefully (SIGTERM or SIGINT: preemption, a node drained): asks for no more
    /// work, lets running attempts go on for the drain grace, then stops their process groups
    /// (SIGTERM, then SIGKILL after the termination grace) and reports them `preempted`. `run()`
    /// returns once every attempt's end is delivered, or the flush time has passed. Called before
    /// the coordinator answered, `run()` throws instead. Only the first call counts.
    public func leave() {
        perform(lifecycle { $0.leave(now: .now) })
    }

    /// Throws when the worker must stop dialing or saying hello: the coordinator has been silent
    /// past `--give-up-after` while nothing runs, or the worker is leaving and was never welcomed
    /// (or is past its leave deadline).
    private func stopJoiningIfDue() throws {
        let actions = lifecycle { $0.joinAttempt(now: .now) }
        if actions.contains(.giveUp) { throw giveUp() }
        if actions.contains(.abandonJoin) {
            throw WorkerError(code: .leftBeforeJoining, message: "left before the coordinator at \(options.connect) answered")
        }
    }

    /// Logs and returns the error that ends a worker whose coordinator is gone.
    private func giveUp() -> WorkerError {
        logger.error("giving up: the coordinator has not answered", metadata: [
            "for.s": "\(options.giveUpMillis / 1000)", "unacknowledged.bytes": "\(outbox.pendingBytes)"])
        return WorkerError(
            code: .gaveUp, message: "the coordinator at \(options.connect) has not answered for \(options.giveUpMillis / 1000) s; giving up")
    }

    /// How long a request may wait: `normal`, or less once leaving (never past the deadline).
    private func requestTimeout(_ normal: Duration) -> Duration {
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

    /// Sends Hello until a Welcome comes back. A refusal other than a transient one ends the worker.
    private func sayHello(_ context: Context, link: CoordinatorLink, socket: Socket? = nil) async throws {
        var hello = Hello(
            requestId: nextRequestID(), workerId: options.id.rawValue, incarnation: incarnation,
            hostname: ProcessInfo.processInfo.hostName, pid: UInt64(getpid()), slots: UInt64(options.slots),
            gpus: options.gpus, labels: StringPairs(options.resources.labels))
        var delay = 100
        state.withLock { $0.lifecycle.joinStarted(now: .now) }
        while true {
            try Task.checkCancellation()
            // Leaving: never joined, or past the leave deadline, there is nothing to wait for.
            try stopJoiningIfDue()
            // What this incarnation holds, as of this try: after a cut, the coordinator takes
            // back attempts it declared lost before it can hand their trials out again.
            hello.held = Set(state.withLock { $0.lifecycle.runningAttempts } + outbox.endedAttempts).sorted()
            do {
                let helloTimeout = options.giveUpMillis > 0 ? min(10_000, max(500, options.giveUpMillis)) : 10_000
                let reply = try await link.request(.hello(hello), on: context, timeout: NNGDuration(requestTimeout(.milliseconds(helloTimeout))))
                switch reply {
                case .welcome(let welcome):
                    state.withLock { state in
                        state.welcome = welcome
                        state.lifecycle.welcomed(now: .now)
                    }
                    logger.info("joined campaign", metadata: ["campaign": "\(welcome.campaign)"])
                    return
                case .rejected(let rejected) where rejected.code == .internal:
                    logger.warning("coordinator busy, retrying hello", metadata: ["reason": "\(rejected.reason)"])
                case .rejected(let rejected):
                    throw WorkerError(code: .rejected, message: "the coordinator refused this worker: \(rejected.reason)")
                default:
                    throw WorkerError(code: .unexpectedReply, message: "unexpected reply to hello: \(reply.kind)")
                }
            } catch {
                if let uid = socket?.refusedIPCPeers.first {
                    throw WorkerError(
                        code: .untrustedCoordinator,
                        message: "refused the coordinator at \(options.connect): the process listening there runs as uid \(uid), not as this worker's user (uid \(geteuid())) or root")
                }
                // A dropped connection, or a reply that does not decode or authenticate (logged,
                // never acted upon).
                try retryable(error)
                logger.warning("hello failed, retrying", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: .milliseconds(delay))
            delay = min(delay * 2, 2_000)
        }
    }

    /// Returns when a failed request is worth retrying (the connection dropped, a reply did not
    /// decode, or failed authentication: a tampered or forged reply is never acted upon);
    /// throws otherwise. A coordinator that refuses this worker's way of authenticating (it
    /// requires credentials this worker lacks, or has none) ends the worker: no retry fixes it.
    private func retryable(_ error: any Error) throws {
        switch error {
        case let auth as AuthError where auth.isConfigurationMismatch:
            throw WorkerError(code: .rejected, message: "the coordinator at \(options.connect) refused this worker: \(auth)", underlying: auth)
        case let hungUp as HungUp:
            throw WorkerError(code: .rejected, message: "the coordinator at \(options.connect) refused this worker: \(hungUp)", underlying: hungUp)
        case let auth as AuthError:
            logger.warning("a reply failed authentication; not acted upon", metadata: ["error": "\(auth)"])
        case is NNGError, is ProtocolError:
            return
        default:
            throw error
        }
    }

    /// Handles a refusal of any request: an unknown worker says hello again; a fenced one stops.
    private func recover(from rejected: Rejected, link: CoordinatorLink, on context: Context) async throws {
        switch rejected.code {
        case .unknownWorker:
            logger.warning("coordinator does not know this worker; saying hello again")
            try await sayHello(context, link: link)
        case .fenced:
            throw WorkerError(code: .fenced, message: "a newer incarnation of worker \(options.id) joined: this one stops")
        default:
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    // MARK: - Slots

    /// One slot: keeps one work request outstanding while the lifecycle asks for work, and runs
    /// what it is assigned. Ends (for good) once the worker asks for no more work.
    private func slotLoop(_ slot: Int, context: Context, link: CoordinatorLink) async throws {
        defer {
            context.close()
            state.withLock { $0.lifecycle.slotStopped() }
            outbox.wake()
        }
        var requestID = nextRequestID()
        while true {
            try Task.checkCancellation()
            let stop = state.withLock { state -> Bool in
                guard state.lifecycle.asksForWork else { return true }
                state.waitingSlots[slot] = context
                return false
            }
            if stop { return }
            let request = WorkRequest(requestId: requestID, workerId: options.id.rawValue, incarnation: incarnation, slot: UInt64(slot))
            let reply: Message
            do {
                // Longer than the coordinator's long-poll, so its "ask again" normally comes first.
                defer { state.withLock { _ = $0.waitingSlots.removeValue(forKey: slot) } }
                reply = try await link.request(.workRequest(request), on: context, timeout: .seconds(60))
            } catch {
                // A dropped connection, or a reply that does not decode or authenticate (logged,
                // never acted upon). Or closed because the worker stopped asking (a drain, a leave, the
                // end of the campaign learned elsewhere).
                if !state.withLock({ $0.lifecycle.asksForWork }) { return }
                try retryable(error)
                // Same request id on retry: the coordinator answers a repeated request identically.
                logger.debug("work request failed, retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            requestID = nextRequestID()
            switch reply {
            case .assignment(let assignment):
                await runAttempt(assignment)
            case .noWork(let noWork):
                switch noWork.reason {
                case .idle:
                    if noWork.retryAfterMs > 0 { try await Task.sleep(for: .milliseconds(Int(noWork.retryAfterMs))) }
                case .draining:
                    perform(lifecycle { $0.noMoreWork(.drained) })
                    return
                case .finished:
                    perform(lifecycle { $0.noMoreWork(.campaignOver) })
                    return
                }
            case .rejected(let rejected):
                try await recover(from: rejected, link: link, on: context)
            default:
                logger.warning("unexpected reply to a work request", metadata: ["kind": "\(reply.kind)"])
            }
        }
    }

    /// Runs one attempt to its end. Its output streams to the outbox as it is produced; its end
    /// goes to the outbox when the process and its pipes are done.
    private func runAttempt(_ assignment: Assignment) async {
        let attempt = assignment.attemptId
        var environment = ProcessInfo.processInfo.environment
        // The campaign's credentials are the worker's, never the job's: a job that prints its
        // environment would otherwise put the secret into the stored logs.
        for name in Credentials.environmentVariables { environment[name] = nil }
        for pair in assignment.environment { environment[pair.key] = pair.value }
        // Exactly the GPUs assigned (none for a CPU trial on a GPU worker: it must not grab
        // whatever CUDA would otherwise show it).
        if !assignment.gpus.isEmpty || !options.gpus.isEmpty {
            environment["CUDA_VISIBLE_DEVICES"] = assignment.gpus.joined(separator: ",")
            // The ids are nvidia-smi's (PCI bus order); CUDA's default order is fastest first.
            environment["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        }
        let outputFile = outputsDirectory.map { "\($0)/attempt-\(attempt).json" }
        if let outputFile {
            unlink(outputFile)
            environment["INTERN_OUTPUT_FILE"] = outputFile
        }
        let argv = assignment.argv  // in shell mode already ["/bin/sh", "-c", script]
        let welcome = self.welcome
        let metadata: Logger.Metadata = ["trial.id": "\(assignment.trialId)", "attempt": "\(attempt)"]
        logger.debug("starting attempt", metadata: metadata)

        let ended = AsyncStream<(JobExit, AttemptOutputTotals)>.makeStream()
        let output: AttemptOutput
        do {
            output = try AttemptOutput(
                attempt: attempt, outbox: outbox, compressionLevel: Int32(clamping: welcome?.compressionLevel ?? 1),
                flushBytes: Int(clamping: welcome?.logFlushBytes ?? 65_536),
                flushIntervalMillis: Int(clamping: welcome?.logFlushIntervalMs ?? 250),
                metricPrefix: welcome?.metricPrefix, resultFiles: assignment.resultFiles.map { ($0.key, $0.value) },
                workdir: assignment.workdir,
                onFinish: { exit, totals in
                    ended.continuation.yield((exit, totals))
                    ended.continuation.finish()
                })
        } catch {
            outbox.add(end: notRun(attempt, .failedToStart, detail: "cannot create the log compressor: \(error)"))
            return
        }
        // Received just as the worker started to leave: not started at all, reported preempted
        // (the coordinator may already have settled it so; a second end is harmless).
        guard lifecycle({ $0.attemptAssigned(attempt) }) == [.start(attempt)] else {
            outbox.add(end: notRun(attempt, .preempted, detail: "the worker was leaving"))
            return
        }
        let spec = JobSpec(
            arguments: argv, environment: environment, workingDirectory: assignment.workdir,
            timeout: assignment.timeoutMs > 0 ? .milliseconds(Int64(clamping: assignment.timeoutMs)) : nil)
        let job: JobProcess
        do {
            job = try JobProcess.spawn(spec, handler: output, tickInterval: .milliseconds(50))
        } catch {
            _ = lifecycle { $0.attemptEnded(attempt) }
            logger.warning("attempt failed to start", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            outbox.add(end: notRun(attempt, .failedToStart, detail: "\(error)"))
            return
        }
        defer { recordJobs() }
        // What it runs with, captured beside it (cached per working directory and interpreter):
        // the job does not wait for it, and neither does the next assignment; its end waits for
        // it (below), so the coordinator never has an end without the provenance.
        let probe = provenanceProbe, outbox = self.outbox, workdir = assignment.workdir, jobEnvironment = environment
        let capture: Task<Void, Never>?
        if !Self.capturesProvenance {
            capture = nil
        } else if let known = probe.cachedCapture(attempt: attempt, argv: argv, workdir: workdir, environment: jobEnvironment) {
            // Everything cached (the usual case: a burst of trials in one directory): no task.
            outbox.add(provenance: known)
            capture = nil
        } else {
            capture = Task.detached {
                outbox.add(provenance: probe.capture(attempt: attempt, argv: argv, workdir: workdir, environment: jobEnvironment))
            }
        }
        // Cancelled or preempted while it was starting: stopped at once.
        perform(state.withLock { state in
            state.spawned[attempt] = job
            return state.lifecycle.jobStarted(attempt)
        })

        var result: (JobExit, AttemptOutputTotals)?
        for await value in ended.stream { result = value }
        var stoppedBy: WorkerLifecycle.StopCause?
        for case .reportEnd(_, let cause) in lifecycle({ $0.attemptEnded(attempt) }) { stoppedBy = cause }
        guard let (exit, lineTotals) = result else {
            // The worker is stopping (its task was cancelled): `stopJobs` ends the job.
            return
        }
        var totals = lineTotals
        // The file's outputs come after the lines': a name in both takes the file's value.
        if let outputFile {
            for (name, value) in takeOutputFile(outputFile, metadata: metadata) {
                totals.outputs.pairs.removeAll { $0.key == name }
                totals.outputs.append(name, value)
            }
            if totals.outputs.count > OutputLineParser.maxOutputs {
                totals.outputs.pairs.removeFirst(totals.outputs.count - OutputLineParser.maxOutputs)
            }
        }
        state.withLock { _ = $0.spawned.removeValue(forKey: attempt) }
        recordJobs()
        await capture?.value
        outbox.add(end: attemptEnd(attempt, exit: exit, totals: totals, stoppedBy: stoppedBy))
        logger.debug("attempt ended", metadata: metadata.merging(["exit": "\(exit.status)"]) { $1 })
    }

    /// The end of an attempt whose process never ran (it could not start, or the worker was leaving).
    private func notRun(_ attempt: UInt64, _ outcome: InternProtocol.AttemptOutcome, detail: String) -> InternProtocol.AttemptEnd {
        let now = unixMillis()
        return InternProtocol.AttemptEnd(
            attemptId: attempt, outcome: outcome, code: 0, detail: detail, startedAtMs: now, endedAtMs: now,
            wallMs: 0, userCpuMs: 0, systemCpuMs: 0, peakRssBytes: 0, finalStdoutSeq: 0, finalStderrSeq: 0, finalMetricSeq: 0)
    }

    /// The end of an attempt whose process ran, with the outcome intern gave it when it stopped
    /// the job (`stoppedBy`), or the job's own.
    private func attemptEnd(
        _ attempt: UInt64, exit: JobExit, totals: AttemptOutputTotals, stoppedBy: WorkerLifecycle.StopCause?
    ) -> InternProtocol.AttemptEnd {
        let outcome: InternProtocol.AttemptOutcome
        var code: Int64 = 0
        switch exit.status {
        case .exited(let status):
            outcome = .exited
            code = Int64(status)
        case .signaled(let signal):
            outcome = .signaled
            code = Int64(signal)
        }
        // What intern itself did to the job comes first; a job that ended by itself during the
        // drain grace keeps its own outcome (only a stopped one is `preempted`).
        let final: InternProtocol.AttemptOutcome =
            if exit.timedOut {
                .timedOut
            } else {
                switch stoppedBy {
                case .cancelled: .cancelled
                case .preempted: .preempted
                case nil: outcome
                }
            }
        return InternProtocol.AttemptEnd(
            attemptId: attempt, outcome: final, code: code, detail: "", startedAtMs: exit.startedAt, endedAtMs: exit.endedAt,
            wallMs: UInt64(max(0, exit.wallSeconds * 1000)), userCpuMs: UInt64(max(0, exit.userCPUSeconds * 1000)),
            systemCpuMs: UInt64(max(0, exit.systemCPUSeconds * 1000)), peakRssBytes: exit.peakRSSBytes,
            finalStdoutSeq: totals.finalStdoutSeq, finalStderrSeq: totals.finalStderrSeq, finalMetricSeq: totals.finalMetricSeq,
            logTail: final == .exited && code == 0 ? [] : totals.logTail, outputs: totals.outputs)
    }

    // MARK: - Heartbeats

    /// Whether the worker is done: no slot asks, nothing runs, nothing waits for delivery.
    private var isDone: Bool {
        state.withLock { $0.lifecycle.isFinished }
    }

    /// Heartbeats every interval (at once when the worker starts to leave) until the worker is
    /// done: renews its lease, names the attempts it runs, and learns of cancels, drains and the
    /// campaign's end. The coordinator's silence is counted from its last answer.
    private func heartbeatLoop(_ context: Context, link: CoordinatorLink) async throws {
        defer { context.close() }
        var reportedSpoolProblem = false
        while !isDone {
            try Task.checkCancellation()
            outbox.sendProvenance()
            if !reportedSpoolProblem, let problem = outbox.spoolProblem {
                reportedSpoolProblem = true
                logger.error("the spool cannot be written: unacknowledged output stays in memory, up to the spool limit",
                             metadata: ["error": "\(problem)"])
            }
            let interval = Int(welcome?.heartbeatIntervalMs ?? 1_000)
            let (running, leaving) = state.withLock { state in
                state.heartbeatNow = false
                return (state.lifecycle.runningAttempts, state.lifecycle.isLeaving)
            }
            let heartbeat = Heartbeat(
                requestId: nextRequestID(), workerId: options.id.rawValue, incarnation: incarnation, running: running, leaving: leaving)
            do {
                let reply = try await link.request(.heartbeat(heartbeat), on: context, timeout: NNGDuration(requestTimeout(.milliseconds(max(interval * 5, 1_000)))))
                state.withLock { $0.lifecycle.coordinatorAnswered(now: .now) }
                switch reply {
                case .heartbeatReply(let answer):
                    apply(answer)
                case .rejected(let rejected):
                    try await recover(from: rejected, link: link, on: context)
                default:
                    logger.warning("unexpected reply to a heartbeat", metadata: ["kind": "\(reply.kind)"])
                }
            } catch {
                // A dropped connection, or a reply that does not decode or authenticate (logged,
                // never acted upon).
                try retryable(error)
                logger.debug("heartbeat failed", metadata: ["error": "\(error)"])
                // A coordinator gone for good: once nothing runs here, stop waiting for it.
                if lifecycle({ $0.heartbeatUnanswered(now: .now) }).contains(.giveUp) { throw giveUp() }
            }
            try await sleepUnlessDone(milliseconds: interval)
        }
    }

    private func sleepUnlessDone(milliseconds: Int) async throws {
        var left = milliseconds
        while left > 0, !isDone, !state.withLock({ $0.heartbeatNow }) {
            try await Task.sleep(for: .milliseconds(min(left, 50)))
            left -= 50
        }
    }

    /// Acts on a heartbeat's reply. Drained by the coordinator (`intern drain`, quarantine), the
    /// worker leaves as on SIGTERM, so running attempts get the drain grace and are then
    /// preempted; shut down, it stops asking for work; cancelled attempts are stopped.
    private func apply(_ answer: HeartbeatReply) {
        perform(lifecycle { $0.heartbeatAnswered(drain: answer.drain, shutdown: answer.shutdown, cancel: answer.cancel, now: .now) })
    }

    // MARK: - Reports

    /// Sends the outbox's oldest items, one report at a time, until the worker is done; resends
    /// what is not acknowledged, until the lifecycle says to drop it.
    private func reportLoop(_ context: Context, link: CoordinatorLink) async throws {
        defer { context.close() }
        var backoff = 100
        while true {
            try Task.checkCancellation()
            if outbox.isEmpty {
                if lifecycle({ $0.nothingUndelivered() }).contains(.exit) { return }
                await outbox.waitForWork()
                // Coalesce: a chatty job fills a frame every few milliseconds, and each report
                // costs the coordinator a transaction. Wait briefly for more, unless an attempt's
                // end is waiting (the next dispatch may depend on it).
                var waited = Duration.zero
                while waited < Self.coalesceDelay, !outbox.isEmpty, !outbox.hasEnds, outbox.pendingBytes < Self.coalesceBytes {
                    try await Task.sleep(for: .milliseconds(5))
                    waited += .milliseconds(5)
                }
                continue
            }
            let budget = (Int(welcome?.maxMessageBytes ?? UInt64(options.maxMessageBytes))) * 3 / 4
            let batch = outbox.nextBatch(budget: budget)
            let report = Report(
                requestId: nextRequestID(), workerId: options.id.rawValue, incarnation: incarnation,
                frames: batch.frames, metrics: batch.metrics, ends: batch.ends, provenance: batch.provenance)
            do {
                let reply = try await link.request(.report(report), on: context, timeout: NNGDuration(requestTimeout(.seconds(30))))
                switch reply {
                case .reportAck(let ack):
                    outbox.acknowledge(ack)
                    backoff = 100
                    continue
                case .rejected(let rejected):
                    try await recover(from: rejected, link: link, on: context)
                default:
                    logger.warning("unexpected reply to a report", metadata: ["kind": "\(reply.kind)"])
                }
            } catch {
                // A dropped connection, or a reply that does not decode or authenticate (logged,
                // never acted upon).
                try retryable(error)
                logger.debug("report failed, will resend", metadata: ["error": "\(error)"])
            }
            // Nothing is lost: the outbox keeps everything until acknowledged. Once the campaign
            // is over, everything left was already stored (the coordinator finishes only after
            // every attempt's end, which follows its frames) and only the acknowledgement was
            // lost with the closing coordinator: the lifecycle stops the retries after a few
            // seconds. A worker that leaves (a signal) tries until its leave deadline.
            for case .dropUndelivered(let campaignOver) in lifecycle({ $0.reportUnacknowledged(now: .now) }) {
                if campaignOver {
                    logger.warning("campaign over and coordinator gone; dropping acknowledgements never received")
                } else {
                    logger.error("leaving with output the coordinator never acknowledged (it is unreachable)",
                                 metadata: ["pending.bytes": "\(outbox.pendingBytes)"])
                }
                outbox.discardAll()
                return
            }
            try await Task.sleep(for: requestTimeout(.milliseconds(backoff)))
            backoff = min(backoff * 2, 2_000)
        }
    }
}
