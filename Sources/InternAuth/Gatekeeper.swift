import Synchronization

/// The coordinator's side of the authentication layer: decides, for each incoming request,
/// whether it is admitted, answered at once (a handshake), or rejected, and seals replies.
///
/// Unsealed messages are admitted only from local transports (ipc), unless the coordinator
/// runs `--insecure`. A hello must prove its sender holds the campaign secret. The handshake
/// keeps no state: the coordinator's nonce is the time it was
/// issued plus a tag under a key that lives only in this process, so a hello costs two HMACs
/// and no memory; a session is stored only once a sealed frame in it has a good tag, which
/// needs the campaign secret. A sealed frame of an unknown session is answered "unknown
/// session" (the coordinator restarted: the peer opens a new one).
public final class Gatekeeper: Sendable {
    /// What to do with a request.
    public enum Verdict: Sendable {
        /// An unsealed message from a peer allowed to send one.
        case plain([UInt8])
        /// The payload of a genuine sealed frame; seal the reply with ``seal(_:in:)``.
        case opened([UInt8], Session)
        /// Send these bytes back and do nothing else (a challenge, or "unknown session").
        case answer([UInt8])
        /// Refused: log `reason` with the peer's address; send `answer` if there is one; else,
        /// with `hangUp`, close the connection (something altered or forged its messages: its
        /// other requests fail at once and are resent on a new one). A replayed copy is only
        /// dropped: the original was answered, and closing would cost the genuine peer.
        case rejected(reason: String, answer: [UInt8]?, hangUp: Bool = true)
    }

    /// How long a coordinator's nonce may be used to open a session.
    public static let handshakeLifetimeMillis: Int64 = 120_000
    /// The most sessions kept; older ones beyond this are forgotten (their peers open new ones).
    public static let maximumSessions = 4096

    private let secret: CampaignSecret?
    private let allowUnsealedFromNetwork: Bool
    private let processKey: [UInt8]
    private struct Entry {
        var session: Session
        var issuedAt: Int64
        var lastUsed: Int64
    }
    private let sessions = Mutex<[SessionID: Entry]>([:])

    /// - Parameters:
    ///   - secret: the campaign secret; `nil` when the coordinator has no credentials (only
    ///     local or `--insecure` peers can then talk to it).
    ///   - allowUnsealedFromNetwork: `--insecure`: admit unsealed messages from TCP peers.
    public init(secret: CampaignSecret?, allowUnsealedFromNetwork: Bool) {
        self.secret = secret
        self.allowUnsealedFromNetwork = allowUnsealedFromNetwork
        processKey = CampaignSecret.generate().key
    }

    /// Whether a network peer must seal its messages.
    public var requiresAuthentication: Bool { !allowUnsealedFromNetwork }

    /// Decides about one request. `fromNetwork` is false for ipc/inproc peers; `now` is a
    /// monotonic clock in milliseconds (only this process compares its values).
    public func admit(_ bytes: [UInt8], fromNetwork: Bool, now: Int64) -> Verdict {
        guard AuthFrame.isFrame(bytes) else {
            if !fromNetwork || allowUnsealedFromNetwork { return .plain(bytes) }
            return .rejected(reason: "an unauthenticated message", answer: AuthFrame.refused(
                .authenticationRequired,
                reason: "this coordinator requires authentication: give the worker the campaign's credentials (--auth DIR, made by `intern init-auth`)").encoded())
        }
        let frame: AuthFrame
        do {
            frame = try AuthFrame.parse(bytes)
        } catch {
            return .rejected(reason: error.description, answer: nil)
        }
        guard let secret else {
            return .rejected(reason: "a sealed message, but this coordinator has no credentials", answer: AuthFrame.refused(
                .notConfigured, reason: "this coordinator runs without credentials; start it with --auth DIR").encoded())
        }
        switch frame {
        case .hello(let clientNonce, let proof):
            // The peer proves it holds the secret before the coordinator proves anything.
            guard HMAC.constantTimeEqual(HMAC.sha256(key: secret.key, Label.workerProof, clientNonce), proof) else {
                return .rejected(reason: "wrong credentials (its hello's proof does not match this campaign's secret)", answer: AuthFrame.refused(
                    .badCredentials, reason: "this coordinator does not accept these credentials: they are not this campaign's").encoded())
            }
            let serverNonce = cookie(clientNonce: clientNonce, issuedAt: now)
            let proof = HMAC.sha256(key: secret.key, Label.proof, clientNonce, serverNonce)
            return .answer(AuthFrame.challenge(serverNonce: serverNonce, proof: proof).encoded())
        case .challenge, .refused:
            return .rejected(reason: "a frame only a coordinator sends", answer: nil)
        case .sealed(let sealed):
            return open(sealed, secret: secret, now: now)
        }
    }

    /// The reply to a request opened in `session`, sealed.
    public func seal(_ reply: [UInt8], in session: Session) -> [UInt8] {
        session.seal(reply, direction: .toWorker)
    }

    /// Sessions currently known.
    public var sessionCount: Int { sessions.withLock { $0.count } }

    private func open(_ frame: SealedFrame, secret: CampaignSecret, now: Int64) -> Verdict {
        let id = frame.sessionID
        if let session = sessions.withLock({ table -> Session? in
            table[id]?.lastUsed = now
            return table[id]?.session
        }) {
            do {
                return .opened(try session.open(frame, expecting: .toCoordinator), session)
            } catch {
                return Self.rejection(error)
            }
        }
        // Not known: a session this process handed out a nonce for, and recently?
        let serverNonce = Array(id.serverNonce)
        let issuedAt = Self.issuedAt(serverNonce)
        let session = Session(id: id, secret: secret)
        guard HMAC.constantTimeEqual(cookie(clientNonce: Array(id.clientNonce), issuedAt: issuedAt), serverNonce),
              issuedAt <= now, now - issuedAt <= Self.handshakeLifetimeMillis
        else {
            // Told only to a peer that holds the secret (its frame's tag is good: a worker whose
            // coordinator restarted); anyone else gets nothing to read.
            guard (try? session.open(frame, expecting: .toCoordinator)) != nil else {
                return .rejected(reason: "a sealed message of an unknown session, not sealed with this campaign's secret", answer: nil)
            }
            return .answer(AuthFrame.refused(.unknownSession, reason: "unknown or expired session: handshake again").encoded())
        }
        let payload: [UInt8]
        do {
            payload = try session.open(frame, expecting: .toCoordinator)
        } catch {
            return .rejected(reason: error.description, answer: nil)
        }
        let stored = sessions.withLock { table -> Session? in
            // Two first frames of one session raced here: keep the first, and open this one in it
            // again so its counter is checked against the other's.
            if let existing = table[id] { return existing.session }
            if table.count >= Self.maximumSessions { Self.evict(from: &table, now: now) }
            guard table.count < Self.maximumSessions else { return nil }
            table[id] = Entry(session: session, issuedAt: issuedAt, lastUsed: now)
            return session
        }
        guard let stored else { return .rejected(reason: "too many sessions", answer: nil) }
        if stored === session { return .opened(payload, session) }
        do {
            return .opened(try stored.open(frame, expecting: .toCoordinator), stored)
        } catch {
            return Self.rejection(error)
        }
    }

    private static func rejection(_ error: AuthError) -> Verdict {
        if error.code == .replayed { return .rejected(reason: error.description, answer: nil, hangUp: false) }
        return .rejected(reason: error.description, answer: nil)
    }

    /// Forgets the least recently used session whose nonce can no longer open a session: one
    /// still within its handshake lifetime is kept, or a replay of its first frame would open it
    /// again with a fresh replay window.
    private static func evict(from table: inout [SessionID: Entry], now: Int64) {
        let expired = table.filter { now - $0.value.issuedAt > handshakeLifetimeMillis }
        guard let oldest = expired.min(by: { $0.value.lastUsed < $1.value.lastUsed }) else { return }
        table[oldest.key] = nil
    }

    /// The coordinator's nonce: 8 bytes of issue time, then 8 bytes of tag binding it to the
    /// client's nonce under this process's key.
    private func cookie(clientNonce: [UInt8], issuedAt: Int64) -> [UInt8] {
        var time: [UInt8] = []
        for i in 0..<8 { time.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: issuedAt) >> (8 * UInt64(i)))) }
        return time + HMAC.sha256(key: processKey, Label.cookie, clientNonce, time).prefix(8)
    }

    private static func issuedAt(_ serverNonce: [UInt8]) -> Int64 {
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(serverNonce[i]) << (8 * UInt64(i)) }
        return Int64(bitPattern: value)
    }
}
