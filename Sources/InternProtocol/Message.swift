/// Any protocol message: one case per ``MessageKind``.
public enum Message: Sendable, Equatable {
    /// Kind 1, request.
    case hello(Hello)
    /// Kind 2, reply.
    case welcome(Welcome)
    /// Kind 3, reply.
    case rejected(Rejected)
    /// Kind 4, request.
    case workRequest(WorkRequest)
    /// Kind 5, reply.
    case assignment(Assignment)
    /// Kind 6, reply.
    case noWork(NoWork)
    /// Kind 7, request.
    case heartbeat(Heartbeat)
    /// Kind 8, reply.
    case heartbeatReply(HeartbeatReply)
    /// Kind 9, request.
    case report(Report)
    /// Kind 10, reply.
    case reportAck(ReportAck)
    /// Kind 11, request.
    case adminRequest(AdminRequest)
    /// Kind 12, reply.
    case adminReply(AdminReply)

    /// The kind byte this message is encoded with.
    public var kind: MessageKind {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .rejected: .rejected
        case .workRequest: .workRequest
        case .assignment: .assignment
        case .noWork: .noWork
        case .heartbeat: .heartbeat
        case .heartbeatReply: .heartbeatReply
        case .report: .report
        case .reportAck: .reportAck
        case .adminRequest: .adminRequest
        case .adminReply: .adminReply
        }
    }

    /// The request id carried (requests) or echoed (replies).
    public var requestId: UInt64 {
        switch self {
        case .hello(let m): m.requestId
        case .welcome(let m): m.requestId
        case .rejected(let m): m.requestId
        case .workRequest(let m): m.requestId
        case .assignment(let m): m.requestId
        case .noWork(let m): m.requestId
        case .heartbeat(let m): m.requestId
        case .heartbeatReply(let m): m.requestId
        case .report(let m): m.requestId
        case .reportAck(let m): m.requestId
        case .adminRequest(let m): m.requestId
        case .adminReply(let m): m.requestId
        }
    }
}
