/// Encodes and decodes ``Message``s in the versioned binary format described
/// in `docs/protocol.md`.
///
/// Decoding is total: hostile input yields a ``ProtocolError``, never a trap,
/// and never an allocation larger than the input allows. A value of this type
/// is immutable and can be shared freely across tasks.
public struct MessageCodec: Sendable {
    /// The default limit on decoded message size: 16 MiB.
    public static let defaultMaxMessageBytes = 16 * 1024 * 1024

    /// Inputs larger than this many bytes are rejected with
    /// ``ProtocolError/Code/tooLarge`` before any field is read.
    public let maxMessageBytes: Int

    /// Creates a codec whose decoder accepts messages of at most
    /// `maxMessageBytes` bytes. The encoder does not enforce the limit; use
    /// ``encodedSize(of:)`` to check before sending.
    public init(maxMessageBytes: Int = MessageCodec.defaultMaxMessageBytes) {
        self.maxMessageBytes = maxMessageBytes
    }

    // MARK: Encoding

    /// The exact number of bytes ``encode(_:)`` produces for `message`,
    /// computed without encoding.
    public func encodedSize(of message: Message) -> Int {
        switch message {
        case .hello(let m): Self.size(m)
        case .welcome(let m): Self.size(m)
        case .rejected(let m): Self.size(m)
        case .workRequest(let m): Self.size(m)
        case .assignment(let m): Self.size(m)
        case .noWork(let m): Self.size(m)
        case .heartbeat(let m): Self.size(m)
        case .heartbeatReply(let m): Self.size(m)
        case .report(let m): Self.size(m)
        case .reportAck(let m): Self.size(m)
        case .adminRequest(let m): Self.size(m)
        case .adminReply(let m): Self.size(m)
        }
    }

    /// Encodes `message` (header and body) into a single freshly allocated
    /// array of exactly the right capacity.
    public func encode(_ message: Message) -> [UInt8] {
        switch message {
        case .hello(let m): Self.encode(m, kind: .hello)
        case .welcome(let m): Self.encode(m, kind: .welcome)
        case .rejected(let m): Self.encode(m, kind: .rejected)
        case .workRequest(let m): Self.encode(m, kind: .workRequest)
        case .assignment(let m): Self.encode(m, kind: .assignment)
        case .noWork(let m): Self.encode(m, kind: .noWork)
        case .heartbeat(let m): Self.encode(m, kind: .heartbeat)
        case .heartbeatReply(let m): Self.encode(m, kind: .heartbeatReply)
        case .report(let m): Self.encode(m, kind: .report)
        case .reportAck(let m): Self.encode(m, kind: .reportAck)
        case .adminRequest(let m): Self.encode(m, kind: .adminRequest)
        case .adminReply(let m): Self.encode(m, kind: .adminReply)
        }
    }

    private static func size<Body: WireCodable>(_ body: Body) -> Int {
        ProtocolVersion.headerSize + body.wireSize
    }

    private static func encode<Body: WireCodable>(_ body: Body, kind: MessageKind) -> [UInt8] {
        var writer = ByteWriter(capacity: ProtocolVersion.headerSize + body.wireSize)
        writer.writeHeader(kind: kind)
        body.encode(to: &writer)
        return writer.bytes
    }

    // MARK: Decoding

    /// Decodes one message. Bytes after the last field this version knows
    /// are ignored (they belong to fields appended by later revisions).
    public func decode(_ bytes: [UInt8]) throws(ProtocolError) -> Message {
        guard bytes.count <= maxMessageBytes else {
            throw ProtocolError(
                code: .tooLarge,
                message: "message of \(bytes.count) bytes exceeds the limit of \(maxMessageBytes) bytes")
        }
        let kind = try Self.decodeHeader(bytes)
        var r = ByteReader(bytes, index: ProtocolVersion.headerSize)
        switch kind {
        case .hello: return .hello(try Hello(from: &r, path: { "Hello" }))
        case .welcome: return .welcome(try Welcome(from: &r, path: { "Welcome" }))
        case .rejected: return .rejected(try Rejected(from: &r, path: { "Rejected" }))
        case .workRequest: return .workRequest(try WorkRequest(from: &r, path: { "WorkRequest" }))
        case .assignment: return .assignment(try Assignment(from: &r, path: { "Assignment" }))
        case .noWork: return .noWork(try NoWork(from: &r, path: { "NoWork" }))
        case .heartbeat: return .heartbeat(try Heartbeat(from: &r, path: { "Heartbeat" }))
        case .heartbeatReply: return .heartbeatReply(try HeartbeatReply(from: &r, path: { "HeartbeatReply" }))
        case .report: return .report(try Report(from: &r, path: { "Report" }))
        case .reportAck: return .reportAck(try ReportAck(from: &r, path: { "ReportAck" }))
        case .adminRequest: return .adminRequest(try AdminRequest(from: &r, path: { "AdminRequest" }))
        case .adminReply: return .adminReply(try AdminReply(from: &r, path: { "AdminReply" }))
        }
    }

    /// Validates the 4-byte header and returns the kind.
    private static func decodeHeader(_ bytes: [UInt8]) throws(ProtocolError) -> MessageKind {
        // Check the magic on whatever bytes exist first, so garbage shorter
        // than a header is reported as bad magic rather than truncation.
        if bytes.count >= 1, bytes[0] != ProtocolVersion.magic.0 {
            throw ProtocolError(code: .badMagic, message: "bad magic: first byte is \(hex(bytes[0])), expected 0x49")
        }
        if bytes.count >= 2, bytes[1] != ProtocolVersion.magic.1 {
            throw ProtocolError(code: .badMagic, message: "bad magic: second byte is \(hex(bytes[1])), expected 0x4e")
        }
        guard bytes.count >= 2 else {
            throw ProtocolError(code: .truncated, message: "truncated while reading header.magic", field: "header.magic")
        }
        guard bytes.count >= 3 else {
            throw ProtocolError(code: .truncated, message: "truncated while reading header.version", field: "header.version")
        }
        let version = bytes[2]
        guard version == ProtocolVersion.current else {
            throw ProtocolError(
                code: .unsupportedVersion,
                message: "unsupported protocol major version \(version) (this side speaks \(ProtocolVersion.current))",
                receivedVersion: version)
        }
        guard bytes.count >= 4 else {
            throw ProtocolError(code: .truncated, message: "truncated while reading header.kind", field: "header.kind")
        }
        guard let kind = MessageKind(rawValue: bytes[3]) else {
            throw ProtocolError(code: .unknownKind, message: "unknown message kind \(bytes[3])")
        }
        return kind
    }

    /// Best-effort extraction of the `requestId` from input that may not
    /// decode (wrong version, unknown kind, malformed body), so a receiver
    /// can answer with ``Rejected``.
    ///
    /// Succeeds when the magic matches and a canonical varint follows the
    /// 4-byte header: the header layout and the leading `requestId` are
    /// frozen across all protocol versions. Returns `nil` otherwise, in which
    /// case the input should be dropped and logged.
    public func salvageRequestId(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count >= ProtocolVersion.headerSize,
              bytes.count <= maxMessageBytes,
              bytes[0] == ProtocolVersion.magic.0,
              bytes[1] == ProtocolVersion.magic.1
        else { return nil }
        var r = ByteReader(bytes, index: ProtocolVersion.headerSize)
        return try? r.readUInt("requestId")
    }
}

private func hex(_ b: UInt8) -> String {
    (b < 0x10 ? "0x0" : "0x") + String(b, radix: 16)
}
