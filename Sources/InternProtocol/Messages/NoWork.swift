/// Why a ``NoWork`` reply carries no attempt. A closed set within a protocol
/// major version: other wire values are malformed.
public enum NoWorkReason: UInt64, Sendable, Hashable, CaseIterable {
    /// 0: nothing to run right now; ask again after `retryAfterMs`.
    case idle = 0
    /// 1: stop asking for work; finish the attempts already running.
    case draining = 1
    /// 2: the campaign is over; exit once idle.
    case finished = 2
}

/// Coordinator -> worker: no attempt for this ``WorkRequest`` (kind 6).
public struct NoWork: Sendable, Equatable {
    /// Echo of the request's id.
    public var requestId: UInt64
    /// Why there is no work.
    public var reason: NoWorkReason
    /// How long to wait before asking again, in milliseconds.
    public var retryAfterMs: UInt64

    /// Creates a `NoWork`.
    public init(requestId: UInt64, reason: NoWorkReason, retryAfterMs: UInt64) {
        self.requestId = requestId
        self.reason = reason
        self.retryAfterMs = retryAfterMs
    }
}

extension NoWork: WireCodable {
    static var minWireSize: Int { 3 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.uintSize(reason.rawValue)
            + ByteWriter.uintSize(retryAfterMs)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeUInt(reason.rawValue)
        w.writeUInt(retryAfterMs)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        let raw = try r.readUInt(path() + ".reason")
        guard let reason = NoWorkReason(rawValue: raw) else {
            throw .malformed(path() + ".reason", "unknown value \(raw)")
        }
        self.reason = reason
        retryAfterMs = try r.readUInt(path() + ".retryAfterMs")
    }
}
