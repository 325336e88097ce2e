/// One metric value reported by an attempt, as a worker holds it until a report carries it,
/// packed with its neighbours in a ``MetricBatch``.
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

    /// At most what this sample adds to a ``Report`` packed in a batch (for batching under a
    /// message size limit): what it took on the wire, with its own name, before version 6.
    public var encodedSize: Int {
        ByteWriter.uintSize(attemptId) + ByteWriter.uintSize(seq)
            + ByteWriter.stringSize(name) + ByteWriter.intSize(step) + 8
            + ByteWriter.intSize(timeMs)
    }
}
