/// Coordinator -> worker: registration accepted, with the session settings
/// the worker must use (kind 2). Reply to ``Hello``.
public struct Welcome: Sendable, Equatable {
    /// Echo of the request's id.
    public var requestId: UInt64
    /// Name of the campaign the coordinator runs.
    public var campaign: String
    /// Random 64-bit value chosen anew on every coordinator start.
    public var coordinatorIncarnation: UInt64
    /// How often the worker sends ``Heartbeat``, in milliseconds.
    public var heartbeatIntervalMs: UInt64
    /// Silence after which the coordinator considers the worker's attempts
    /// lost, in milliseconds.
    public var leaseTimeoutMs: UInt64
    /// Largest encoded message either side may send, in bytes.
    public var maxMessageBytes: UInt64
    /// Longest time the worker buffers log output before flushing, in ms.
    public var logFlushIntervalMs: UInt64
    /// Buffered raw log bytes that trigger a flush.
    public var logFlushBytes: UInt64
    /// zstd compression level for log frames.
    public var compressionLevel: Int64
    /// The campaign's metric prefix setting, if it configures one (its use
    /// by workers is defined outside the wire protocol).
    public var metricPrefix: String?

    /// Creates a `Welcome`.
    public init(
        requestId: UInt64, campaign: String, coordinatorIncarnation: UInt64,
        heartbeatIntervalMs: UInt64, leaseTimeoutMs: UInt64, maxMessageBytes: UInt64,
        logFlushIntervalMs: UInt64, logFlushBytes: UInt64, compressionLevel: Int64,
        metricPrefix: String? = nil
    ) {
        self.requestId = requestId
        self.campaign = campaign
        self.coordinatorIncarnation = coordinatorIncarnation
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.leaseTimeoutMs = leaseTimeoutMs
        self.maxMessageBytes = maxMessageBytes
        self.logFlushIntervalMs = logFlushIntervalMs
        self.logFlushBytes = logFlushBytes
        self.compressionLevel = compressionLevel
        self.metricPrefix = metricPrefix
    }
}

extension Welcome: WireCodable {
    static var minWireSize: Int { 10 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.stringSize(campaign)
            + ByteWriter.uintSize(coordinatorIncarnation) + ByteWriter.uintSize(heartbeatIntervalMs)
            + ByteWriter.uintSize(leaseTimeoutMs) + ByteWriter.uintSize(maxMessageBytes)
            + ByteWriter.uintSize(logFlushIntervalMs) + ByteWriter.uintSize(logFlushBytes)
            + ByteWriter.intSize(compressionLevel)
            + 1 + (metricPrefix.map(ByteWriter.stringSize) ?? 0)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeString(campaign)
        w.writeUInt(coordinatorIncarnation)
        w.writeUInt(heartbeatIntervalMs)
        w.writeUInt(leaseTimeoutMs)
        w.writeUInt(maxMessageBytes)
        w.writeUInt(logFlushIntervalMs)
        w.writeUInt(logFlushBytes)
        w.writeInt(compressionLevel)
        w.writeOptionalString(metricPrefix)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        campaign = try r.readString(path() + ".campaign")
        coordinatorIncarnation = try r.readUInt(path() + ".coordinatorIncarnation")
        heartbeatIntervalMs = try r.readUInt(path() + ".heartbeatIntervalMs")
        leaseTimeoutMs = try r.readUInt(path() + ".leaseTimeoutMs")
        maxMessageBytes = try r.readUInt(path() + ".maxMessageBytes")
        logFlushIntervalMs = try r.readUInt(path() + ".logFlushIntervalMs")
        logFlushBytes = try r.readUInt(path() + ".logFlushBytes")
        compressionLevel = try r.readInt(path() + ".compressionLevel")
        metricPrefix = try r.readOptionalString(path() + ".metricPrefix")
    }
}
