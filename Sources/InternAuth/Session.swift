import Synchronization

/// One authenticated session between a worker (or admin client) and the coordinator: its key,
/// the counter of frames sent, and the window of counters received.
///
/// The session key is HMAC(secret, "intern-auth/1 session" ‖ client nonce ‖ server nonce): both
/// ends derive it and it never travels. Thread-safe: a worker's requests on several contexts
/// share one session.
public final class Session: Sendable {
    public let id: SessionID
    private let key: HMACKey
    private struct Counters {
        var sent: UInt64 = 0
        var received = ReplayWindow()
    }
    private let counters = Mutex(Counters())

    init(id: SessionID, secret: CampaignSecret) {
        self.id = id
        key = HMACKey(HMAC.sha256(key: secret.key, Label.session, Array(id.bytes)))
    }

    /// The payload in a sealed frame: header, session, direction, the next counter, payload, tag.
    public func seal(_ payload: [UInt8], direction: Direction) -> [UInt8] {
        let counter = counters.withLock { c -> UInt64 in
            c.sent += 1
            return c.sent
        }
        var out: [UInt8] = []
        out.reserveCapacity(AuthFrame.sealedPrefixLength + payload.count + HMAC.tagLength)
        out += [AuthFrame.magic.0, AuthFrame.magic.1, AuthFrame.version, 3]
        out += id.bytes
        out.append(direction.rawValue)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i)))) }
        out += payload
        let tag = out.withUnsafeBytes { key.tag($0) }
        out += tag
        return out
    }

    /// The payload of `frame` if its tag is right, it travels `direction`, belongs to this
    /// session and its counter is new.
    public func open(_ frame: SealedFrame, expecting direction: Direction) throws(AuthError) -> [UInt8] {
        guard frame.sessionID == id else { throw .wrongSession }
        let bytes = frame.bytes
        let tagStart = bytes.count - HMAC.tagLength
        let expected = bytes.withUnsafeBytes { key.tag(UnsafeRawBufferPointer(rebasing: $0[..<tagStart])) }
        guard HMAC.constantTimeEqual(expected, bytes[tagStart...]) else { throw .badTag }
        // Direction and counter are read only once the tag says they are genuine.
        guard frame.direction == direction else { throw .wrongDirection }
        let counter = frame.counter
        guard counters.withLock({ $0.received.accept(counter) }) else { throw .replayed(counter) }
        return Array(bytes[AuthFrame.sealedPrefixLength..<tagStart])
    }
}

/// Domain-separation labels: each HMAC use has its own, so one tag can never stand for another.
enum Label {
    static let session = Array("intern-auth/1 session".utf8)
    static let proof = Array("intern-auth/1 coordinator".utf8)
    static let workerProof = Array("intern-auth/1 worker".utf8)
    static let cookie = Array("intern-auth/1 cookie".utf8)
    static let dashboard = Array("intern-auth/1 dashboard token".utf8)
}
