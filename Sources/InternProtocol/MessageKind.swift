/// The message kind byte (fourth byte of the header).
public enum MessageKind: UInt8, Sendable, Hashable, CaseIterable {
    /// ``Hello``: worker registers (request).
    case hello = 1
    /// ``Welcome``: registration accepted (reply).
    case welcome = 2
    /// ``Rejected``: a request was refused (reply).
    case rejected = 3
    /// ``WorkRequest``: worker asks for an attempt for one free slot (request).
    case workRequest = 4
    /// ``Assignment``: an attempt to run (reply).
    case assignment = 5
    /// ``NoWork``: nothing to run now (reply).
    case noWork = 6
    /// ``Heartbeat``: worker liveness and running attempts (request).
    case heartbeat = 7
    /// ``HeartbeatReply``: cancellations and drain/shutdown flags (reply).
    case heartbeatReply = 8
    /// ``Report``: log frames, metrics and attempt ends (request).
    case report = 9
    /// ``ReportAck``: what the coordinator has durably stored (reply).
    case reportAck = 10
    /// ``AdminRequest``: an admin command to run on the campaign (request).
    case adminRequest = 11
    /// ``AdminReply``: the admin command's output (reply).
    case adminReply = 12

    /// `true` for kinds sent worker -> coordinator, `false` for replies.
    public var isRequest: Bool {
        switch self {
        case .hello, .workRequest, .heartbeat, .report, .adminRequest: true
        case .welcome, .rejected, .assignment, .noWork, .heartbeatReply, .reportAck, .adminReply: false
        }
    }
}
