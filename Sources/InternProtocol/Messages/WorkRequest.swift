/// Worker -> coordinator: asks for an attempt to run in one free slot
/// (kind 4). The worker keeps one outstanding per free slot; the coordinator
/// may hold it (long-poll) until it has work. Answered by ``Assignment``,
/// ``NoWork`` or ``Rejected``.
public struct WorkRequest: Sendable, Equatable {
    /// Request id, unique per worker incarnation; reused verbatim on retry.
    public var requestId: UInt64
    /// Stable worker identity.
    public var workerId: String
    /// The worker's current incarnation.
    public var incarnation: UInt64
    /// The slot (0-based) this request is for.
    public var slot: UInt64
    /// 0: the slot is free. Otherwise the attempt the slot runs now: the request asks for the
    /// slot's next attempt ahead of time, to start the moment this one ends (answered at once,
    /// never parked; protocol 5, docs/protocol.md).
    public var behind: UInt64

    /// Creates a `WorkRequest`.
    public init(requestId: UInt64, workerId: String, incarnation: UInt64, slot: UInt64, behind: UInt64 = 0) {
        self.requestId = requestId
        self.workerId = workerId
        self.incarnation = incarnation
        self.slot = slot
        self.behind = behind
    }
}

extension WorkRequest: WireCodable {
    static var minWireSize: Int { 5 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.stringSize(workerId)
            + ByteWriter.uintSize(incarnation) + ByteWriter.uintSize(slot) + ByteWriter.uintSize(behind)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeString(workerId)
        w.writeUInt(incarnation)
        w.writeUInt(slot)
        w.writeUInt(behind)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        workerId = try r.readString(path() + ".workerId")
        incarnation = try r.readUInt(path() + ".incarnation")
        slot = try r.readUInt(path() + ".slot")
        behind = try r.readUInt(path() + ".behind")
    }
}
