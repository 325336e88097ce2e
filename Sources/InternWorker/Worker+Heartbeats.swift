import InternCore
import InternProtocol
import Logging
import NNG
import Synchronization

/// Heartbeats: the lease, the attempts running here, and what the coordinator answers (cancels, drain, shutdown).
extension Worker {
    // MARK: - Heartbeats

    /// Whether the worker is done: no slot asks, nothing runs, nothing waits for delivery.
    private var isDone: Bool {
        state.withLock { $0.lifecycle.isFinished }
    }

    /// Heartbeats every interval (at once when the worker starts to leave) until the worker is
    /// done: renews its lease, names the attempts it runs, and learns of cancels, drains and the
    /// campaign's end. The coordinator's silence is counted from its last answer.
    func heartbeatLoop(_ context: Context, link: CoordinatorLink) async throws {
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
            try await sleepUnlessDone(milliseconds: FleetPacing.jittered(milliseconds: interval, unit: .random(in: 0..<1)))
        }
    }

    /// The worker is done and the campaign is over: one last heartbeat, leaving and running
    /// nothing, tells the coordinator it heard (its lingering waits for that). Answered or not
    /// within a second, the worker goes: a coordinator that lost it lingers a little longer.
    func sayGoodbye(_ context: Context, link: CoordinatorLink) async {
        guard state.withLock({ $0.lifecycle.saysGoodbye }) else { return }
        let goodbye = Heartbeat(requestId: nextRequestID(), workerId: options.id.rawValue, incarnation: incarnation, leaving: true)
        do {
            _ = try await link.request(.heartbeat(goodbye), on: context, timeout: NNGDuration(.seconds(1)))
        } catch {
            logger.debug("the coordinator did not answer the goodbye", metadata: ["error": "\(error)"])
        }
    }

    /// Waits out the interval between heartbeats, or less: until the worker is done, or must
    /// heartbeat at once (both ring `heartbeatAlarm`).
    private func sleepUnlessDone(milliseconds: Int) async throws {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while ContinuousClock.now < deadline, !isDone, !state.withLock({ $0.heartbeatNow }) {
            await heartbeatAlarm.wait(until: deadline)
            try Task.checkCancellation()
        }
    }

    /// Acts on a heartbeat's reply. Drained by the coordinator (`intern drain`, quarantine), the
    /// worker leaves as on SIGTERM, so running attempts get the drain grace and are then
    /// preempted; shut down, it stops asking for work; cancelled attempts are stopped; new report
    /// and heartbeat intervals replace the welcome's.
    private func apply(_ answer: HeartbeatReply) {
        // The fleet's pacing (0: unchanged): reports and heartbeats at once, new attempts' streams too.
        if answer.logFlushIntervalMs > 0 || answer.heartbeatIntervalMs > 0 {
            state.withLock { state in
                if answer.logFlushIntervalMs > 0 { state.welcome?.logFlushIntervalMs = answer.logFlushIntervalMs }
                if answer.heartbeatIntervalMs > 0 { state.welcome?.heartbeatIntervalMs = answer.heartbeatIntervalMs }
            }
        }
        perform(lifecycle { $0.heartbeatAnswered(drain: answer.drain, shutdown: answer.shutdown, cancel: answer.cancel, now: .now) })
    }
}
