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
    /// GPU ids offered (reported in Hello; placement comes with multi-node support).
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

/// An error that ends the worker.
public struct WorkerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The worker process's shell: dials the coordinator, asks for one attempt per free slot,
/// runs each as a job in its own process group, streams its compressed output and metrics
/// back, and heartbeats. Exits when the coordinator says the campaign is over and every
/// report is acknowledged.
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
    private let state = Mutex(State())
    private let requestIDs = Atomic<UInt64>(0)
    /// Where jobs may write their outputs (`INTERN_OUTPUT_FILE`, one file per attempt): in the
    /// state directory, else a private temporary directory removed when `run()` returns.
    private let outputsDirectory: String?
    private let outputsDirectoryIsTemporary: Bool
    private let provenanceProbe = ProvenanceProbe()

    private struct State {
        var welcome: Welcome?
        var running: [UInt64: RunningAttempt] = [:]
        var draining = false
        var finished = false
        var shutdown = false
        /// Told to leave (a signal): no new work; running attempts get the drain grace. The
        /// worker is gone by `leaveDeadline` (drain grace + kill grace + flush time) whatever
        /// the coordinator does.
        var leaving = false
        var leaveDeadline: ContinuousClock.Instant?
        /// Send a heartbeat now (the coordinator must learn at once that the worker leaves).
        var heartbeatNow = false
        var slotsDone = 0
        /// The slots' contexts while they wait for work; closed to stop the waits when the
        /// campaign is over or the worker drains.
        var waitingSlots: [Int: Context] = [:]
        /// Every job started and not yet seen to end.
        var spawned: [UInt64: JobProcess] = [:]

        var mustStopAsking: Bool { draining || finished || shutdown || leaving }
    }

    private struct RunningAttempt {
        var job: JobProcess?
        var cancelRequested = false
        /// Stopped because the worker is leaving: reported `preempted`.
        var preempted = false
    }

    /// Creates a worker; `run()` starts it. Takes the state directory (refused when another
    /// worker holds it), stops the jobs a killed previous incarnation left running, and starts
    /// an empty spool.
    public init(options: WorkerOptions, logger: Logger) throws {
        self.options = options
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
            throw WorkerError(message: error.description)
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

    /// Runs until the campaign is finished (or the task is cancelled).
    public func run() async throws {
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

        // Stopped (SIGINT/SIGTERM, or a fatal refusal): the jobs must not outlive the worker
        // unnoticed, so their process groups are terminated before the process exits.
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
        let started = ContinuousClock.now
        var delay = 100
        while true {
            try Task.checkCancellation()
            if state.withLock({ $0.leaving }) { throw WorkerError(message: "left before the coordinator at \(options.connect) answered") }
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
                throw WorkerError(message: "the TLS handshake with \(options.connect) failed (\(error)): the coordinator's certificate is not from this campaign's CA, or it refused this worker's")
            case .failure(let error):
                if shouldGiveUp(silentSince: started) { throw giveUp() }
                logger.debug("dial failed, retrying", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: .milliseconds(delay))
            delay = min(delay * 2, 2_000)
        }
    }

    private func serve(socket: Socket, link: CoordinatorLink) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.heartbeatLoop(try socket.openContext(), link: link) }
            group.addTask { try await self.reportLoop(try socket.openContext(), link: link) }
            for slot in 0..<options.slots {
                group.addTask { try await self.slotLoop(slot, context: try socket.openContext(), link: link) }
            }
            // The worker is done when every slot has stopped and the outbox is empty; the
            // heartbeat and report loops end themselves then. A loop that throws (fenced, the
            // coordinator given up on) ends the worker: `next()` rethrows at once and leaving
            // the group cancels the other loops (`waitForAll` would wait for them forever).
            while try await group.next() != nil {}
        }
    }

    private var welcome: Welcome? { state.withLock { $0.welcome } }

    /// Leaves gracefully (SIGTERM or SIGINT: preemption, a node drained): asks for no more
    /// work, lets running attempts go on for the drain grace, then stops their process groups
    /// (SIGTERM, then SIGKILL after the termination grace) and reports them `preempted`. `run()`
    /// returns once every attempt's end is delivered, or the flush time has passed.
    public func leave() {
        let deadline = ContinuousClock.now
            + .milliseconds(options.drainGraceMillis + options.terminationGraceMillis + options.leaveFlushMillis + 500)
        let first = state.withLock { state -> Bool in
            defer { state.leaving = true }
            if !state.leaving {
                state.leaveDeadline = deadline
                state.heartbeatNow = true
            }
            return !state.leaving
        }
        guard first else { return }
        logger.info("leaving: no new work; running attempts get the drain grace",
                    metadata: ["grace.ms": "\(options.drainGraceMillis)"])
        stopAsking { _ in }
        outbox.wake()
        Task {
            try? await Task.sleep(for: .milliseconds(options.drainGraceMillis))
            self.preemptAll()
        }
    }

    /// Stops every running attempt because the worker is leaving.
    private func preemptAll() {
        let jobs = state.withLock { state -> [JobProcess] in
            for attempt in state.running.keys { state.running[attempt]!.preempted = true }
            return state.running.values.compactMap(\.job)
        }
        guard !jobs.isEmpty else { return }
        logger.info("drain grace over: stopping running attempts", metadata: ["attempts": "\(jobs.count)"])
        for job in jobs { job.terminate(grace: .milliseconds(options.terminationGraceMillis)) }
    }

    /// Terminates every job still alive (SIGTERM to its process group) and waits for it; a job
    /// that outlives the grace is SIGKILLed here, since the reader thread that would do it dies
    /// with this process. Blocks the calling thread: only used when the worker stops.
    /// Whether the coordinator has been silent since `instant` for longer than `--give-up-after`
    /// while nothing runs here (running jobs are never abandoned).
    private func shouldGiveUp(silentSince instant: ContinuousClock.Instant) -> Bool {
        options.giveUpMillis > 0 && ContinuousClock.now - instant > .milliseconds(options.giveUpMillis)
            && state.withLock { $0.running.isEmpty }
    }

    /// Logs and returns the error that ends a worker whose coordinator is gone.
    private func giveUp() -> WorkerError {
        logger.error("giving up: the coordinator has not answered", metadata: [
            "for.s": "\(options.giveUpMillis / 1000)", "unacknowledged.bytes": "\(outbox.pendingBytes)"])
        return WorkerError(message: "the coordinator at \(options.connect) has not answered for \(options.giveUpMillis / 1000) s; giving up")
    }

    /// How long a request may wait: `normal`, or less once leaving (never past the deadline).
    private func requestTimeout(_ normal: Duration) -> Duration {
        guard let deadline = state.withLock({ $0.leaveDeadline }) else { return normal }
        return max(.milliseconds(100), min(normal, deadline - ContinuousClock.now))
    }

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
        let started = ContinuousClock.now
        while true {
            try Task.checkCancellation()
            if shouldGiveUp(silentSince: started) { throw giveUp() }
            // Leaving: never joined, or past the leave deadline, there is nothing to wait for.
            if state.withLock({ $0.leaving && ($0.welcome == nil || ContinuousClock.now > $0.leaveDeadline!) }) {
                throw WorkerError(message: "left before the coordinator at \(options.connect) answered")
            }
            // What this incarnation holds, as of this try: after a cut, the coordinator takes
            // back attempts it declared lost before it can hand their trials out again.
            hello.held = Set(state.withLock { Array($0.running.keys) } + outbox.endedAttempts).sorted()
            do {
                let helloTimeout = options.giveUpMillis > 0 ? min(10_000, max(500, options.giveUpMillis)) : 10_000
                let reply = try await link.request(.hello(hello), on: context, timeout: NNGDuration(requestTimeout(.milliseconds(helloTimeout))))
                switch reply {
                case .welcome(let welcome):
                    state.withLock { $0.welcome = welcome }
                    logger.info("joined campaign", metadata: ["campaign": "\(welcome.campaign)"])
                    return
                case .rejected(let rejected) where rejected.code == .internal:
                    logger.warning("coordinator busy, retrying hello", metadata: ["reason": "\(rejected.reason)"])
                case .rejected(let rejected):
                    throw WorkerError(message: "the coordinator refused this worker: \(rejected.reason)")
                default:
                    throw WorkerError(message: "unexpected reply to hello: \(reply.kind)")
                }
            } catch {
                if let uid = socket?.refusedIPCPeers.first {
                    throw WorkerError(message: "refused the coordinator at \(options.connect): the process listening there runs as uid \(uid), not as this worker's user (uid \(geteuid())) or root")
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
            throw WorkerError(message: "the coordinator at \(options.connect) refused this worker: \(auth)")
        case let hungUp as HungUp:
            throw WorkerError(message: "the coordinator at \(options.connect) refused this worker: \(hungUp)")
        case let auth as AuthError:
            logger.warning("a reply failed authentication; not acted upon", metadata: ["error": "\(auth)"])
        case is NNGError, is ProtocolError:
            return
        default:
            throw error
        }
    }

    /// Handles a refusal of any request: an unknown worker says hello again; a fenced one stops.
    private func recover(from rejected: Rejected, link: CoordinatorLink, socket context: Context) async throws {
        switch rejected.code {
        case .unknownWorker:
            logger.warning("coordinator does not know this worker; saying hello again")
            try await sayHello(context, link: link)
        case .fenced:
            throw WorkerError(message: "a newer incarnation of worker \(options.id) joined: this one stops")
        default:
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    // MARK: - Slots

    private func slotLoop(_ slot: Int, context: Context, link: CoordinatorLink) async throws {
        defer {
            context.close()
            state.withLock { $0.slotsDone += 1 }
            outbox.wake()
        }
        var requestID = nextRequestID()
        while true {
            try Task.checkCancellation()
            let stop = state.withLock { state -> Bool in
                if state.mustStopAsking { return true }
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
                // never acted upon). Closed by a drain or the end of the campaign learned elsewhere (a heartbeat).
                if state.withLock({ $0.mustStopAsking }) { return }
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
                    stopAsking { $0.draining = true }
                    return
                case .finished:
                    stopAsking { $0.finished = true }
                    return
                }
            case .rejected(let rejected):
                try await recover(from: rejected, link: link, socket: context)
            default:
                logger.warning("unexpected reply to a work request", metadata: ["kind": "\(reply.kind)"])
            }
        }
    }

    /// Records why the worker stops asking for work and ends the other slots' waits.
    private func stopAsking(_ change: (inout State) -> Void) {
        let waits = state.withLock { state -> [Context] in
            change(&state)
            return Array(state.waitingSlots.values)
        }
        for context in waits { context.close() }
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
        let leaving = state.withLock { state -> Bool in
            if state.leaving { return true }
            state.running[attempt] = RunningAttempt()
            return false
        }
        if leaving {
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
            state.withLock { _ = $0.running.removeValue(forKey: attempt) }
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
        let cancelledEarly = state.withLock { state -> Bool in
            state.spawned[attempt] = job
            state.running[attempt]?.job = job
            return (state.running[attempt]?.cancelRequested ?? false) || (state.running[attempt]?.preempted ?? false)
        }
        if cancelledEarly { job.terminate(grace: .milliseconds(options.terminationGraceMillis)) }

        var result: (JobExit, AttemptOutputTotals)?
        for await value in ended.stream { result = value }
        let removed = state.withLock { $0.running.removeValue(forKey: attempt) }
        let cancelled = removed?.cancelRequested ?? false
        let preempted = removed?.preempted ?? false
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
        outbox.add(end: attemptEnd(attempt, exit: exit, totals: totals, cancelled: cancelled, preempted: preempted))
        logger.debug("attempt ended", metadata: metadata.merging(["exit": "\(exit.status)"]) { $1 })
    }

    /// The end of an attempt whose process never ran (it could not start, or the worker was leaving).
    private func notRun(_ attempt: UInt64, _ outcome: InternProtocol.AttemptOutcome, detail: String) -> InternProtocol.AttemptEnd {
        let now = unixMillis()
        return InternProtocol.AttemptEnd(
            attemptId: attempt, outcome: outcome, code: 0, detail: detail, startedAtMs: now, endedAtMs: now,
            wallMs: 0, userCpuMs: 0, systemCpuMs: 0, peakRssBytes: 0, finalStdoutSeq: 0, finalStderrSeq: 0, finalMetricSeq: 0)
    }

    private func attemptEnd(
        _ attempt: UInt64, exit: JobExit, totals: AttemptOutputTotals, cancelled: Bool, preempted: Bool
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
            if exit.timedOut { .timedOut } else if cancelled { .cancelled } else if preempted { .preempted } else { outcome }
        return InternProtocol.AttemptEnd(
            attemptId: attempt, outcome: final, code: code, detail: "", startedAtMs: exit.startedAt, endedAtMs: exit.endedAt,
            wallMs: UInt64(max(0, exit.wallSeconds * 1000)), userCpuMs: UInt64(max(0, exit.userCPUSeconds * 1000)),
            systemCpuMs: UInt64(max(0, exit.systemCPUSeconds * 1000)), peakRssBytes: exit.peakRSSBytes,
            finalStdoutSeq: totals.finalStdoutSeq, finalStderrSeq: totals.finalStderrSeq, finalMetricSeq: totals.finalMetricSeq,
            logTail: final == .exited && code == 0 ? [] : totals.logTail, outputs: totals.outputs)
    }

    // MARK: - Heartbeats

    private var isDone: Bool {
        state.withLock { $0.slotsDone == options.slots && $0.running.isEmpty } && outbox.isEmpty
    }

    private func heartbeatLoop(_ context: Context, link: CoordinatorLink) async throws {
        defer { context.close() }
        var lastAnswer = ContinuousClock.now
        var reportedSpoolProblem = false
        while !isDone {
            try Task.checkCancellation()
            outbox.sendProvenance()
            if !reportedSpoolProblem, let problem = outbox.spoolProblem {
                reportedSpoolProblem = true
                logger.error("the spool cannot be written: unacknowledged output stays in memory, up to the spool limit",
                             metadata: ["error": "\(problem)"])
            }
            // A coordinator gone for good: once nothing runs here, stop waiting for it.
            if shouldGiveUp(silentSince: lastAnswer) { throw giveUp() }
            let interval = Int(welcome?.heartbeatIntervalMs ?? 1_000)
            let (running, leaving) = state.withLock { state in
                state.heartbeatNow = false
                return (Array(state.running.keys).sorted(), state.leaving)
            }
            let heartbeat = Heartbeat(
                requestId: nextRequestID(), workerId: options.id.rawValue, incarnation: incarnation, running: running, leaving: leaving)
            do {
                let reply = try await link.request(.heartbeat(heartbeat), on: context, timeout: NNGDuration(requestTimeout(.milliseconds(max(interval * 5, 1_000)))))
                lastAnswer = ContinuousClock.now
                switch reply {
                case .heartbeatReply(let answer):
                    apply(answer)
                case .rejected(let rejected):
                    try await recover(from: rejected, link: link, socket: context)
                default:
                    logger.warning("unexpected reply to a heartbeat", metadata: ["kind": "\(reply.kind)"])
                }
            } catch {
                // A dropped connection, or a reply that does not decode or authenticate (logged,
                // never acted upon).
                try retryable(error)
                logger.debug("heartbeat failed", metadata: ["error": "\(error)"])
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

    private func apply(_ answer: HeartbeatReply) {
        // Drained by the coordinator (`intern drain`, quarantine): leave as on SIGTERM, so
        // running attempts get the drain grace and are then preempted.
        if answer.drain { leave() }
        let grace = Duration.milliseconds(options.terminationGraceMillis)
        let (jobs, waits) = state.withLock { state -> ([JobProcess], [Context]) in
            if answer.drain { state.draining = true }
            if answer.shutdown { state.shutdown = true }
            // Slots waiting for work stop waiting: their answer would never come.
            let waits = state.mustStopAsking ? Array(state.waitingSlots.values) : []
            var jobs: [JobProcess] = []
            for attempt in answer.cancel {
                guard state.running[attempt] != nil else { continue }
                state.running[attempt]!.cancelRequested = true
                if let job = state.running[attempt]!.job { jobs.append(job) }
            }
            return (jobs, waits)
        }
        for context in waits { context.close() }
        for job in jobs { job.terminate(grace: grace) }
        if !answer.cancel.isEmpty {
            logger.info("cancelling attempts", metadata: ["attempts": "\(answer.cancel)"])
        }
    }

    // MARK: - Reports

    private func reportLoop(_ context: Context, link: CoordinatorLink) async throws {
        defer { context.close() }
        var backoff = 100
        var finishedRetryDeadline: ContinuousClock.Instant?
        while true {
            try Task.checkCancellation()
            if outbox.isEmpty {
                if isDone { return }
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
                    try await recover(from: rejected, link: link, socket: context)
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
            // lost with the closing coordinator: stop retrying after a few seconds.
            // A worker that leaves (a signal) tries until its leave deadline.
            let (over, leaveDeadline) = state.withLock { ($0.finished || $0.shutdown, $0.leaveDeadline) }
            if over || leaveDeadline != nil, state.withLock({ $0.slotsDone == options.slots && $0.running.isEmpty }) {
                if finishedRetryDeadline == nil {
                    finishedRetryDeadline = over ? ContinuousClock.now + .seconds(3) : leaveDeadline!
                }
                if ContinuousClock.now > finishedRetryDeadline! {
                    if over {
                        logger.warning("campaign over and coordinator gone; dropping acknowledgements never received")
                    } else {
                        logger.error("leaving with output the coordinator never acknowledged (it is unreachable)",
                                     metadata: ["pending.bytes": "\(outbox.pendingBytes)"])
                    }
                    outbox.discardAll()
                    return
                }
            }
            try await Task.sleep(for: requestTimeout(.milliseconds(backoff)))
            backoff = min(backoff * 2, 2_000)
        }
    }
}
