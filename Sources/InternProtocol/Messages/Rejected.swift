/// Coordinator -> worker: the request was refused (kind 3). A possible reply
/// to every request kind.
public struct Rejected: Sendable, Equatable {
    /// Echo of the request's id.
    public var requestId: UInt64
    /// Why the request was refused.
    public var code: RejectCode
    /// Human-readable explanation.
    public var reason: String

    /// Creates a `Rejected`.
    public init(requestId: UInt64, code: RejectCode, reason: String) {
        self.requestId = requestId
        self.code = code
        self.reason = reason
    }
}

extension Rejected: WireCodable {
    static var minWireSize: Int { 3 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.uintSize(code.rawValue)
            + ByteWriter.stringSize(reason)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeUInt(code.rawValue)
        w.writeString(reason)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        code = RejectCode(rawValue: try r.readUInt(path() + ".code"))
        reason = try r.readString(path() + ".reason")
    }
}
