/// Worker -> coordinator: log frames, metric samples (packed in batches) and attempt ends
/// (kind 9). The coordinator processes frames, then metrics, then ends.
/// Answered by ``ReportAck`` or ``Rejected``.
public struct Report: Sendable, Equatable {
    /// Request id, unique per worker incarnation; reused verbatim on retry.
    public var requestId: UInt64
    /// Stable worker identity.
    public var workerId: String
    /// The worker's current incarnation.
    public var incarnation: UInt64
    /// Compressed log output.
    public var frames: [LogFrame]
    /// Metric samples, packed: a batch per run of one attempt's consecutive samples (version 6).
    public var metrics: [MetricBatch]
    /// Attempts that ended.
    public var ends: [AttemptEnd]
    /// What attempts ran with (version 3).
    public var provenance: [AttemptProvenance]

    /// Creates a `Report`.
    public init(
        requestId: UInt64, workerId: String, incarnation: UInt64,
        frames: [LogFrame] = [], metrics: [MetricBatch] = [], ends: [AttemptEnd] = [], provenance: [AttemptProvenance] = []
    ) {
        self.provenance = provenance
        self.requestId = requestId
        self.workerId = workerId
        self.incarnation = incarnation
        self.frames = frames
        self.metrics = metrics
        self.ends = ends
    }
}

extension Report: WireCodable {
    static var minWireSize: Int { 6 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.stringSize(workerId)
            + ByteWriter.uintSize(incarnation) + ByteWriter.listSize(frames)
            + ByteWriter.listSize(metrics) + ByteWriter.listSize(ends) + ByteWriter.listSize(provenance)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeString(workerId)
        w.writeUInt(incarnation)
        w.writeList(frames)
        w.writeList(metrics)
        w.writeList(ends)
        w.writeList(provenance)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        workerId = try r.readString(path() + ".workerId")
        incarnation = try r.readUInt(path() + ".incarnation")
        frames = try r.readRecords(path() + ".frames", LogFrame.self)
        metrics = try r.readRecords(path() + ".metrics", MetricBatch.self)
        ends = try r.readRecords(path() + ".ends", AttemptEnd.self)
        provenance = try r.readRecords(path() + ".provenance", AttemptProvenance.self)
    }
}
