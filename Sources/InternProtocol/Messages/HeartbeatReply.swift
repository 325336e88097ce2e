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
    /// How often the worker sends its output, and its heartbeat, from now on, in milliseconds, as in
    /// ``Welcome/logFlushIntervalMs`` and ``Welcome/heartbeatIntervalMs`` (a fleet that grew is
    /// paced down); 0: unchanged. Appended within version 5, together: both are sent when either
    /// is not 0, neither otherwise, and a reply that ends before them (from an older coordinator,
    /// or with nothing to change) reads as 0.
    public var logFlushIntervalMs: UInt64
    public var heartbeatIntervalMs: UInt64

    /// Creates a `HeartbeatReply`.
    public init(
        requestId: UInt64, cancel: [UInt64] = [], drain: Bool = false, shutdown: Bool = false,
        logFlushIntervalMs: UInt64 = 0, heartbeatIntervalMs: UInt64 = 0
    ) {
        self.requestId = requestId
        self.cancel = cancel
        self.drain = drain
        self.shutdown = shutdown
        self.logFlushIntervalMs = logFlushIntervalMs
        self.heartbeatIntervalMs = heartbeatIntervalMs
    }

    /// Whether the pacing fields are sent.
    var carriesPacing: Bool { logFlushIntervalMs != 0 || heartbeatIntervalMs != 0 }
}

extension HeartbeatReply: WireCodable {
    static var minWireSize: Int { 4 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.uintListSize(cancel) + 2
            + (carriesPacing ? ByteWriter.uintSize(logFlushIntervalMs) + ByteWriter.uintSize(heartbeatIntervalMs) : 0)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeUIntList(cancel)
        w.writeBool(drain)
        w.writeBool(shutdown)
        // Nothing to change is not sent: the message ends as before the fields were appended, so
        // it has one encoding still, and an older worker reads it as it always did.
        if carriesPacing {
            w.writeUInt(logFlushIntervalMs)
            w.writeUInt(heartbeatIntervalMs)
        }
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        cancel = try r.readUIntList(path() + ".cancel")
        drain = try r.readBool(path() + ".drain")
        shutdown = try r.readBool(path() + ".shutdown")
        logFlushIntervalMs = 0
        heartbeatIntervalMs = 0
        if r.remaining > 0 {
            logFlushIntervalMs = try r.readUInt(path() + ".logFlushIntervalMs")
            heartbeatIntervalMs = try r.readUInt(path() + ".heartbeatIntervalMs")
        }
    }
}
