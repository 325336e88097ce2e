/// An error that ends the worker: `Worker.init` or `run()` throws it, and `intern worker` prints
/// its ``message`` and exits 1.
public struct WorkerError: Error, Sendable, CustomStringConvertible {
    /// Which failure ended the worker.
    ///
    /// An open set of well-known values; compare against the static members.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's name, e.g. `gaveUp`.
        public let rawValue: String

        /// Creates a code from its name.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// The state directory cannot be used: another worker holds it, it is not private to this
        /// user, or its spool cannot be made.
        public static let stateDirectory = Code(rawValue: "stateDirectory")
        /// No connection to the coordinator could be set up: the TLS handshake failed (the
        /// coordinator's certificate is not from this campaign's CA, or it refused this worker's).
        public static let cannotConnect = Code(rawValue: "cannotConnect")
        /// The process listening on the ipc socket runs as another user (not this worker's, not
        /// root): this worker would run what it says, so it refuses it.
        public static let untrustedCoordinator = Code(rawValue: "untrustedCoordinator")
        /// The coordinator refused this worker: its hello was rejected, or the coordinator does not
        /// accept this worker's way of authenticating (other credentials, or none).
        public static let rejected = Code(rawValue: "rejected")
        /// The coordinator answered a hello with a message that is not a Welcome or a refusal.
        public static let unexpectedReply = Code(rawValue: "unexpectedReply")
        /// A newer incarnation of this worker joined the coordinator: this one stops.
        public static let fenced = Code(rawValue: "fenced")
        /// The coordinator did not answer for `--give-up-after` while nothing ran here.
        public static let gaveUp = Code(rawValue: "gaveUp")
        /// The worker was told to leave (a signal) before the coordinator ever answered, or while
        /// saying hello again past its leave deadline.
        public static let leftBeforeJoining = Code(rawValue: "leftBeforeJoining")
        /// The coordinator answers in another major version of the wire protocol (another intern
        /// release): no retry can fix it. The message names both versions.
        public static let protocolVersion = Code(rawValue: "protocolVersion")

        /// The code's name.
        public var description: String { rawValue }
    }

    /// Which failure ended the worker.
    public var code: Code
    /// What happened and, where it helps, what to do about it (naming the coordinator's URL).
    public var message: String
    /// The error behind this one, when there is one (the state directory's, the TLS dial's, the
    /// authentication's).
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The message, as `intern worker` prints it.
    public var description: String { message }
}
