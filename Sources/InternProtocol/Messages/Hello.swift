/// Worker -> coordinator: registers a worker incarnation (kind 1).
///
/// Sent on start and again whenever the coordinator answers
/// ``RejectCode/unknownWorker``. Answered by ``Welcome`` or ``Rejected``.
public struct Hello: Sendable, Equatable {
    /// Request id, unique per worker incarnation; reused verbatim on retry.
    public var requestId: UInt64
    /// Stable worker identity, the same across restarts.
    public var workerId: String
    /// Random 64-bit value chosen anew on every worker start.
    public var incarnation: UInt64
    /// Host name of the worker machine.
    public var hostname: String
    /// Process id of the worker.
    public var pid: UInt64
    /// Number of attempts the worker runs concurrently.
    public var slots: UInt64
    /// GPU identifiers available to the worker.
    public var gpus: [String]
    /// Free-form worker labels, in order.
    public var labels: StringPairs
    /// Attempts this incarnation still holds: running, or ended with the end not yet
    /// acknowledged. A worker that says hello again after being cut off takes them back here,
    /// before any other request of its reaches the coordinator (version 4).
    public var held: [UInt64]

    /// Creates a `Hello`.
    public init(
        requestId: UInt64, workerId: String, incarnation: UInt64, hostname: String,
        pid: UInt64, slots: UInt64, gpus: [String] = [], labels: StringPairs = [:], held: [UInt64] = []
    ) {
        self.requestId = requestId
        self.workerId = workerId
        self.incarnation = incarnation
        self.hostname = hostname
        self.pid = pid
        self.slots = slots
        self.gpus = gpus
        self.labels = labels
        self.held = held
    }
}

extension Hello: WireCodable {
    static var minWireSize: Int { 8 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.stringSize(workerId)
            + ByteWriter.uintSize(incarnation) + ByteWriter.stringSize(hostname)
            + ByteWriter.uintSize(pid) + ByteWriter.uintSize(slots)
            + ByteWriter.stringListSize(gpus) + ByteWriter.pairsSize(labels)
            + ByteWriter.uintListSize(held)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeString(workerId)
        w.writeUInt(incarnation)
        w.writeString(hostname)
        w.writeUInt(pid)
        w.writeUInt(slots)
        w.writeStringList(gpus)
        w.writePairs(labels)
        w.writeUIntList(held)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        workerId = try r.readString(path() + ".workerId")
        incarnation = try r.readUInt(path() + ".incarnation")
        hostname = try r.readString(path() + ".hostname")
        pid = try r.readUInt(path() + ".pid")
        slots = try r.readUInt(path() + ".slots")
        gpus = try r.readStringList(path() + ".gpus")
        labels = try r.readPairs(path() + ".labels")
        held = try r.readUIntList(path() + ".held")
    }
}
