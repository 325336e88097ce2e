/// Worker -> coordinator: liveness and the attempts still running (kind 7).
/// Answered by ``HeartbeatReply`` or ``Rejected``.
public struct Heartbeat: Sendable, Equatable {
    /// Request id, unique per worker incarnation; reused verbatim on retry.
    public var requestId: UInt64
    /// Stable worker identity.
    public var workerId: String
    /// The worker's current incarnation.
    public var incarnation: UInt64
    /// Ids of the attempts still running on the worker.
    public var running: [UInt64]
    /// The worker is leaving (SIGTERM, drain): it takes no more work; an assignment it has not
    /// confirmed will never run (version 2).
    public var leaving: Bool

    /// Creates a `Heartbeat`.
    public init(requestId: UInt64, workerId: String, incarnation: UInt64, running: [UInt64] = [], leaving: Bool = false) {
        self.requestId = requestId
        self.workerId = workerId
        self.incarnation = incarnation
        self.running = running
        self.leaving = leaving
    }
}

extension Heartbeat: WireCodable {
    static var minWireSize: Int { 5 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.stringSize(workerId)
            + ByteWriter.uintSize(incarnation) + ByteWriter.uintListSize(running) + 1
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeString(workerId)
        w.writeUInt(incarnation)
        w.writeUIntList(running)
        w.writeBool(leaving)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        workerId = try r.readString(path() + ".workerId")
        incarnation = try r.readUInt(path() + ".incarnation")
        running = try r.readUIntList(path() + ".running")
        leaving = try r.readBool(path() + ".leaving")
    }
}
