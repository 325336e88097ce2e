import Foundation
import InternAuth
import Logging
import NNG
import Synchronization

/// Connections: the receive loops, who may connect and stay (authentication, limits), and the rejected peers' log lines.
extension Coordinator {
    /// One reply context's loop: receive a request, answer it (possibly after parking), repeat.
    ///
    /// It runs on the coordinator's thread, receiving included (`receiveMessage` resumes on its
    /// caller's executor), and hands each reply to NNG without waiting for its delivery: a request
    /// costs one hop, from NNG's thread to this one. (Through Swift's shared pool, authenticating
    /// there and awaiting each send, it cost four: at 200 simulated workers, 25,000 context
    /// switches a second for 1,600 requests; docs/operations.md, Scale.)
    func serve(_ context: Context) async {
        receivers.add(1, ordering: .relaxed)
        var retired = false
        defer {
            if !retired { receivers.subtract(1, ordering: .relaxed) }
            context.close()
        }
        while !Task.isCancelled {
            let request: Received
            do {
                request = try await context.receiveMessage()
            } catch {
                return
            }
            // On the coordinator's thread now: how long the request waited for it.
            if request.arrivedAt > 0 { measurements.requestTakenUp(waited: Self.monotonicNanos() &- request.arrivedAt) }
            // Authentication happens first: a rejected peer costs a tag check and (at most once
            // per 10 s per address) a log line, nothing else.
            let reply: [UInt8]
            switch gatekeeper.admit(request.bytes, fromNetwork: request.pipe.isNetwork, now: Self.monotonicMillis()) {
            case .plain(let message):
                admitted(request.pipe)
                guard let answer = await handle(message, arrivedAt: request.arrivedAt) else { continue }
                reply = answer
            case .opened(let message, let session):
                admitted(request.pipe)
                guard let answer = await handle(message, arrivedAt: request.arrivedAt) else { continue }
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
                try await context.reply(reply)
            } catch {
                // The context closed (the coordinator is stopping), or NNG is out of memory: the
                // requester's REQ socket resends.
            }
            if retireIfSurplus() {
                // Its reply may still wait behind a busy connection: closing now would drop it.
                await context.repliesHandedOver()
                retired = true
                return
            }
        }
    }

    /// Whether this receive loop may close: more than twice ``spareReceivers`` contexts free of
    /// long-polls (the count is taken down here, once, so two loops never both take the last).
    nonisolated func retireIfSurplus() -> Bool {
        while true {
            let count = receivers.load(ordering: .relaxed)
            guard count - longPolls.load(ordering: .relaxed) > 2 * Self.spareReceivers else { return false }
            if receivers.compareExchange(expected: count, desired: count - 1, ordering: .relaxed).exchanged { return true }
        }
    }

    /// Logs a rejected peer with its address and why, at most once per 10 s per host and reason,
    /// and 20 lines per 10 s in all (a flood cannot flood the log); the count of those not logged
    /// follows on the next line, or in the warden's summary.
    nonisolated func logRejection(of pipe: NNG.Pipe, reason: String) {
        // The address as the peer connected: once the pipe is closed, NNG can no longer say it.
        let address = gate.withLock { $0.address(of: pipe.id) } ?? pipe.remoteAddress ?? "an unknown address"
        logRejection(address: address, reason: reason)
    }

    nonisolated func logRejection(address: String, reason: String) {
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
    nonisolated func screen(_ pipe: NNG.Pipe) -> Bool {
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
    nonisolated func admitted(_ pipe: NNG.Pipe) {
        gate.withLock { gate in
            if !gate.isAuthenticated(pipe.id) { gate.authenticated(pipe.id) }
        }
    }

    /// Every 100 ms: hangs up on connections that did not authenticate in time and on those
    /// rejected or evicted since, and reports rejections that got no log line of their own.
    nonisolated func warden() async {
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

    nonisolated func logUnloggedRejections(now: Int64, final: Bool) {
        guard let summary = rejections.withLock({ $0.summary(now: now, final: final) }) else { return }
        logger.warning("rejected peers without a line each", metadata: [
            "rejections": "\(summary.rejections)", "addresses.and.reasons": "\(summary.keys)"])
    }

    static func monotonicMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// A work request was parked (it holds its context until a trial or the campaign's end
    /// answers it); asks for another receive loop when fewer than ``spareReceivers`` are free.
    nonisolated func longPollBegan() {
        let polls = longPolls.add(1, ordering: .relaxed).newValue
        if receivers.load(ordering: .relaxed) - polls < Self.spareReceivers { receiverDemand.continuation.yield() }
    }

    nonisolated func longPollEnded() {
        longPolls.subtract(1, ordering: .relaxed)
    }
}
