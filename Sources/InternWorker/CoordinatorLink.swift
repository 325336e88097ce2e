import InternAuth
import InternProtocol
import NNG
import Synchronization

/// How a worker (or an admin client) asks the coordinator something: one request, one reply,
/// on a REQ context; sealed in an authenticated session when it holds the campaign's
/// credentials, plain otherwise (ipc://, or tcp:// with --insecure).
///
/// Throws ``NNGError`` (the connection), ``ProtocolError`` (a reply that does not decode) and
/// ``AuthError`` (a reply that fails authentication, or the coordinator's refusal); see
/// ``AuthError/isConfigurationMismatch`` for the refusals that retrying cannot fix.
public struct CoordinatorLink: Sendable {
    public let codec: MessageCodec
    public let auth: ClientAuth?
    /// How many times in a row the coordinator may hang up on a first request before the
    /// requester stops trying: it answers strangers nothing (docs/security.md, *Strangers on the
    /// network*). A worker retries its hello; a one-shot admin command does not.
    public let hangUpsTolerated: Int
    private let hangUps = HangUpCount()

    public init(codec: MessageCodec, credentials: Credentials?, hangUpsTolerated: Int = 5) {
        self.codec = codec
        auth = credentials.map { ClientAuth(secret: $0.secret) }
        self.hangUpsTolerated = max(1, hangUpsTolerated)
    }

    /// Sends `message` on `context` and returns the coordinator's reply. `timeout` applies to
    /// each send and receive (a handshake, when one is needed, takes its own).
    public func request(_ message: Message, on context: Context, timeout: NNGDuration) async throws -> Message {
        let payload = codec.encode(message)
        guard let auth else {
            // A first request (a worker's hello, an admin command) may be a stranger's to the
            // coordinator: watched for hang-ups. Later ones are not (the hot path stays lean).
            let first = switch message { case .hello, .adminRequest: true; default: false }
            let reply = first ? try await firstRequest(payload, on: context, timeout: timeout) : try await context.request(payload, timeout: timeout)
            if AuthFrame.isFrame(reply) {
                // The coordinator answers in the authentication layer: it refuses plain messages.
                if case .refused(let refusal, let reason) = try AuthFrame.parse(reply) { throw AuthError.refused(refusal, reason) }
                throw AuthError.malformed("an authentication frame in answer to a plain request")
            }
            return try codec.decode(reply)
        }
        // A session the coordinator no longer knows (it restarted) is replaced, once or twice.
        for _ in 0..<3 {
            let session = try await currentSession(auth, on: context, timeout: timeout)
            let reply = try await context.request(session.seal(payload, direction: .toCoordinator), timeout: timeout)
            do {
                return try codec.decode(try auth.open(reply, in: session))
            } catch let error as AuthError where error.refusal == .unknownSession {
                auth.discard(session)
            }
        }
        throw AuthError.refused(.unknownSession, "the coordinator keeps forgetting this worker's session")
    }

    private func currentSession(_ auth: ClientAuth, on context: Context, timeout: NNGDuration) async throws -> Session {
        if let session = auth.session { return session }
        let (hello, nonce) = auth.hello()
        return try auth.accept(try await firstRequest(hello, on: context, timeout: timeout), for: nonce)
    }

    /// `context.request` for a first request (a hello, an admin command): when the coordinator
    /// hangs up on it (the request fails with a reset connection) ``hangUpsTolerated`` times in a
    /// row, ``HungUp``.
    private func firstRequest(_ payload: [UInt8], on context: Context, timeout: NNGDuration) async throws -> [UInt8] {
        do {
            let reply = try await context.request(payload, timeout: timeout)
            hangUps.count.store(0, ordering: .relaxed)
            return reply
        } catch let error as NNGError where error == .connectionReset {
            let times = hangUps.count.add(1, ordering: .relaxed).newValue
            if times >= hangUpsTolerated { throw HungUp(times: times) }
            throw error
        }
    }
}

/// Consecutive hang-ups on first requests.
final class HangUpCount: Sendable {
    let count = Atomic<Int>(0)
}

/// The coordinator hung up on a request again and again without answering: it does not accept
/// what this side sends (its credentials, or their absence). It answers strangers nothing, and
/// its log names this side's address and the reason.
public struct HungUp: Error, Sendable, CustomStringConvertible {
    public var times: Int

    public var description: String {
        (times == 1 ? "it hung up without answering" : "it hung up \(times) times in a row without answering")
            + ": it does not accept what this side sent. A network coordinator "
            + "needs the campaign's credentials (--auth DIR, made by `intern init-auth` for this campaign; the "
            + "coordinator's own); its log names this side's address and why"
    }
}

extension AuthError {
    /// A refusal no retry can fix: the two sides are configured differently (one has
    /// credentials, the other not). A worker stops on it with the coordinator's reason.
    public var isConfigurationMismatch: Bool {
        guard let refusal else { return false }
        return [.authenticationRequired, .notConfigured, .badCredentials].contains(refusal)
    }
}
