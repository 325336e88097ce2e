import CNNG

/// An error reported by NNG, carrying the raw `nng_err` code and, when known,
/// a description of the operation that failed (for example `"dial ipc:///tmp/x"`).
///
/// Equality compares only ``code``, so `error == .timedOut` holds regardless of
/// ``operation``. Values are immutable and `Sendable`.
public struct NNGError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The NNG error number (`NNG_E*`, possibly or-ed with `NNG_ESYSERR`/`NNG_ETRANERR`).
    public let code: Int32
    /// What was being done when the error occurred, if known.
    public let operation: String?

    /// Creates an error from an NNG error number and an optional operation description.
    public init(code: Int32, operation: String? = nil) {
        self.code = code
        self.operation = operation
    }

    /// The human-readable text NNG gives for ``code`` (`nng_strerror`).
    public var message: String {
        String(cString: nng_strerror(code))
    }

    /// `"<operation>: <message> (nng error <code>)"`, or without the operation prefix when unknown.
    public var description: String {
        if let operation {
            return "\(operation): \(message) (nng error \(code))"
        }
        return "\(message) (nng error \(code))"
    }

    /// Equal when the NNG error codes are equal; ``operation`` is ignored.
    public static func == (lhs: NNGError, rhs: NNGError) -> Bool {
        lhs.code == rhs.code
    }

    /// Returns a copy of this error with ``operation`` replaced.
    public func during(_ operation: String) -> NNGError {
        NNGError(code: code, operation: operation)
    }

    private init(_ value: nng_errno_enum) {
        self.init(code: Int32(bitPattern: value.rawValue))
    }

    /// `NNG_ETIMEDOUT`: the operation's timeout expired.
    public static let timedOut = NNGError(NNG_ETIMEDOUT)
    /// `NNG_ECLOSED`: the socket, context, dialer or listener is closed.
    public static let closed = NNGError(NNG_ECLOSED)
    /// `NNG_ECONNREFUSED`: the remote peer refused the connection (only seen with blocking dials).
    public static let connectionRefused = NNGError(NNG_ECONNREFUSED)
    /// `NNG_ECONNSHUT`: the connection was shut down by the peer.
    public static let connectionShutdown = NNGError(NNG_ECONNSHUT)
    /// `NNG_ECONNRESET`: the connection was reset by the peer.
    public static let connectionReset = NNGError(NNG_ECONNRESET)
    /// `NNG_ECANCELED`: the operation was cancelled (e.g. the Swift task was cancelled).
    public static let cancelled = NNGError(NNG_ECANCELED)
    /// `NNG_EMSGSIZE`: a message exceeded the permitted size.
    public static let messageTooLarge = NNGError(NNG_EMSGSIZE)
    /// `NNG_EINVAL`: an argument was invalid.
    public static let invalidArgument = NNGError(NNG_EINVAL)
    /// `NNG_EADDRINUSE`: the address is already in use.
    public static let addressInUse = NNGError(NNG_EADDRINUSE)
    /// `NNG_EAGAIN`: the operation would block / try again.
    public static let tryAgain = NNGError(NNG_EAGAIN)
    /// `NNG_EBUSY`: the resource is busy (e.g. an operation is already in flight on a context).
    public static let busy = NNGError(NNG_EBUSY)
    /// `NNG_ESTATE`: the operation is not valid in the current protocol state
    /// (e.g. receiving on a REQ context with no request sent).
    public static let incorrectState = NNGError(NNG_ESTATE)
    /// `NNG_ENOTSUP`: the operation or option is not supported.
    public static let notSupported = NNGError(NNG_ENOTSUP)
    /// `NNG_ECRYPTO`: the TLS library refused something: a TLS file it cannot use, or (seen
    /// only by blocking dials) a failed handshake.
    public static let cryptographic = NNGError(NNG_ECRYPTO)
}

/// Throws an ``NNGError`` describing `operation` when `rv` is not zero.
@inline(__always)
func check(_ rv: Int32, _ operation: @autoclosure () -> String) throws(NNGError) {
    if rv != 0 {
        throw NNGError(code: rv, operation: operation())
    }
}
