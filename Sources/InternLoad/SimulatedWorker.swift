import Foundation
import InternAuth
import InternCore
import InternProtocol
import InternWorker
import NNG
import Synchronization

/// What every simulated worker of a run shares.
public struct LoadSettings: Sendable {
    /// The coordinator's URL (`tcp://HOST:PORT`, sealed when `credentials` are given).
    public var url: String
    public var credentials: Credentials?
    public var slots: Int
    public var profile: LoadProfile
    public var maxMessageBytes: Int

    /// Creates settings.
    public init(url: String, credentials: Credentials?, slots: Int, profile: LoadProfile, maxMessageBytes: Int = MessageCodec.defaultMaxMessageBytes) {
        self.url = url
        self.credentials = credentials
        self.slots = max(1, slots)
        self.profile = profile
        self.maxMessageBytes = maxMessageBytes
    }
}

/// One simulated worker: its own REQ socket dialing the coordinator, its own authenticated
/// session, and the requests a real `intern worker` sends, in the same order and with the same
/// rules (docs/protocol.md): a hello naming the attempts it holds, one work request outstanding
/// per free slot (retried with the same request id), a heartbeat every interval naming the
/// attempts it runs, reports of compressed frames, metric samples and ends resent until
/// acknowledged. Only the job is simulated: instead of a process, a ``SimulatedAttempt`` prints
/// Trainer-shaped output for the attempt's planned length.
///
/// Its ``ChurnSchedule`` events take it away: a kill closes its socket without a goodbye, drops
/// its attempts and outbox and comes back as a new incarnation; a cut closes the socket and
/// comes back as the same incarnation, its attempts still running and its outbox kept.
final class SimulatedWorker: Sendable {
    let id: String
    private let settings: LoadSettings
    private let log: TrainerLog
    private let recorder: LoadRecorder
    private let churn: [ChurnSchedule.Event]
    private let codec: MessageCodec
    private let state: Mutex<State>
    private let requestIDs = Atomic<UInt64>(0)
    private let reportWake: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)

    /// A connection to the coordinator, with the worker's session on it.
    private struct Session: Sendable {
        let number: Int
        let socket: Socket
        let link: CoordinatorLink
    }

    private struct State {
        var incarnation = UInt64.random(in: 1...UInt64.max)
        /// Bumped by a kill: attempts of an earlier generation stop silently.
        var generation = 0
        var session: Session?
        var sessionCount = 0
        var sessionWaiters: [CheckedContinuation<Session?, Never>] = []
        var welcome: Welcome?
        /// Running attempts, and whether the coordinator asked to cancel each.
        var running: [UInt64: Bool] = [:]
        var outbox = LoadOutbox()
        /// Each slot's outstanding work request id (kept across a cut, as a retry reuses it).
        var pendingRequest: [Int: UInt64] = [:]
        var campaignOver = false
        var campaignOverAt: ContinuousClock.Instant?
        var stopped = false
        /// The report loop waiting out its pacing, woken by an attempt's end (``untilUrgent()``).
        var urgentWaiter: CheckedContinuation<Void, Never>?

        var done: Bool { campaignOver && running.isEmpty && outbox.isEmpty }
    }

    init(index: Int, settings: LoadSettings, log: TrainerLog, recorder: LoadRecorder, churn: [ChurnSchedule.Event]) {
        id = String(format: "load-%05d", index)
        self.settings = settings
        self.log = log
        self.recorder = recorder
        self.churn = churn
        codec = MessageCodec(maxMessageBytes: settings.maxMessageBytes)
        state = Mutex(State())
        reportWake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    private func nextRequestID() -> UInt64 {
        requestIDs.add(1, ordering: .relaxed).newValue
    }

    private enum Loop {
        case report, other
    }

    /// Runs the worker until the campaign is over and everything it produced is acknowledged
    /// (or, 3 s after the campaign ended, dropped, as a real worker does).
    func run(start: ContinuousClock.Instant) async {
        await withTaskGroup(of: Loop.self) { group in
            group.addTask {
                await self.churnLoop(start: start)
                return .other
            }
            group.addTask {
                await self.reportLoop()
                return .report
            }
            group.addTask {
                await self.heartbeatLoop()
                return .other
            }
            for slot in 0..<settings.slots {
                group.addTask {
                    await self.slotLoop(slot)
                    return .other
                }
            }
            while let loop = await group.next() {
                if loop == .report {
                    stop()
                    group.cancelAll()
                }
            }
        }
    }

    /// Ends the worker: loops waiting for a session get none; the others are cancelled by the
    /// caller. The socket is left open (the process is about to exit): closing a socket whose
    /// coordinator has gone can block for good (see ``close(_:)``).
    private func stop() {
        let (session, waiters) = state.withLock { state in
            state.stopped = true
            defer {
                state.session = nil
                state.sessionWaiters = []
            }
            return (state.session, state.sessionWaiters)
        }
        // Kept for good: a socket's deinit closes it, and would block where it runs.
        if let session { Self.retired.withLock { $0.append(session.socket) } }
        for waiter in waiters { waiter.resume(returning: nil) }
        reportWake.continuation.finish()
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    /// Whether the worker's run is over.
    var hasStopped: Bool { stopped }

    /// Where the worker stands, for a run that timed out.
    var status: String {
        state.withLock { state in
            "\(id): campaign over \(state.campaignOver), connected \(state.session != nil), running \(state.running.count), "
                + "unacknowledged frames \(state.outbox.frames.count), samples \(state.outbox.samples.count), ends \(state.outbox.ends.count)"
        }
    }

    /// Closes a session's socket (a kill or a cut) on a thread of its own, without waiting:
    /// `nng_close` waits for every pipe to be freed, which with NNG 1.5.2's defect may be forever
    /// (see `Socket.close(waitingAtMost:)`). On the cooperative pool, or on Dispatch's global
    /// queues (64 threads at most), a few dozen such waits stalled every simulated worker. Its
    /// pending requests end with `closed` as soon as the close starts.
    private static let retired = Mutex<[Socket]>([])

    private static func close(_ session: Session) {
        let socket = session.socket
        Thread.detachNewThread { socket.close() }
    }

    // MARK: - Connecting, churn

    /// Connects, then takes the worker away and back at each of its churn events.
    private func churnLoop(start: ContinuousClock.Instant) async {
        guard await connect() else { return }
        for event in churn {
            do { try await Task.sleep(until: start + event.at, clock: .continuous) } catch { return }
            let away = state.withLock { state -> Session? in
                guard !state.campaignOver, !state.stopped else { return nil }
                defer { state.session = nil }
                if event.kind == .kill {
                    // The process dies: its jobs with it, its outbox, its pending requests.
                    state.generation += 1
                    state.incarnation = UInt64.random(in: 1...UInt64.max)
                    state.running = [:]
                    state.outbox.discardAll()
                    state.pendingRequest = [:]
                    state.welcome = nil
                }
                return state.session
            }
            guard let away else { continue }
            recorder.count { if event.kind == .kill { $0.kills += 1 } else { $0.cuts += 1 } }
            Self.close(away)
            do { try await Task.sleep(for: event.downFor) } catch { return }
            guard await connect() else { return }
        }
    }

    /// Opens a socket, dials, says hello, and publishes the session to the loops. False when
    /// the worker stopped meanwhile.
    private func connect() async -> Bool {
        while !stopped {
            do {
                let socket = try Socket.request(maxMessageSize: settings.maxMessageBytes)
                let dialer = try socket.dial(settings.url)
                try? dialer.setReconnectTime(min: .milliseconds(50), max: .seconds(2))
                let number = state.withLock { state -> Int in
                    state.sessionCount += 1
                    return state.sessionCount
                }
                let session = Session(number: number, socket: socket, link: CoordinatorLink(codec: codec, credentials: settings.credentials))
                let context = try socket.openContext()
                defer { context.close() }
                guard await sayHello(session, on: context) else {
                    Self.close(session)
                    return false
                }
                let waiters = state.withLock { state -> [CheckedContinuation<Session?, Never>]? in
                    guard !state.stopped else { return nil }
                    state.session = session
                    defer { state.sessionWaiters = [] }
                    return state.sessionWaiters
                }
                guard let waiters else {
                    Self.close(session)
                    return false
                }
                for waiter in waiters { waiter.resume(returning: session) }
                return true
            } catch {
                recorder.problem("\(id): cannot open a socket to \(settings.url): \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return false
    }

    /// The current session, waiting for one while the worker is away; nil once it stopped.
    private func currentSession() async -> Session? {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Session?? in
                if state.stopped { return .some(nil) }
                if let session = state.session { return .some(session) }
                state.sessionWaiters.append(continuation)
                return .none
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// A loop's context on the current session, opened anew after a reconnect.
    private func context(_ current: inout (session: Session, context: Context)?) async -> (session: Session, context: Context)? {
        let number = state.withLock { $0.session?.number }
        if let current, current.session.number == number, !current.session.socket.isClosed { return current }
        current?.context.close()
        current = nil
        guard let session = await currentSession(), let context = try? session.socket.openContext() else { return nil }
        current = (session, context)
        return current
    }

    /// Sends hello until a welcome comes (true), or the worker stops or is refused for good.
    private func sayHello(_ session: Session, on context: Context) async -> Bool {
        var delay = 100
        while !stopped, !session.socket.isClosed {
            let (incarnation, held) = state.withLock { ($0.incarnation, Set(Array($0.running.keys) + $0.outbox.endedAttempts).sorted()) }
            let hello = Hello(
                requestId: nextRequestID(), workerId: id, incarnation: incarnation, hostname: "load-host",
                pid: UInt64(getpid()), slots: UInt64(settings.slots), held: held)
            recorder.count { $0.hellos += 1 }
            do {
                switch try await session.link.request(.hello(hello), on: context, timeout: .seconds(10)) {
                case .welcome(let welcome):
                    state.withLock { if $0.incarnation == incarnation { $0.welcome = welcome } }
                    return true
                case .rejected(let rejected) where rejected.code == .internal:
                    recorder.count { $0.rejections += 1 }
                case let reply:
                    recorder.problem("\(id): hello answered \(reply.kind)")
                    return false
                }
            } catch {
                if !retryable(error) { return false }
            }
            if giveUpIfCampaignOver() { return false }
            try? await Task.sleep(for: .milliseconds(delay))
            delay = min(delay * 2, 2_000)
        }
        return false
    }

    /// Whether a failed request is worth retrying, as a real worker decides: a dropped connection
    /// or a reply that does not decode or authenticate is; a refusal of its credentials is not.
    private func retryable(_ error: any Error) -> Bool {
        switch error {
        case let auth as AuthError where auth.isConfigurationMismatch:
            recorder.problem("\(id): refused: \(auth)")
            return false
        case let hungUp as HungUp:
            recorder.problem("\(id): \(hungUp)")
            return false
        default:
            recorder.count { $0.retries += 1 }
            return true
        }
    }

    /// Once the campaign has been over for 3 s, a worker that cannot reach the coordinator (it
    /// closed) stops trying, as a real one does.
    private func giveUpIfCampaignOver() -> Bool {
        guard let over = recorder.campaignOverFor, over > .seconds(3) else { return false }
        state.withLock { state in
            state.campaignOver = true
            if state.campaignOverAt == nil { state.campaignOverAt = .now - over }
        }
        reportWake.continuation.yield()
        return true
    }

    /// Handles a refusal: an unknown worker says hello again.
    private func recover(_ rejected: Rejected, _ current: (session: Session, context: Context)) async {
        recorder.count { $0.rejections += 1 }
        if rejected.code == .unknownWorker {
            _ = await sayHello(current.session, on: current.context)
        } else {
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func markCampaignOver() {
        state.withLock { state in
            state.campaignOver = true
            if state.campaignOverAt == nil { state.campaignOverAt = .now }
        }
        recorder.campaignOver()
        reportWake.continuation.yield()
    }

    // MARK: - Slots

    /// One slot: a work request outstanding while the campaign goes on; each assignment run to
    /// its end before the next request.
    private func slotLoop(_ slot: Int) async {
        var current: (session: Session, context: Context)?
        defer { current?.context.close() }
        while true {
            guard !state.withLock({ $0.campaignOver }), let link = await context(&current) else { return }
            let (incarnation, generation, requestID) = state.withLock { state in
                let id = state.pendingRequest[slot] ?? nextRequestID()
                state.pendingRequest[slot] = id
                return (state.incarnation, state.generation, id)
            }
            let request = WorkRequest(requestId: requestID, workerId: id, incarnation: incarnation, slot: UInt64(slot))
            let sent = ContinuousClock.now
            let reply: Message
            do {
                reply = try await link.session.link.request(.workRequest(request), on: link.context, timeout: .seconds(60))
            } catch {
                if stopped || !retryable(error) || giveUpIfCampaignOver() { return }
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            let answered = ContinuousClock.now
            // A kill while the request was out: the process that asked is gone.
            guard state.withLock({ state -> Bool in
                guard state.generation == generation else { return false }
                state.pendingRequest[slot] = nil
                return true
            }) else { continue }
            switch reply {
            case .assignment(let assignment):
                recorder.dispatched(after: answered - sent)
                await runAttempt(assignment, generation: generation)
            case .noWork(let noWork):
                switch noWork.reason {
                case .idle:
                    if noWork.retryAfterMs > 0 { try? await Task.sleep(for: .milliseconds(Int(noWork.retryAfterMs))) }
                case .draining, .finished:
                    markCampaignOver()
                    return
                }
            case .rejected(let rejected):
                await recover(rejected, link)
            default:
                recorder.problem("\(id): a work request answered \(reply.kind)")
            }
        }
    }

    /// Simulates one attempt: prints its output tick by tick (the worker's flush interval) for
    /// its planned length, then queues its end. A cancel ends it early; a kill drops it.
    private func runAttempt(_ assignment: Assignment, generation: Int) async {
        let attempt = assignment.attemptId
        let plan = JobPlan(attempt: attempt, profile: settings.profile)
        let welcome = state.withLock { state -> Welcome?? in
            guard state.generation == generation else { return .none }
            state.running[attempt] = false
            return .some(state.welcome)
        }
        guard let welcome else { return }
        let tick = Duration.milliseconds(Int64(welcome?.logFlushIntervalMs ?? 250))
        guard var job = try? SimulatedAttempt(
            attempt: attempt, plan: plan, log: log, compressionLevel: Int32(clamping: welcome?.compressionLevel ?? 1),
            flushBytes: Int(clamping: welcome?.logFlushBytes ?? 65_536), seed: settings.profile.seed)
        else {
            recorder.problem("\(id): cannot make a zstd compressor")
            return
        }
        let start = ContinuousClock.now
        let startedAtMs = unixMillis()
        var outcome = AttemptOutcome.exited
        while true {
            let elapsed = ContinuousClock.now - start
            if elapsed >= plan.realDuration { break }
            try? await Task.sleep(for: min(tick, plan.realDuration - elapsed))
            let (alive, cancelled) = state.withLock { ($0.generation == generation, $0.running[attempt] ?? false) }
            guard alive else { return }
            if cancelled {
                outcome = .cancelled
                break
            }
            let fraction = LoadRecorder.seconds(ContinuousClock.now - start) / max(1e-9, LoadRecorder.seconds(plan.realDuration))
            if fraction < 1 { queue(job.advance(to: fraction, timeMs: unixMillis()), generation: generation) }
        }
        let (output, end) = job.finish(outcome: outcome, startedAtMs: startedAtMs, endedAtMs: unixMillis())
        queue(output, generation: generation, end: end)
    }

    /// Adds an attempt's output (and end) to the outbox, unless the worker was killed since.
    private func queue(_ output: SimulatedAttempt.Output, generation: Int, end: AttemptEnd? = nil) {
        let (queued, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard state.generation == generation else { return (false, nil) }
            state.outbox.add(frames: output.frames, samples: output.samples)
            guard let end else { return (true, nil) }
            state.outbox.add(end: end)
            state.running[end.attemptId] = nil
            defer { state.urgentWaiter = nil }
            return (true, state.urgentWaiter)
        }
        // Resumed outside the lock: a resume takes the task's status lock, which a cancellation
        // holds while its handler (``untilUrgent()``'s) waits for this one.
        waiter?.resume()
        guard queued else { return }
        recorder.count {
            $0.framesSent += output.frames.count
            $0.metricSamplesSent += output.samples.count
        }
        reportWake.continuation.yield()
    }

    // MARK: - Heartbeats

    /// A heartbeat every interval naming the running attempts; acts on cancels and the end of
    /// the campaign.
    private func heartbeatLoop() async {
        var current: (session: Session, context: Context)?
        defer { current?.context.close() }
        while !Task.isCancelled, let link = await context(&current) {
            let interval = Int(state.withLock { $0.welcome?.heartbeatIntervalMs } ?? 1_000)
            let (incarnation, running, over) = state.withLock { ($0.incarnation, Array($0.running.keys).sorted(), $0.campaignOver) }
            if !over {
                let heartbeat = Heartbeat(requestId: nextRequestID(), workerId: id, incarnation: incarnation, running: running)
                let sent = ContinuousClock.now
                do {
                    switch try await link.session.link.request(.heartbeat(heartbeat), on: link.context, timeout: .milliseconds(max(interval * 5, 1_000))) {
                    case .heartbeatReply(let reply):
                        recorder.heartbeatAnswered(after: .now - sent)
                        state.withLock { state in
                            for attempt in reply.cancel where state.running[attempt] != nil { state.running[attempt] = true }
                            if reply.logFlushIntervalMs > 0 { state.welcome?.logFlushIntervalMs = reply.logFlushIntervalMs }
                            if reply.heartbeatIntervalMs > 0 { state.welcome?.heartbeatIntervalMs = reply.heartbeatIntervalMs }
                        }
                        if reply.shutdown || reply.drain { markCampaignOver() }
                    case .rejected(let rejected):
                        await recover(rejected, link)
                    case let reply:
                        recorder.problem("\(id): a heartbeat answered \(reply.kind)")
                    }
                } catch {
                    if stopped || !retryable(error) { return }
                }
            }
            do { try await Task.sleep(for: .milliseconds(FleetPacing.jittered(milliseconds: interval, unit: .random(in: 0..<1)))) } catch { return }
        }
    }

    // MARK: - Reports

    /// Done, the campaign over and everything acknowledged: the goodbye a real worker says (a
    /// leaving heartbeat naming nothing, answered or not within a second; docs/protocol.md, End
    /// of a campaign), so that the coordinator need not linger for it. Only on the connection
    /// still open: a worker whose coordinator is gone has nobody to tell.
    private func sayGoodbye(_ current: (session: Session, context: Context)?) async {
        guard let current, !current.session.socket.isClosed else { return }
        let incarnation = state.withLock { $0.incarnation }
        let goodbye = Heartbeat(requestId: nextRequestID(), workerId: id, incarnation: incarnation, leaving: true)
        _ = try? await current.session.link.request(.heartbeat(goodbye), on: current.context, timeout: .seconds(1))
    }

    /// Returns once an attempt's end waits in the outbox (or the task is cancelled).
    private func untilUrgent() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.outbox.hasEnds || Task.isCancelled { return true }
                    state.urgentWaiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.urgentWaiter = nil }
                return state.urgentWaiter
            }?.resume()
        }
    }

    /// Sends the outbox, one report at a time, until the worker is done.
    private func reportLoop() async {
        var current: (session: Session, context: Context)?
        defer { current?.context.close() }
        var wakes = reportWake.stream.makeAsyncIterator()
        var backoff = 100
        var lastSent = ContinuousClock.now - .seconds(3_600)
        var wokeFromEmpty = false
        while true {
            let (empty, urgent, done, overSince) = state.withLock { state in
                (state.outbox.isEmpty, state.outbox.hasEnds, state.done, state.campaignOverAt)
            }
            if done {
                await sayGoodbye(current)
                return
            }
            if let overSince, ContinuousClock.now - overSince > .seconds(3) {
                // Over, and the coordinator gone: what is left was stored, only its
                // acknowledgement was lost (docs/protocol.md, Reports and acknowledgement).
                return
            }
            if empty {
                if await wakes.next() == nil { return }
                wokeFromEmpty = true
                continue
            }
            // Coalesce and pace as a real worker does: until the report interval has passed since
            // the last report (and 20 ms after output that found the outbox empty), not a moment
            // once an end waits.
            let interval = Duration.milliseconds(FleetPacing.jittered(
                milliseconds: Int(clamping: state.withLock { $0.welcome?.logFlushIntervalMs } ?? 250), unit: .random(in: 0..<1)))
            var delay = lastSent + interval - .now
            if wokeFromEmpty { delay = max(.milliseconds(20), delay) }
            wokeFromEmpty = false
            if !urgent, delay > .zero {
                let wait = delay
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await Task.sleep(for: wait) }
                    group.addTask { await self.untilUrgent() }
                    await group.next()
                    group.cancelAll()
                }
            }
            guard let link = await context(&current) else { return }
            let budget = Int(state.withLock { $0.welcome?.maxMessageBytes } ?? UInt64(settings.maxMessageBytes)) * 3 / 4
            let (incarnation, batch) = state.withLock { ($0.incarnation, $0.outbox.nextBatch(budget: budget)) }
            let report = Report(
                requestId: nextRequestID(), workerId: id, incarnation: incarnation, frames: batch.frames, metrics: MetricBatch.packing(batch.samples), ends: batch.ends)
            let sent = ContinuousClock.now
            lastSent = sent
            do {
                switch try await link.session.link.request(.report(report), on: link.context, timeout: .seconds(30)) {
                case .reportAck(let ack):
                    let settled = state.withLock { state -> LoadOutbox.Settled? in
                        state.incarnation == incarnation ? state.outbox.acknowledge(ack) : nil
                    }
                    if let settled { recorder.reportAcknowledged(after: .now - sent, settled) }
                    backoff = 100
                    continue
                case .rejected(let rejected):
                    await recover(rejected, link)
                case let reply:
                    recorder.problem("\(id): a report answered \(reply.kind)")
                }
            } catch {
                if stopped || !retryable(error) { return }
                _ = giveUpIfCampaignOver()
            }
            try? await Task.sleep(for: .milliseconds(backoff))
            backoff = min(backoff * 2, 2_000)
        }
    }
}

func unixMillis() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
