/// Coordinator -> worker: reply to ``Heartbeat`` (kind 8).
public struct HeartbeatReply: Sendable, Equatable {
    /// Echo of the request's id.
    public var requestId: UInt64
    /// Ids of attempts the worker must terminate.
    public var cancel: [UInt64]
    /// Stop asking for work; finish the attempts already running.
    public var drain: Bool
    /// The coordinator asks the worker to shut down.
    public var shutdown: Bool

    /// Creates a `HeartbeatReply`.
    public init(requestId: UInt64, cancel: [UInt64] = [], drain: Bool = false, shutdown: Bool = false) {
        self.requestId = requestId
        self.cancel = cancel
        self.drain = drain
        self.shutdown = shutdown
    }
}

extension HeartbeatReply: WireCodable {
    static var minWireSize: Int { 4 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.uintListSize(cancel) + 2
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeUIntList(cancel)
        w.writeBool(drain)
        w.writeBool(shutdown)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        cancel = try r.readUIntList(path() + ".cancel")
        drain = try r.readBool(path() + ".drain")
        shutdown = try r.readBool(path() + ".shutdown")
    }
}
