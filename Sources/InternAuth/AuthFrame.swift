/// The authentication layer's frames, which carry intern protocol messages between nodes.
///
/// Every frame starts with `49 41` ("IA"), the layer's version (1) and a type byte. A worker
/// (or admin client) opens a session with ``hello``, proving it holds the campaign secret; the
/// coordinator answers ``challenge``, proving the same; from then on every request and reply is ``sealed``:
/// it names its session, its direction and a counter, and ends with an HMAC-SHA256 tag under
/// the session key, so a frame that was changed, replayed, reflected or made without the
/// secret is rejected. ``refused`` is the coordinator's unauthenticated answer when it cannot
/// open a frame for a reason the peer should act on. Layout: docs/protocol.md, Authentication.
public enum AuthFrame: Sendable, Equatable {
    case hello(clientNonce: [UInt8], proof: [UInt8])
    case challenge(serverNonce: [UInt8], proof: [UInt8])
    case sealed(SealedFrame)
    case refused(Refusal, reason: String)

    /// Why the coordinator refused a frame (the peer's next step depends on it).
    public enum Refusal: UInt8, Sendable, Equatable {
        /// An unsealed message from the network: this coordinator requires authentication.
        case authenticationRequired = 1
        /// The session is not known (the coordinator restarted, or it expired): handshake again.
        case unknownSession = 2
        /// This coordinator has no credentials and cannot open sealed frames.
        case notConfigured = 3
        /// The hello's proof is wrong: the peer holds other credentials than this campaign's.
        case badCredentials = 4
    }

    public static let magic: (UInt8, UInt8) = (0x49, 0x41)
    public static let version: UInt8 = 1
    public static let nonceLength = 16
    static let headerLength = 4
    /// Header, two nonces, direction, counter.
    static let sealedPrefixLength = headerLength + 2 * nonceLength + 1 + 8
    /// Bytes a sealed frame adds to its payload (77): receive limits allow for it.
    public static let sealingOverhead = sealedPrefixLength + HMAC.tagLength

    /// Whether `bytes` start like a frame of this layer (and not like a plain protocol message).
    public static func isFrame(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == magic.0 && bytes[1] == magic.1
    }

    /// Parses a frame; sealed frames are parsed but not verified (see ``SealedFrame``).
    public static func parse(_ bytes: [UInt8]) throws(AuthError) -> AuthFrame {
        guard bytes.count >= headerLength, isFrame(bytes) else { throw .malformed("not an authentication frame") }
        guard bytes[2] == version else { throw .malformed("authentication layer version \(bytes[2]); this side speaks \(version)") }
        let body = bytes[headerLength...]
        switch bytes[3] {
        case 1:
            guard body.count == nonceLength + HMAC.tagLength else { throw .malformed("hello of \(body.count) bytes") }
            return .hello(clientNonce: Array(body.prefix(nonceLength)), proof: Array(body.suffix(HMAC.tagLength)))
        case 2:
            guard body.count == nonceLength + HMAC.tagLength else { throw .malformed("challenge of \(body.count) bytes") }
            return .challenge(serverNonce: Array(body.prefix(nonceLength)), proof: Array(body.suffix(HMAC.tagLength)))
        case 3:
            guard bytes.count >= sealedPrefixLength + HMAC.tagLength else { throw .malformed("sealed frame of \(bytes.count) bytes") }
            guard let direction = Direction(rawValue: bytes[headerLength + 2 * nonceLength]) else {
                throw .malformed("sealed frame with direction \(bytes[headerLength + 2 * nonceLength])")
            }
            return .sealed(SealedFrame(bytes: bytes, direction: direction))
        case 4:
            guard let first = body.first, let refusal = Refusal(rawValue: first) else { throw .malformed("refusal without a known code") }
            return .refused(refusal, reason: String(decoding: body.dropFirst().prefix(512), as: UTF8.self))
        default:
            throw .malformed("authentication frame type \(bytes[3])")
        }
    }

    /// The frame's bytes. A sealed frame is made by ``Session/seal(_:direction:)`` instead.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.magic.0, Self.magic.1, Self.version]
        switch self {
        case .hello(let nonce, let proof):
            out.append(1)
            out += nonce
            out += proof
        case .challenge(let serverNonce, let proof):
            out.append(2)
            out += serverNonce
            out += proof
        case .sealed(let frame):
            return frame.bytes
        case .refused(let refusal, let reason):
            out.append(4)
            out.append(refusal.rawValue)
            out += Array(reason.utf8.prefix(512))
        }
        return out
    }
}

/// Which way a sealed frame travels; part of what its tag covers, so a request cannot be
/// reflected back as a reply.
public enum Direction: UInt8, Sendable, Equatable {
    case toCoordinator = 1
    case toWorker = 2
}

/// A sealed frame as received: its session, direction and counter can be read; its payload
/// only through ``Session/open(_:expecting:)``, which checks the tag first.
public struct SealedFrame: Sendable, Equatable {
    let bytes: [UInt8]
    public let direction: Direction

    /// The session's identity: the client's nonce followed by the coordinator's.
    public var sessionID: SessionID {
        SessionID(bytes: Array(bytes[AuthFrame.headerLength..<(AuthFrame.headerLength + 2 * AuthFrame.nonceLength)]))
    }

    public var counter: UInt64 {
        var value: UInt64 = 0
        let start = AuthFrame.sealedPrefixLength - 8
        for i in 0..<8 { value |= UInt64(bytes[start + i]) << (8 * UInt64(i)) }
        return value
    }
}

/// A session's identity (32 bytes: the client's nonce, then the coordinator's).
public struct SessionID: Sendable, Hashable {
    public let bytes: [UInt8]
    var clientNonce: ArraySlice<UInt8> { bytes.prefix(AuthFrame.nonceLength) }
    var serverNonce: ArraySlice<UInt8> { bytes.suffix(AuthFrame.nonceLength) }
}

/// Why a frame or a handshake was not accepted, with a stable code (and, for a refusal, the
/// coordinator's refusal code and reason).
public struct AuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a stable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        /// Not a well-formed frame.
        public static let malformed = Code(rawValue: "malformed")
        /// The tag does not match: the frame was changed, or made without the campaign secret.
        public static let badTag = Code(rawValue: "bad_tag")
        /// The counter was seen before in this session (or is too old to tell).
        public static let replayed = Code(rawValue: "replayed")
        /// A frame travelling the wrong way (a reflected request).
        public static let wrongDirection = Code(rawValue: "wrong_direction")
        /// The frame's session is not this one.
        public static let wrongSession = Code(rawValue: "wrong_session")
        /// The coordinator's challenge does not prove it holds the campaign secret.
        public static let coordinatorNotProven = Code(rawValue: "coordinator_not_proven")
        /// The coordinator refused the frame (``AuthError/refusal`` says how).
        public static let refused = Code(rawValue: "refused")
        public var description: String { rawValue }
    }

    public var code: Code
    /// What happened, for people.
    public var message: String
    /// The coordinator's refusal, when `code` is `refused`.
    public var refusal: AuthFrame.Refusal?

    public init(code: Code, message: String, refusal: AuthFrame.Refusal? = nil) {
        self.code = code
        self.message = message
        self.refusal = refusal
    }

    public var description: String { message }

    public static func malformed(_ what: String) -> AuthError {
        AuthError(code: .malformed, message: "malformed authentication frame: \(what)")
    }

    public static let badTag = AuthError(code: .badTag, message: "bad tag: the message was altered, or made without the campaign secret")

    public static func replayed(_ counter: UInt64) -> AuthError {
        AuthError(code: .replayed, message: "replayed message (counter \(counter) seen before)")
    }

    public static let wrongDirection = AuthError(code: .wrongDirection, message: "a message travelling the wrong way (reflected)")
    public static let wrongSession = AuthError(code: .wrongSession, message: "a message of another session")
    public static let coordinatorNotProven = AuthError(
        code: .coordinatorNotProven,
        message: "the coordinator did not prove it holds the campaign secret (different credentials, or not our coordinator)")

    public static func refused(_ refusal: AuthFrame.Refusal, _ reason: String) -> AuthError {
        AuthError(code: .refused, message: "refused by the coordinator: \(reason)", refusal: refusal)
    }
}
