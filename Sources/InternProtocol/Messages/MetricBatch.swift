/// Consecutive metric samples of one attempt, packed by the worker: the coordinator checks and
/// stores the bytes as they come (docs/protocol.md, MetricBatch), without decoding each sample
/// into a value of its own. The codec treats ``data`` as opaque bytes.
public struct MetricBatch: Sendable, Equatable {
    /// The attempt that produced the samples.
    public var attemptId: UInt64
    /// The seq of the first sample (1, 2, 3, ... per attempt); the others follow without gaps.
    public var firstSeq: UInt64
    /// What the samples' times are relative to, unix milliseconds (the first one's time).
    public var baseTime: Int64
    /// The packed samples: names, count, then per sample name index, step, value, time.
    public var data: [UInt8]

    /// Creates a batch.
    public init(attemptId: UInt64, firstSeq: UInt64, baseTime: Int64, data: [UInt8]) {
        self.attemptId = attemptId
        self.firstSeq = firstSeq
        self.baseTime = baseTime
        self.data = data
    }

    /// Exact number of bytes this batch occupies inside a ``Report``'s `metrics` list.
    public var encodedSize: Int { wireSize }
}

extension MetricBatch: WireCodable {
    static var minWireSize: Int { 4 }

    var wireSize: Int {
        ByteWriter.uintSize(attemptId) + ByteWriter.uintSize(firstSeq) + ByteWriter.intSize(baseTime) + ByteWriter.bytesSize(data)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(attemptId)
        w.writeUInt(firstSeq)
        w.writeInt(baseTime)
        w.writeBytes(data)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        attemptId = try r.readUInt(path() + ".attemptId")
        firstSeq = try r.readUInt(path() + ".firstSeq")
        baseTime = try r.readInt(path() + ".baseTime")
        data = try r.readBytes(path() + ".data")
    }
}
