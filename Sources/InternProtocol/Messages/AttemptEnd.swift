/// How an attempt ended. A closed set: other wire values are malformed.
public enum AttemptOutcome: UInt64, Sendable, Hashable, CaseIterable {
    /// 0: the process exited; `code` is the exit status.
    case exited = 0
    /// 1: the process was killed by a signal; `code` is the signal number.
    case signaled = 1
    /// 2: the process could not be started; `detail` says why.
    case failedToStart = 2
    /// 3: the attempt exceeded its `timeoutMs` and was terminated.
    case timedOut = 3
    /// 4: the attempt was cancelled by the coordinator.
    case cancelled = 4
    /// 5: the worker was leaving (drained by a signal: preemption, a node going away) and
    /// stopped the attempt after its grace period. Not the job's fault.
    case preempted = 5
}

/// The end of an attempt, with resource usage and the final sequence numbers
/// so the coordinator can tell when it holds all of the attempt's data.
public struct AttemptEnd: Sendable, Equatable {
    /// The attempt that ended.
    public var attemptId: UInt64
    /// How it ended.
    public var outcome: AttemptOutcome
    /// Exit status for ``AttemptOutcome/exited``, signal number for
    /// ``AttemptOutcome/signaled``, 0 otherwise.
    public var code: Int64
    /// Free text, e.g. the spawn error for ``AttemptOutcome/failedToStart``.
    public var detail: String
    /// Start time, unix milliseconds.
    public var startedAtMs: Int64
    /// End time, unix milliseconds.
    public var endedAtMs: Int64
    /// Wall-clock duration in milliseconds.
    public var wallMs: UInt64
    /// User CPU time in milliseconds.
    public var userCpuMs: UInt64
    /// System CPU time in milliseconds.
    public var systemCpuMs: UInt64
    /// Peak resident set size in bytes.
    public var peakRssBytes: UInt64
    /// Seq of the last stdout frame (0 if none).
    public var finalStdoutSeq: UInt64
    /// Seq of the last stderr frame (0 if none).
    public var finalStderrSeq: UInt64
    /// Seq of the last metric sample (0 if none).
    public var finalMetricSeq: UInt64
    /// The last bytes the job wrote (at most 4 KiB of stderr, then at most 4 KiB of stdout,
    /// each cut at a line start when one is near), for the coordinator's failure
    /// classification. Empty for a success (version 2).
    public var logTail: [UInt8]
    /// The outputs the job declared with `{"intern_output": {...}}` lines, in the order first
    /// seen, each key once (version 3). Empty when it declared none.
    public var outputs: StringPairs

    /// Creates an attempt end.
    public init(
        attemptId: UInt64, outcome: AttemptOutcome, code: Int64 = 0, detail: String = "",
        startedAtMs: Int64, endedAtMs: Int64, wallMs: UInt64, userCpuMs: UInt64 = 0,
        systemCpuMs: UInt64 = 0, peakRssBytes: UInt64 = 0, finalStdoutSeq: UInt64 = 0,
        finalStderrSeq: UInt64 = 0, finalMetricSeq: UInt64 = 0, logTail: [UInt8] = [], outputs: StringPairs = [:]
    ) {
        self.logTail = logTail
        self.outputs = outputs
        self.attemptId = attemptId
        self.outcome = outcome
        self.code = code
        self.detail = detail
        self.startedAtMs = startedAtMs
        self.endedAtMs = endedAtMs
        self.wallMs = wallMs
        self.userCpuMs = userCpuMs
        self.systemCpuMs = systemCpuMs
        self.peakRssBytes = peakRssBytes
        self.finalStdoutSeq = finalStdoutSeq
        self.finalStderrSeq = finalStderrSeq
        self.finalMetricSeq = finalMetricSeq
    }

    /// Exact number of bytes this record occupies inside a ``Report``'s
    /// `ends` list.
    public var encodedSize: Int { wireSize }
}

extension AttemptEnd: WireCodable {
    static var minWireSize: Int { 15 }

    var wireSize: Int {
        ByteWriter.uintSize(attemptId) + ByteWriter.uintSize(outcome.rawValue)
            + ByteWriter.intSize(code) + ByteWriter.stringSize(detail)
            + ByteWriter.intSize(startedAtMs) + ByteWriter.intSize(endedAtMs)
            + ByteWriter.uintSize(wallMs) + ByteWriter.uintSize(userCpuMs)
            + ByteWriter.uintSize(systemCpuMs) + ByteWriter.uintSize(peakRssBytes)
            + ByteWriter.uintSize(finalStdoutSeq) + ByteWriter.uintSize(finalStderrSeq)
            + ByteWriter.uintSize(finalMetricSeq) + ByteWriter.bytesSize(logTail) + ByteWriter.pairsSize(outputs)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(attemptId)
        w.writeUInt(outcome.rawValue)
        w.writeInt(code)
        w.writeString(detail)
        w.writeInt(startedAtMs)
        w.writeInt(endedAtMs)
        w.writeUInt(wallMs)
        w.writeUInt(userCpuMs)
        w.writeUInt(systemCpuMs)
        w.writeUInt(peakRssBytes)
        w.writeUInt(finalStdoutSeq)
        w.writeUInt(finalStderrSeq)
        w.writeUInt(finalMetricSeq)
        w.writeBytes(logTail)
        w.writePairs(outputs)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        attemptId = try r.readUInt(path() + ".attemptId")
        let raw = try r.readUInt(path() + ".outcome")
        guard let outcome = AttemptOutcome(rawValue: raw) else {
            throw .malformed(path() + ".outcome", "unknown value \(raw)")
        }
        self.outcome = outcome
        code = try r.readInt(path() + ".code")
        detail = try r.readString(path() + ".detail")
        startedAtMs = try r.readInt(path() + ".startedAtMs")
        endedAtMs = try r.readInt(path() + ".endedAtMs")
        wallMs = try r.readUInt(path() + ".wallMs")
        userCpuMs = try r.readUInt(path() + ".userCpuMs")
        systemCpuMs = try r.readUInt(path() + ".systemCpuMs")
        peakRssBytes = try r.readUInt(path() + ".peakRssBytes")
        finalStdoutSeq = try r.readUInt(path() + ".finalStdoutSeq")
        finalStderrSeq = try r.readUInt(path() + ".finalStderrSeq")
        finalMetricSeq = try r.readUInt(path() + ".finalMetricSeq")
        logTail = try r.readBytes(path() + ".logTail")
        outputs = try r.readPairs(path() + ".outputs")
    }
}
