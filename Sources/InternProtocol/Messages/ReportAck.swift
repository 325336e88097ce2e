/// The highest contiguous log frame seq the coordinator has stored for one
/// attempt stream.
public struct StreamCursor: Sendable, Hashable {
    /// The attempt.
    public var attemptId: UInt64
    /// stdout or stderr.
    public var stream: LogStream
    /// Highest contiguous seq now stored for that stream.
    public var seq: UInt64

    /// Creates a cursor.
    public init(attemptId: UInt64, stream: LogStream, seq: UInt64) {
        self.attemptId = attemptId
        self.stream = stream
        self.seq = seq
    }
}

/// The highest contiguous metric seq the coordinator has stored for one
/// attempt.
public struct MetricCursor: Sendable, Hashable {
    /// The attempt.
    public var attemptId: UInt64
    /// Highest contiguous metric seq now stored.
    public var seq: UInt64

    /// Creates a cursor.
    public init(attemptId: UInt64, seq: UInt64) {
        self.attemptId = attemptId
        self.seq = seq
    }
}

/// Coordinator -> worker: what is now stored (kind 10). Reply to ``Report``.
public struct ReportAck: Sendable, Equatable {
    /// Echo of the request's id.
    public var requestId: UInt64
    /// Per attempt stream: highest contiguous frame seq stored.
    public var stored: [StreamCursor]
    /// Per attempt: highest contiguous metric seq stored.
    public var metricsStored: [MetricCursor]
    /// Attempts whose ``AttemptEnd`` is stored.
    public var endsStored: [UInt64]
    /// Attempts the coordinator does not accept data for (fenced, superseded
    /// or unknown); the worker stops sending them and drops their buffered
    /// data.
    public var unknownAttempts: [UInt64]
    /// Attempts whose provenance is stored (version 3).
    public var provenanceStored: [UInt64]

    /// Creates a `ReportAck`.
    public init(
        requestId: UInt64, stored: [StreamCursor] = [], metricsStored: [MetricCursor] = [],
        endsStored: [UInt64] = [], unknownAttempts: [UInt64] = [], provenanceStored: [UInt64] = []
    ) {
        self.provenanceStored = provenanceStored
        self.requestId = requestId
        self.stored = stored
        self.metricsStored = metricsStored
        self.endsStored = endsStored
        self.unknownAttempts = unknownAttempts
    }
}

extension StreamCursor: WireCodable {
    static var minWireSize: Int { 3 }

    var wireSize: Int {
        ByteWriter.uintSize(attemptId) + ByteWriter.uintSize(stream.rawValue) + ByteWriter.uintSize(seq)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(attemptId)
        w.writeUInt(stream.rawValue)
        w.writeUInt(seq)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        attemptId = try r.readUInt(path() + ".attemptId")
        stream = try r.readStream(path() + ".stream")
        seq = try r.readUInt(path() + ".seq")
    }
}

extension MetricCursor: WireCodable {
    static var minWireSize: Int { 2 }

    var wireSize: Int { ByteWriter.uintSize(attemptId) + ByteWriter.uintSize(seq) }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(attemptId)
        w.writeUInt(seq)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        attemptId = try r.readUInt(path() + ".attemptId")
        seq = try r.readUInt(path() + ".seq")
    }
}

extension ReportAck: WireCodable {
    static var minWireSize: Int { 5 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.listSize(stored)
            + ByteWriter.listSize(metricsStored) + ByteWriter.uintListSize(endsStored)
            + ByteWriter.uintListSize(unknownAttempts) + ByteWriter.uintListSize(provenanceStored)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeList(stored)
        w.writeList(metricsStored)
        w.writeUIntList(endsStored)
        w.writeUIntList(unknownAttempts)
        w.writeUIntList(provenanceStored)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        stored = try r.readRecords(path() + ".stored", StreamCursor.self)
        metricsStored = try r.readRecords(path() + ".metricsStored", MetricCursor.self)
        endsStored = try r.readUIntList(path() + ".endsStored")
        unknownAttempts = try r.readUIntList(path() + ".unknownAttempts")
        provenanceStored = try r.readUIntList(path() + ".provenanceStored")
    }
}
