import Foundation
import InternAuth
import InternCore
import InternProtocol
import InternStore
import Logging
import NNG
import Synchronization

/// Settings of the coordinator process that are not part of the campaign.
public struct CoordinatorOptions: Sendable {
    /// URLs to listen on (`ipc:///path`, `tcp://host:port`).
    public var listen: [String]
    /// The largest message accepted from a worker (NNG's receive limit is set to this).
    public var maxMessageBytes: Int
    /// Timing of leases, heartbeats and long-polls.
    public var config: CoordinatorConfig
    /// What workers are told about log streaming.
    public var logFlushIntervalMillis: UInt64
    public var logFlushBytes: UInt64
    public var compressionLevel: Int64
    /// How often the logic's clock advances.
    public var tickMillis: Int
    /// After the campaign finished, how long to keep answering so workers learn it and exit.
    public var lingerMillis: Int
    /// The campaign's credentials: network peers must open an authenticated session with them.
    public var credentials: Credentials?
    /// For `tls+tcp://` listen URLs: the CA and this coordinator's certificate.
    public var tls: TLSSettings?
    /// Runs an admin command (`intern status`, …) sent by a remote client (`--coordinator URL`);
    /// `nil`: admin requests are refused.
    public var admin: (@Sendable ([String]) async -> AdminOutput)?
    /// `--insecure`: network peers may send plain messages (anyone who reaches the port can
    /// then run commands on the workers).
    public var insecure: Bool
    /// How many network connections may wait to authenticate, from one address and in all, how
    /// many connections there may be in all, and for how long one may stay unauthenticated.
    public var connectionLimits: ConnectionGate.Limits

    /// Creates options with defaults for everything but the listen URLs.
    public init(
        listen: [String], maxMessageBytes: Int = 16 << 20, config: CoordinatorConfig = CoordinatorConfig(),
        logFlushIntervalMillis: UInt64 = 250, logFlushBytes: UInt64 = 64 << 10, compressionLevel: Int64 = 1,
        tickMillis: Int = 100, lingerMillis: Int? = nil, credentials: Credentials? = nil, tls: TLSSettings? = nil, insecure: Bool = false
    ) {
        self.listen = listen
        self.maxMessageBytes = maxMessageBytes
        self.config = config
        self.logFlushIntervalMillis = logFlushIntervalMillis
        self.logFlushBytes = logFlushBytes
        self.compressionLevel = compressionLevel
        self.tickMillis = tickMillis
        self.lingerMillis = lingerMillis ?? Int(config.heartbeatIntervalMillis * 2 + 500)
        self.credentials = credentials
        self.tls = tls
        self.insecure = insecure
        connectionLimits = ConnectionGate.Limits(
            connections: Self.connectionCapacity(),
            // A worker whose connection was re-made sends nothing on it until its next request.
            unauthenticatedMillis: max(10_000, 3 * config.heartbeatIntervalMillis))
    }

    /// Connections the descriptor limit leaves room for (256 kept for the store, logs and jobs),
    /// at most 16,384.
    public static func connectionCapacity() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 768 }
        let soft = Int(clamping: limit.rlim_cur)  // RLIM_INFINITY is the largest value: clamped
        return min(16_384, max(64, soft - 256))
    }
}

/// What an admin command run for a remote client printed, and its exit status.
public struct AdminOutput: Sendable {
    public var exitCode: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]

    public init(exitCode: Int32, stdout: [UInt8] = [], stderr: String = "") {
        self.init(exitCode: exitCode, stdout: stdout, stderr: Array(stderr.utf8))
    }

    public init(exitCode: Int32, stdout: [UInt8], stderr: [UInt8]) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// The coordinator had to stop.
public struct CoordinatorError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A view of the campaign for progress displays.
public struct CoordinatorSnapshot: Sendable {
    public var progress: CampaignProgress
    public var best: TrialRecord?
    public var workers: Int
    public var freeSlots: Int
    public var isFinished: Bool
    /// Why dispatch stopped before every trial ended (a circuit breaker), if it did.
    public var stoppedReason: String?
    public var startedAt: Timestamp
    /// Metrics the stages count on that no completed trial has reported (a misspelt objective).
    public var missingMetrics: [MissingMetric] = []
    /// Whether a stage with an objective has completed trials but none reported it: the
    /// campaign cannot say which trial is best.
    public var objectiveNeverReported: Bool {
        missingMetrics.contains { $0.roles.contains(.objective) }
    }
}

/// The coordinator process's shell: receives worker requests on NNG reply contexts, feeds them
/// to `CoordinatorMachine`, commits the resulting changes to the store, then answers.
///
/// Runs on its own thread (a `DedicatedExecutor`), so its synchronous SQLite commits and log
/// appends never block Swift's cooperative pool. Work requests are parked as suspended
/// handlers; each parked request is one free slot of one worker (a credit).
public actor Coordinator {
    private let executor: DedicatedExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let options: CoordinatorOptions
    private let store: CampaignStore
    private let ingestor: ReportIngestor
    private let codec: MessageCodec
    private let gatekeeper: Gatekeeper
    private let rejections = Mutex(RejectionLog())
    /// The network connections and whether their peers authenticated (see `screen`).
    private let gate: Mutex<ConnectionGate>
    /// Connections to hang up on at the warden's next round (rejected, evicted, timed out).
    private let hangUps = Mutex<[NNG.Pipe]>([])
    private let hostname = ProcessInfo.processInfo.hostName
    private let logger: Logger
    private let incarnation = UInt64.random(in: 1...UInt64.max)
    private var machine: CoordinatorMachine
    private var parked: [RequestToken: CheckedContinuation<WorkReply, Never>] = [:]
    private var nextToken: UInt64 = 1
    private var ticks = 0
    /// Set when a commit failed: the coordinator stops (see `carryOut`).
    private var storeFailure: String?
    /// Workers that have been told the campaign is over.
    private var toldFinished: Set<WorkerID> = []
    private var idleReceivers = 0
    private var receiverDemand: AsyncStream<Void>.Continuation?
    private let startedAt: Timestamp
    /// The socket, once ``listen()`` opened it.
    private var bound: Socket?

    /// Opens the campaign in `store`: a fresh campaign, or the one stored there, continued.
    public init(spec: CampaignSpec, store: CampaignStore, options: CoordinatorOptions, logger: Logger) throws {
        executor = DedicatedExecutor(label: "intern.coordinator")
        self.options = options
        self.store = store
        self.logger = logger
        ingestor = ReportIngestor(store: store)
        codec = MessageCodec(maxMessageBytes: options.maxMessageBytes)
        gatekeeper = Gatekeeper(secret: options.credentials?.secret, allowUnsealedFromNetwork: options.insecure)
        gate = Mutex(ConnectionGate(limits: options.connectionLimits))
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
        for attempt in attempts where !attempt.status.isTerminal {
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
        let (machine, effects) = try CoordinatorMachine.restore(
            spec: spec, config: options.config, trials: trials, attempts: attempts, workers: try store.workers(),
            objectives: objectives, constraintValues: constraintValues, paused: info?.paused ?? false, startedAt: info?.createdAt,
            adjustments: info?.adjustments ?? CampaignAdjustments(), fedStages: info?.fedStages ?? [],
            reportedMetrics: trials.isEmpty ? [:] : try store.metricNamesByStage(), now: now)
        self.machine = machine
        // The pruners' memory is their metrics' stored points: replayed, trial by trial.
        for attempt in attempts.sorted(by: { $0.id < $1.id }) {
            guard let pruning = stageOf[attempt.trial]?.pruning else { continue }
            for point in try store.metricPoints(attempt: attempt.id, name: pruning.metric) {
                self.machine.replayIntermediate(trial: attempt.trial, step: point.step, value: point.value)
            }
        }
        try store.apply(effects.changes)
    }

    /// Unix time in milliseconds.
    static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
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
        let (demand, demandContinuation) = AsyncStream<Void>.makeStream()
        receiverDemand = demandContinuation
        let initialReceivers = 8

        try await withThrowingDiscardingTaskGroup { group in
            for _ in 0..<initialReceivers {
                let context = try socket.openContext()
                group.addTask { await self.serve(context) }
            }
            group.addTask { await self.clock() }
            group.addTask { await self.warden() }
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
            throw CoordinatorError(message: "cannot listen on \(options.listen.joined(separator: ", ")): \(error)")
        }
        bound = socket
        return socket
    }

    private func waitUntilDone() async throws {
        // A campaign stopped by its circuit breaker still waits for the attempts in flight:
        // their results and logs are stored before the coordinator goes.
        while !(machine.isFinished || (machine.stoppedReason != nil && machine.attemptsInFlight == 0)) {
            if let storeFailure { throw CoordinatorError(message: "the store cannot be written: \(storeFailure)") }
            try await Task.sleep(for: .milliseconds(options.tickMillis))
        }
        // Keep answering until every live worker has been told the campaign is over (its
        // parked work requests were answered "finished" at once), or the linger has passed.
        let deadline = ContinuousClock.now + .milliseconds(options.lingerMillis)
        while ContinuousClock.now < deadline {
            let live = machine.workers.values.filter { $0.state != .lost }.map(\.id)
            if live.allSatisfy(toldFinished.contains) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Replies just handed to NNG (the last report's acknowledgement) must leave before the
        // socket closes: closing drops queued messages.
        try await Task.sleep(for: .milliseconds(200))
    }

    private nonisolated func clock() async {
        while !Task.isCancelled {
            // Ends quietly when the group is cancelled (the campaign is over, or a signal).
            guard (try? await Task.sleep(for: .milliseconds(options.tickMillis))) != nil else { break }
            await tick()
        }
        // Parked work requests wait on continuations that cancellation does not reach.
        await releaseParked()
    }

    private func tick() {
        let effects = machine.tick(now: Self.now())
        carryOut(effects)
        ticks += 1
        if ticks % 3 == 0 { applyControlRequests() }
        // About every 2 s: `intern status` tells a running coordinator from a gone one.
        if ticks % max(1, 2_000 / options.tickMillis) == 1 {
            try? store.markCoordinatorAlive(pid: getpid(), host: hostname, now: Self.now())
        }
    }

    /// Carries out what admin commands asked for through the store (`intern cancel`, `intern drain`).
    private func applyControlRequests() {
        guard let requests = try? store.pendingControlRequests(), !requests.isEmpty else { return }
        let now = Self.now()
        for request in requests {
            // Taken before it is applied: a request whose handling stopped the coordinator is
            // never replayed into the next one.
            guard (try? store.take(request.id, now: now)) != nil else { return }
            let outcome: String
            switch request.kind {
            case .cancelTrial:
                if let id = Int(request.target), let trial = machine.trials[id], !trial.status.isTerminal {
                    carryOut(machine.cancel(trial: id, now: now))
                    outcome = "cancelled"
                } else {
                    outcome = "trial \(request.target) is not pending or running"
                }
            case .drainWorker:
                let worker = WorkerID(request.target)
                if machine.workers[worker]?.state == .active {
                    carryOut(machine.drain(worker: worker, now: now))
                    outcome = "draining"
                } else {
                    outcome = "worker \(request.target) is not active"
                }
            case .add:
                if let add = try? JSONDecoder().decode(AddRequest.self, from: Data(request.target.utf8)) {
                    let (effects, said) = machine.add(
                        configurations: add.configurations, trials: add.trials, hours: add.hours, gpuHours: add.gpuHours, now: now)
                    carryOut(effects)
                    outcome = said
                } else {
                    outcome = "nothing added: the request is not valid JSON for intern add"
                }
            case .pauseCampaign, .resumeCampaign:
                let pause = request.kind == .pauseCampaign
                if machine.isFinished {
                    outcome = "the campaign is finished"
                } else if machine.isPaused == pause {
                    outcome = pause ? "already paused" : "not paused"
                } else {
                    carryOut(machine.setPaused(pause, now: now))
                    outcome = pause
                        ? "paused: no new attempts; \(machine.attemptsInFlight) running go on"
                        : "resumed"
                }
            }
            try? store.markHandled(request.id, outcome: outcome, now: now)
            logger.info("control request", metadata: ["kind": "\(request.kind.rawValue)", "target": "\(request.target)", "outcome": "\(outcome)"])
        }
    }

    /// One reply context's loop: receive a request, answer it (possibly after parking), repeat.
    private nonisolated func serve(_ context: Context) async {
        defer { context.close() }
        while !Task.isCancelled {
            await receiverIdle(+1)
            let request: Received
            do {
                request = try await context.receiveMessage()
            } catch {
                await receiverIdle(-1)
                return
            }
            await receiverIdle(-1)
            // Authentication happens here, off the coordinator's thread: a rejected peer costs
            // a tag check and (at most once per 10 s per address) a log line, nothing else.
            let reply: [UInt8]
            switch gatekeeper.admit(request.bytes, fromNetwork: request.pipe.isNetwork, now: Self.monotonicMillis()) {
            case .plain(let message):
                admitted(request.pipe)
                guard let answer = await handle(message) else { continue }
                reply = answer
            case .opened(let message, let session):
                admitted(request.pipe)
                guard let answer = await handle(message) else { continue }
                reply = gatekeeper.seal(answer, in: session)
            case .answer(let answer):
                reply = answer
            case .rejected(let reason, let answer, let hangUp):
                logRejection(of: request.pipe, reason: reason)
                // A stranger (a network peer that has not authenticated) is sent nothing, only
                // hung up on: in NNG 1.5.2 a reply that fails to send (the stranger reset the
                // connection) closes the connection from NNG's send side, which can race its
                // receive (see Pipe.hangUp) and leak every connection after it. Its log line says
                // why; the worker, hung up on, says where to look.
                let stranger = !gate.withLock { $0.isAuthenticated(request.pipe.id) }
                guard let answer, !stranger else {
                    // Nothing worth saying to it (a forged or altered message), or a stranger: hang up.
                    if hangUp || stranger { hangUps.withLock { $0.append(request.pipe) } }
                    continue
                }
                reply = answer
            }
            do {
                try await context.send(reply)
            } catch {
                // The requester's pipe is gone; its REQ socket resends on a new one.
                continue
            }
        }
    }

    /// Logs a rejected peer with its address and why, at most once per 10 s per host and reason,
    /// and 20 lines per 10 s in all (a flood cannot flood the log); the count of those not logged
    /// follows on the next line, or in the warden's summary.
    private nonisolated func logRejection(of pipe: NNG.Pipe, reason: String) {
        // The address as the peer connected: once the pipe is closed, NNG can no longer say it.
        let address = gate.withLock { $0.address(of: pipe.id) } ?? pipe.remoteAddress ?? "an unknown address"
        logRejection(address: address, reason: reason)
    }

    private nonisolated func logRejection(address: String, reason: String) {
        let key = ConnectionGate.host(of: address) + " " + reason
        guard let suppressed = rejections.withLock({ $0.shouldLog(key, now: Self.monotonicMillis()) }) else { return }
        var metadata: Logger.Metadata = ["peer": "\(address)", "reason": "\(reason)"]
        if suppressed > 0 { metadata["rejected.since.last.log"] = "\(suppressed)" }
        logger.warning("rejected a peer", metadata: metadata)
    }

    // MARK: - Connections

    /// At a new connection, before it is used (on an NNG thread): whether to keep it. A stranger
    /// holds at most a few unauthenticated connections per address, and the oldest unauthenticated
    /// ones make room for newcomers when there are too many in all.
    private nonisolated func screen(_ pipe: NNG.Pipe) -> Bool {
        let address = pipe.remoteAddress
        let admission = gate.withLock { $0.open(pipe.id, address: address, local: !pipe.isNetwork, now: Self.monotonicMillis()) }
        switch admission {
        case .admit(let evicting):
            if !evicting.isEmpty { hangUps.withLock { $0.append(contentsOf: evicting.map(NNG.Pipe.init(id:))) } }
            return true
        case .refuse(let reason):
            logRejection(address: address ?? "an unknown address", reason: reason)
            return false
        case .drop:
            return false
        }
    }

    /// A message on `pipe` was admitted: its peer authenticated.
    private nonisolated func admitted(_ pipe: NNG.Pipe) {
        gate.withLock { gate in
            if !gate.isAuthenticated(pipe.id) { gate.authenticated(pipe.id) }
        }
    }

    /// Every 100 ms: hangs up on connections that did not authenticate in time and on those
    /// rejected or evicted since, and reports rejections that got no log line of their own.
    private nonisolated func warden() async {
        while !Task.isCancelled {
            guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { break }
            let now = Self.monotonicMillis()
            let expired = gate.withLock { $0.expired(now: now) }
            let limit = String(format: "%g", Double(options.connectionLimits.unauthenticatedMillis) / 1000)
            for connection in expired {
                logRejection(address: connection.address, reason: "did not authenticate within \(limit) s")
            }
            let batch = hangUps.withLock { pending in
                defer { pending = [] }
                return pending
            } + expired.map { NNG.Pipe(id: $0.id) }
            NNG.Pipe.hangUp(batch)
            logUnloggedRejections(now: now, final: false)
        }
        logUnloggedRejections(now: Self.monotonicMillis(), final: true)
    }

    private nonisolated func logUnloggedRejections(now: Int64, final: Bool) {
        guard let summary = rejections.withLock({ $0.summary(now: now, final: final) }) else { return }
        logger.warning("rejected peers without a line each", metadata: [
            "rejections": "\(summary.rejections)", "addresses.and.reasons": "\(summary.keys)"])
    }

    static func monotonicMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    private func receiverIdle(_ delta: Int) {
        idleReceivers += delta
        // Keep spare contexts receiving while others are parked with long-polls.
        if delta < 0, idleReceivers < 4 { receiverDemand?.yield() }
    }

    // MARK: - Requests

    /// Decodes and answers one request. Malformed input gets a `Rejected` reply and is logged;
    /// it never stops the coordinator.
    func handle(_ bytes: [UInt8]) async -> [UInt8]? {
        let message: Message
        do {
            message = try codec.decode(bytes)
        } catch {
            logMalformed(reason: "\(error)", kind: "\(error.rejectCode)", bytes: bytes.count)
            // Without a readable request id there is nobody to answer: drop it (the context
            // simply receives the next request).
            guard let requestId = codec.salvageRequestId(bytes) else { return nil }
            return codec.encode(.rejected(Rejected(requestId: requestId, code: error.rejectCode, reason: "\(error)")))
        }
        let reply: Message
        switch message {
        case .hello(let hello): reply = handleHello(hello)
        case .workRequest(let request): reply = await handleWorkRequest(request)
        case .heartbeat(let heartbeat): reply = handleHeartbeat(heartbeat)
        case .report(let report): reply = handleReport(report)
        case .adminRequest(let request): reply = await handleAdmin(request)
        case .welcome, .rejected, .assignment, .noWork, .heartbeatReply, .reportAck, .adminReply:
            logMalformed(reason: "\(message.kind) is not a request", kind: "\(message.kind)", bytes: bytes.count)
            reply = .rejected(Rejected(requestId: message.requestId, code: .malformed, reason: "\(message.kind) is not a request"))
        }
        return codec.encode(reply)
    }

    /// Logs a message that could not be taken (from an authenticated or local peer), at most once
    /// per 10 s per kind of fault, with the count not logged since.
    private nonisolated func logMalformed(reason: String, kind: String, bytes: Int) {
        guard let suppressed = rejections.withLock({ $0.shouldLog("malformed " + kind, now: Self.monotonicMillis()) }) else { return }
        var metadata: Logger.Metadata = ["reason": "\(reason)", "bytes": "\(bytes)"]
        if suppressed > 0 { metadata["rejected.since.last.log"] = "\(suppressed)" }
        logger.warning("rejected a malformed message", metadata: metadata)
    }

    private func handleAdmin(_ request: AdminRequest) async -> Message {
        guard let admin = options.admin else {
            return .rejected(Rejected(requestId: request.requestId, code: .internal, reason: "this coordinator does not run admin commands"))
        }
        logger.info("admin command", metadata: ["arguments": "\(request.arguments.prefix(8))"])
        let output = await admin(request.arguments)
        return .adminReply(AdminReply(requestId: request.requestId, exitCode: Int64(output.exitCode), stdout: output.stdout, stderr: output.stderr))
    }

    private func handleHello(_ hello: Hello) -> Message {
        let offered = WorkerResources(labels: hello.labels)
        let effects = machine.hello(
            worker: WorkerID(hello.workerId), incarnation: hello.incarnation, hostname: hello.hostname,
            pid: Int(clamping: hello.pid), slots: Int(clamping: hello.slots), gpus: hello.gpus,
            cpus: offered.cpus, memoryBytes: offered.memoryBytes, held: hello.held.sorted(), now: Self.now())
        guard carryOut(effects) else {
            return .rejected(Rejected(requestId: hello.requestId, code: .internal, reason: "the coordinator cannot write its store"))
        }
        return .welcome(Welcome(
            requestId: hello.requestId, campaign: machine.spec.name, coordinatorIncarnation: incarnation,
            heartbeatIntervalMs: UInt64(options.config.heartbeatIntervalMillis),
            leaseTimeoutMs: UInt64(options.config.leaseTimeoutMillis), maxMessageBytes: UInt64(options.maxMessageBytes),
            logFlushIntervalMs: options.logFlushIntervalMillis, logFlushBytes: options.logFlushBytes,
            compressionLevel: options.compressionLevel, metricPrefix: machine.spec.metricPrefix))
    }

    private func handleWorkRequest(_ request: WorkRequest) async -> Message {
        let token = RequestToken(nextToken)
        nextToken += 1
        let reply: WorkReply = await withCheckedContinuation { continuation in
            parked[token] = continuation
            let effects = machine.requestWork(
                token: token, worker: WorkerID(request.workerId), incarnation: request.incarnation,
                requestID: request.requestId, now: Self.now())
            carryOut(effects)
        }
        switch reply {
        case .assignment(let plan):
            return .assignment(Assignment(
                requestId: request.requestId, campaign: machine.spec.name, trialId: UInt64(plan.trial),
                attemptId: plan.attempt, attemptNumber: UInt64(plan.number), argv: plan.argv, shell: plan.shell,
                environment: StringPairs(plan.environment), workdir: plan.workdir, timeoutMs: plan.timeoutMillis,
                parameters: StringPairs(plan.parameters), gpus: plan.gpus, resultFiles: StringPairs(plan.resultFiles)))
        case .noWork(let reason):
            if reason == .finished { toldFinished.insert(WorkerID(request.workerId)) }
            let wire: InternProtocol.NoWorkReason = switch reason {
            case .idle: .idle
            case .draining: .draining
            case .finished: .finished
            }
            return .noWork(NoWork(requestId: request.requestId, reason: wire, retryAfterMs: 0))
        case .refused(let refusal):
            return .rejected(Self.rejected(refusal, requestId: request.requestId))
        }
    }

    private func handleHeartbeat(_ heartbeat: Heartbeat) -> Message {
        let (answer, effects) = machine.heartbeat(
            worker: WorkerID(heartbeat.workerId), incarnation: heartbeat.incarnation, running: heartbeat.running,
            leaving: heartbeat.leaving, now: Self.now())
        if let refusal = answer.refusal {
            return .rejected(Self.rejected(refusal, requestId: heartbeat.requestId))
        }
        guard carryOut(effects) else {
            return .rejected(Rejected(requestId: heartbeat.requestId, code: .internal, reason: "the coordinator cannot write its store"))
        }
        if answer.shutdown { toldFinished.insert(WorkerID(heartbeat.workerId)) }
        return .heartbeatReply(HeartbeatReply(
            requestId: heartbeat.requestId, cancel: answer.cancel, drain: answer.drain, shutdown: answer.shutdown))
    }

    /// A report is two machine events around the store: `admitReport` decides what may be
    /// stored (and takes back attempts lost while the worker was cut off), the shell stores it,
    /// and `reportStored` acts on what was stored for the first time.
    private func handleReport(_ report: Report) -> Message {
        let worker = WorkerID(report.workerId)
        let now = Self.now()
        var dataAbout = Set(report.frames.map(\.attemptId))
        dataAbout.formUnion(report.metrics.map(\.attemptId))
        dataAbout.formUnion(report.provenance.map(\.attemptId))
        let admission = machine.admitReport(
            worker: worker, incarnation: report.incarnation, dataAbout: dataAbout, endsOf: report.ends.map(\.attemptId), now: now)
        if let refusal = admission.refusal {
            return .rejected(Self.rejected(refusal, requestId: report.requestId))
        }
        guard carryOut(admission.effects) else {
            return .rejected(Rejected(requestId: report.requestId, code: .internal, reason: "the coordinator cannot write its store"))
        }
        let accepted = admission.accepted
        var frames: [IncomingFrame] = []
        frames.reserveCapacity(report.frames.count)
        for frame in report.frames where accepted.contains(frame.attemptId) {
            frames.append(IncomingFrame(
                attempt: frame.attemptId, stream: frame.stream == .stdout ? .stdout : .stderr, seq: frame.seq,
                rawLength: frame.rawLength, data: frame.data))
        }
        let metrics = report.metrics.filter { accepted.contains($0.attemptId) }.map { sample in
            IncomingMetric(
                attempt: sample.attemptId, seq: sample.seq, name: sample.name, step: sample.step, value: sample.value,
                time: sample.timeMs)
        }
        let cursors: IngestCursors
        do {
            cursors = try ingestor.ingest(frames: frames, metrics: metrics, trialOf: { machine.attempts[$0]?.trial }, now: now)
        } catch {
            logger.error("cannot store a report", metadata: ["worker.id": "\(worker)", "error": "\(error)"])
            return .rejected(Rejected(requestId: report.requestId, code: .internal, reason: "the coordinator cannot store logs: \(error)"))
        }
        var effects = Effects()
        for loss in cursors.losses {
            logger.warning("a worker's spool was full: job output lost", metadata: [
                "worker.id": "\(worker)", "attempt": "\(loss.attempt)", "stream": "\(loss.stream)", "bytes": "\(loss.rawBytes)"])
            effects.changes.append(.event(CampaignEvent(
                kind: "log.lost",
                message: "\(loss.rawBytes) bytes of attempt \(loss.attempt)'s \(loss.stream) were lost: worker \(worker)'s spool was full while the coordinator was unreachable",
                trial: machine.attempts[loss.attempt]?.trial, attempt: loss.attempt, worker: worker, at: now)))
        }
        // What attempts ran with: stored as sent, within limits (a blob must be what its digest says).
        let provenance = report.provenance.filter { accepted.contains($0.attemptId) }
        for item in provenance {
            effects.changes.append(.provenance(Self.provenanceRecord(item, now: now)))
        }
        // Only samples this report stored count: a resent sample, or an old report answered late, is not seen again.
        let samples = metrics.filter { cursors.newMetrics[$0.attempt]?.contains($0.seq) == true }.map {
            CoordinatorMachine.StoredSample(attempt: $0.attempt, name: $0.name, step: $0.step, value: $0.value)
        }
        let ends = report.ends.map { end in
            var core = Self.coreEnd(end)
            // The attempt's metrics as stored (this report's included): which names its job
            // prints, and whether its objective or loss ended NaN (none to read if it sent none).
            if end.finalMetricSeq > 0, machine.accepts(attempt: end.attemptId, from: worker, incarnation: report.incarnation) {
                core.metrics = (try? store.lastMetricValues(attempt: end.attemptId, always: machine.watchedMetrics)) ?? [:]
            }
            return core
        }
        effects.append(machine.reportStored(samples: samples, ends: ends, worker: worker, incarnation: report.incarnation, now: now))
        guard carryOut(effects) else {
            return .rejected(Rejected(requestId: report.requestId, code: .internal, reason: "the coordinator cannot write its store"))
        }
        return .reportAck(ReportAck(
            requestId: report.requestId,
            stored: cursors.streams.map { StreamCursor(attemptId: $0.attempt, stream: $0.stream == .stdout ? .stdout : .stderr, seq: $0.seq) },
            metricsStored: cursors.metrics.map { MetricCursor(attemptId: $0.attempt, seq: $0.seq) },
            endsStored: report.ends.map(\.attemptId), unknownAttempts: admission.unknown, provenanceStored: provenance.map(\.attemptId)))
    }

    /// A worker's provenance as stored: at most 32 fields of bounded size; blobs of a known kind,
    /// at most 4 MiB, whose content hashes to their digest (others are dropped).
    static func provenanceRecord(_ item: AttemptProvenance, now: Timestamp) -> AttemptProvenanceRecord {
        var fields: [String: String] = [:]
        for pair in item.fields.prefix(32) where pair.key.utf8.count <= 64 && pair.value.utf8.count <= 1_024 && !pair.value.utf8.contains(0) {
            fields[pair.key] = pair.value
        }
        let blobs = item.blobs.compactMap { sent -> AttemptProvenanceRecord.Blob? in
            let blob = AttemptProvenanceRecord.Blob(digest: sent.digest, kind: sent.kind, rawLength: sent.rawLength, data: sent.data)
            guard ["git.diff", "packages"].contains(blob.kind), blob.data.count <= 4 << 20, let content = blob.content,
                  SHA256.hex(content) == blob.digest else { return nil }
            return blob
        }
        return AttemptProvenanceRecord(attempt: item.attemptId, fields: fields, blobs: blobs, capturedAt: now)
    }

    static func coreEnd(_ end: InternProtocol.AttemptEnd) -> InternCore.AttemptEnd {
        let outcome: InternCore.AttemptOutcome = switch end.outcome {
        case .exited: .exited(Int32(truncatingIfNeeded: end.code))
        case .signaled: .signaled(Int32(truncatingIfNeeded: end.code))
        case .failedToStart: .failedToStart(end.detail)
        case .timedOut: .timedOut
        case .cancelled: .cancelled
        case .preempted: .preempted
        }
        var core = InternCore.AttemptEnd(
            attempt: end.attemptId, outcome: outcome, startedAt: end.startedAtMs, endedAt: end.endedAtMs,
            wallMillis: end.wallMs, userCPUMillis: end.userCpuMs, systemCPUMillis: end.systemCpuMs,
            peakRSSBytes: end.peakRssBytes, finalStdoutSeq: end.finalStdoutSeq, finalStderrSeq: end.finalStderrSeq,
            finalMetricSeq: end.finalMetricSeq, logTail: String(decoding: end.logTail, as: UTF8.self))
        // A worker's report is not trusted further than the worker's own parser: the same limits.
        for pair in end.outputs.prefix(OutputLineParser.maxOutputs) where OutputLineParser.isAcceptable(name: pair.key, value: pair.value) {
            core.outputs[pair.key] = pair.value
        }
        return core
    }

    static func rejected(_ refusal: Refusal, requestId: UInt64) -> Rejected {
        switch refusal {
        case .unknownWorker:
            Rejected(requestId: requestId, code: .unknownWorker, reason: "unknown worker or incarnation: say hello again")
        case .fenced:
            Rejected(requestId: requestId, code: .fenced, reason: "a newer incarnation of this worker has joined")
        }
    }

    /// Commits the changes, then resumes the parked requests the effects answer.
    ///
    /// The machine has already applied the event in memory; if the store cannot record it
    /// (disk full, I/O error), memory and journal disagree, so the coordinator stops instead of
    /// acknowledging anything more (fail-stop). Workers keep their unacknowledged data and
    /// retry; a restarted coordinator rebuilds its state from the store. Returns false then.
    @discardableResult
    private func carryOut(_ effects: Effects) -> Bool {
        guard storeFailure == nil else { return false }
        do {
            try store.apply(effects.changes)
        } catch {
            logger.critical("cannot commit to the store; stopping", metadata: ["error": "\(error)"])
            storeFailure = "\(error)"
            releaseParked()
            return false
        }
        for change in effects.changes {
            switch change {
            case .campaignFinished:
                logger.info("campaign finished", metadata: ["campaign": "\(machine.spec.name)"])
            case .attempt(let attempt) where attempt.status.isTerminal:
                // Also for attempts lost with their worker: no end will ever close their files.
                ingestor.closeStreams(of: attempt.id)
            default:
                break
            }
        }
        for reply in effects.replies {
            parked.removeValue(forKey: reply.token)?.resume(returning: reply.reply)
        }
        return true
    }

    /// Answers every parked request (the coordinator is stopping): nothing may wait forever.
    private func releaseParked() {
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
            missingMetrics: machine.coverage.missing)
    }
}
