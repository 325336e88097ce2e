/// Why a request was refused; carried by ``Rejected``.
///
/// An open set: decoders accept any value so that newer coordinators can add
/// codes; a worker treats a code it does not know like ``internal``.
public struct RejectCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The wire value.
    public var rawValue: UInt64

    /// Creates a code from its wire value.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// 1: the request could not be decoded.
    public static let malformed = RejectCode(rawValue: 1)
    /// 2: the request used a protocol major version the coordinator does not speak.
    public static let unsupportedVersion = RejectCode(rawValue: 2)
    /// 3: the coordinator does not know this worker; the worker must send ``Hello`` again.
    public static let unknownWorker = RejectCode(rawValue: 3)
    /// 4: the request came from a stale worker incarnation.
    public static let fenced = RejectCode(rawValue: 4)
    /// 5: the worker is not allowed to join.
    public static let notAuthorized = RejectCode(rawValue: 5)
    /// 6: the coordinator is shutting down.
    public static let shuttingDown = RejectCode(rawValue: 6)
    /// 7: the coordinator failed internally.
    public static let `internal` = RejectCode(rawValue: 7)

    /// The code's name, or `"code(N)"` for values this side does not know.
    public var description: String {
        switch rawValue {
        case 1: "malformed"
        case 2: "unsupportedVersion"
        case 3: "unknownWorker"
        case 4: "fenced"
        case 5: "notAuthorized"
        case 6: "shuttingDown"
        case 7: "internal"
        default: "code(\(rawValue))"
        }
    }
}
