import Synchronization

/// A worker's (or admin client's) side of the authentication layer: opens sessions with the
/// coordinator and keeps the current one for every request.
///
/// A session starts with ``hello()``; ``accept(_:for:)`` checks the coordinator's proof and makes
/// the session current. When the coordinator no longer knows the session (it restarted), the
/// caller ``discard(_:)``s it and opens another.
public final class ClientAuth: Sendable {
    private let secret: CampaignSecret
    private let current = Mutex<Session?>(nil)

    public init(secret: CampaignSecret) {
        self.secret = secret
    }

    /// The session requests are sealed in, if one is open.
    public var session: Session? { current.withLock { $0 } }

    /// A hello frame: a fresh random nonce and the proof that this side holds the secret.
    public func hello() -> (frame: [UInt8], clientNonce: [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<AuthFrame.nonceLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let proof = HMAC.sha256(key: secret.key, Label.workerProof, nonce)
        return (AuthFrame.hello(clientNonce: nonce, proof: proof).encoded(), nonce)
    }

    /// Checks the coordinator's answer to the hello that sent `clientNonce` and makes the new
    /// session current.
    @discardableResult
    public func accept(_ reply: [UInt8], for clientNonce: [UInt8]) throws(AuthError) -> Session {
        switch try AuthFrame.parse(reply) {
        case .challenge(let serverNonce, let proof):
            let expected = HMAC.sha256(key: secret.key, Label.proof, clientNonce, serverNonce)
            guard HMAC.constantTimeEqual(expected, proof) else { throw .coordinatorNotProven }
            let session = Session(id: SessionID(bytes: clientNonce + serverNonce), secret: secret)
            current.withLock { $0 = session }
            return session
        case .refused(let refusal, let reason):
            throw .refused(refusal, reason)
        case .hello, .sealed:
            throw .malformed("the coordinator answered a hello with something other than a challenge")
        }
    }

    /// The payload of the coordinator's reply to a request sealed in `session`.
    public func open(_ reply: [UInt8], in session: Session) throws(AuthError) -> [UInt8] {
        guard AuthFrame.isFrame(reply) else {
            throw .malformed("an unauthenticated reply: the peer at this address is not an authenticating intern coordinator")
        }
        switch try AuthFrame.parse(reply) {
        case .sealed(let frame):
            return try session.open(frame, expecting: .toWorker)
        case .refused(let refusal, let reason):
            throw .refused(refusal, reason)
        case .hello, .challenge:
            throw .malformed("a handshake frame in answer to a sealed request")
        }
    }

    /// Forgets `session` if it is still the current one (the coordinator no longer knows it).
    public func discard(_ session: Session) {
        current.withLock { if $0 === session { $0 = nil } }
    }
}
