import InternAuth
import InternProtocol
import NNG

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

    public init(codec: MessageCodec, credentials: Credentials?) {
        self.codec = codec
        auth = credentials.map { ClientAuth(secret: $0.secret) }
    }

    /// Sends `message` on `context` and returns the coordinator's reply. `timeout` applies to
    /// each send and receive (a handshake, when one is needed, takes its own).
    public func request(_ message: Message, on context: Context, timeout: NNGDuration) async throws -> Message {
        let payload = codec.encode(message)
        guard let auth else {
            let reply = try await context.request(payload, timeout: timeout)
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
            } catch AuthError.refused(.unknownSession, _) {
                auth.discard(session)
            }
        }
        throw AuthError.refused(.unknownSession, "the coordinator keeps forgetting this worker's session")
    }

    private func currentSession(_ auth: ClientAuth, on context: Context, timeout: NNGDuration) async throws -> Session {
        if let session = auth.session { return session }
        let (hello, nonce) = auth.hello()
        return try auth.accept(try await context.request(hello, timeout: timeout), for: nonce)
    }
}

extension AuthError {
    /// A refusal no retry can fix: the two sides are configured differently (one has
    /// credentials, the other not). A worker stops on it with the coordinator's reason.
    public var isConfigurationMismatch: Bool {
        switch self {
        case .refused(.authenticationRequired, _), .refused(.notConfigured, _), .refused(.badCredentials, _): true
        default: false
        }
    }
}
