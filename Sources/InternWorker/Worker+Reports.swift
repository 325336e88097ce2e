import InternCore
import InternProtocol
import Logging
import NNG

/// Reports: the outbox's output, metrics, provenance and attempt ends, delivered until acknowledged.
extension Worker {
    // MARK: - Reports

    /// How long the reporter waits for more output before sending a report that carries no end
    /// (at least; see ``reportLoop(_:link:)``), and how much pending output sends it at once.
    static let coalesceDelay = Duration.milliseconds(20)
    static let coalesceBytes = 256 << 10

    /// Sends the outbox's oldest items, one report at a time, until the worker is done; resends
    /// what is not acknowledged, until the lifecycle says to drop it.
    ///
    /// Reports are paced: at most one per `logFlushIntervalMs` (the coordinator's, which it
    /// stretches for a large fleet: docs/protocol.md, Report pacing), carrying whatever every slot
    /// flushed meanwhile; an attempt's end or ``coalesceBytes`` of output goes at once.
    func reportLoop(_ context: Context, link: CoordinatorLink) async throws {
        defer { context.close() }
        var backoff = 100
        var lastSent = ContinuousClock.now - .seconds(3_600)
        while true {
            try Task.checkCancellation()
            // Coalesce: a chatty job fills a frame every few milliseconds, and each report costs
            // the coordinator a receive, a transaction and a reply. Wait for more until the report
            // interval has passed since the last report (and 20 ms after output that found the
            // outbox empty), but not a moment once an attempt's end is queued (the next dispatch
            // may depend on it) or ``coalesceBytes`` wait.
            let interval = Duration.milliseconds(FleetPacing.jittered(
                milliseconds: Int(clamping: welcome?.logFlushIntervalMs ?? 250), unit: .random(in: 0..<1)))
            var delay = lastSent + interval - .now
            if outbox.isEmpty {
                if lifecycle({ $0.nothingUndelivered() }).contains(.exit) { return }
                await outbox.waitForWork()
                if outbox.isEmpty { continue }
                delay = max(Self.coalesceDelay, lastSent + interval - .now)
            }
            // An end queued (a short trial's output and end come together): no wait to set up.
            if delay > .zero, !outbox.isUrgent(bytes: Self.coalesceBytes) {
                let outbox = self.outbox, wait = delay
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await Task.sleep(for: wait) }
                    group.addTask { await outbox.waitUntilUrgent(bytes: Self.coalesceBytes) }
                    await group.next()
                    group.cancelAll()
                }
                try Task.checkCancellation()
            }
            let budget = (Int(welcome?.maxMessageBytes ?? UInt64(options.maxMessageBytes))) * 3 / 4
            let batch = outbox.nextBatch(budget: budget)
            let report = Report(
                requestId: nextRequestID(), workerId: options.id.rawValue, incarnation: incarnation,
                frames: batch.frames, metrics: MetricBatch.packing(batch.metrics), ends: batch.ends, provenance: batch.provenance)
            lastSent = .now
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
