/// One metric value reported by an attempt.
public struct MetricSample: Sendable, Equatable {
    /// The attempt that produced the value.
    public var attemptId: UInt64
    /// 1, 2, 3, ... per attempt.
    public var seq: UInt64
    /// Metric name.
    public var name: String
    /// Training step (may be negative).
    public var step: Int64
    /// The value; NaN and infinities are carried bit-exactly. (Synthesized
    /// `==` follows IEEE rules, so a NaN sample is not equal to itself.)
    public var value: Double
    /// When the value was observed, unix milliseconds.
    public var timeMs: Int64

    /// Creates a sample.
    public init(attemptId: UInt64, seq: UInt64, name: String, step: Int64, value: Double, timeMs: Int64) {
        self.attemptId = attemptId
        self.seq = seq
        self.name = name
        self.step = step
        self.value = value
        self.timeMs = timeMs
    }

    /// Exact number of bytes this sample occupies inside a ``Report``'s
    /// `metrics` list.
    public var encodedSize: Int { wireSize }
}

extension MetricSample: WireCodable {
    static var minWireSize: Int { 13 }

    var wireSize: Int {
        ByteWriter.uintSize(attemptId) + ByteWriter.uintSize(seq)
            + ByteWriter.stringSize(name) + ByteWriter.intSize(step) + 8
            + ByteWriter.intSize(timeMs)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(attemptId)
        w.writeUInt(seq)
        w.writeString(name)
        w.writeInt(step)
        w.writeDouble(value)
        w.writeInt(timeMs)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        attemptId = try r.readUInt(path() + ".attemptId")
        seq = try r.readUInt(path() + ".seq")
        name = try r.readString(path() + ".name")
        step = try r.readInt(path() + ".step")
        value = try r.readDouble(path() + ".value")
        timeMs = try r.readInt(path() + ".timeMs")
    }
}
