import Foundation
import InternAuth
import InternProtocol
import Logging
import NNG
import Synchronization

/// Joining the coordinator and keeping to it: dialing, Hello, and what a failed or refused request means.
extension Worker {
    /// Dials the coordinator. Over TLS, dials until one handshake has completed: NNG reports a
    /// failed handshake to nobody (the connection just closes and is redialled), so a worker whose
    /// certificates are not the coordinator's campaign's would otherwise wait in silence; it says
    /// so and stops instead. A coordinator not listening yet is waited for, up to --give-up-after.
    func dial(_ socket: Socket) async throws -> Dialer {
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
    func giveUp() -> WorkerError {
        logger.error("giving up: the coordinator has not answered", metadata: [
            "for.s": "\(options.giveUpMillis / 1000)", "unacknowledged.bytes": "\(outbox.pendingBytes)"])
        return WorkerError(
            code: .gaveUp, message: "the coordinator at \(options.connect) has not answered for \(options.giveUpMillis / 1000) s; giving up")
    }

    /// Sends Hello until a Welcome comes back. A refusal other than a transient one ends the worker.
    func sayHello(_ context: Context, link: CoordinatorLink, socket: Socket? = nil) async throws {
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
    /// requires credentials this worker lacks, or has none), or that speaks another protocol
    /// version, ends the worker: no retry fixes it.
    func retryable(_ error: any Error) throws {
        switch error {
        case let version as ProtocolError where version.code == .unsupportedVersion:
            // Its refusal of this worker's hello, or any reply, comes in its own version, which
            // this worker cannot decode: the header's version byte is all there is to go on.
            let theirs = version.receivedVersion.map { "\($0)" } ?? "another"
            throw WorkerError(
                code: .protocolVersion,
                message: "the coordinator at \(options.connect) speaks protocol version \(theirs), this worker protocol version \(ProtocolVersion.current): run the same intern release on both (`intern --version` shows each one's)",
                underlying: version)
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
    func recover(from rejected: Rejected, link: CoordinatorLink, on context: Context) async throws {
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
}
