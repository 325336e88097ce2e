import Foundation
import InternAuth
import InternCore
import InternProtocol
import NNG

/// Settings of the coordinator process that are not part of the campaign.
public struct CoordinatorOptions: Sendable {
    /// URLs to listen on (`ipc:///path`, `tcp://host:port`).
    public var listen: [String]
    /// The largest message accepted from a worker (NNG's receive limit is set to this).
    public var maxMessageBytes: Int
    /// Timing of leases, heartbeats and long-polls.
    public var config: CoordinatorConfig
    /// What workers are told about log streaming.
    public var logFlushIntervalMillis: UInt64
    public var logFlushBytes: UInt64
    public var compressionLevel: Int64
    /// How often the store is read for control requests (`intern cancel`, `pause`, `add`, ...).
    /// The logic's clock needs no polling: the machine says when it is due next.
    public var controlPollMillis: Int
    /// After the campaign finished, how long to keep answering so workers learn it and exit.
    public var lingerMillis: Int
    /// The campaign's credentials: network peers must open an authenticated session with them.
    public var credentials: Credentials?
    /// For `tls+tcp://` listen URLs: the CA and this coordinator's certificate.
    public var tls: TLSSettings?
    /// Runs an admin command (`intern status`, …) sent by a remote client (`--coordinator URL`);
    /// `nil`: admin requests are refused.
    public var admin: (@Sendable ([String]) async -> AdminOutput)?
    /// `--insecure`: network peers may send plain messages (anyone who reaches the port can
    /// then run commands on the workers).
    public var insecure: Bool
    /// How many network connections may wait to authenticate, from one address and in all, how
    /// many connections there may be in all, and for how long one may stay unauthenticated.
    public var connectionLimits: ConnectionGate.Limits

    /// Creates options with defaults for everything but the listen URLs.
    public init(
        listen: [String], maxMessageBytes: Int = 16 << 20, config: CoordinatorConfig = CoordinatorConfig(),
        logFlushIntervalMillis: UInt64 = 250, logFlushBytes: UInt64 = 64 << 10, compressionLevel: Int64 = 1,
        controlPollMillis: Int = 300, lingerMillis: Int? = nil, credentials: Credentials? = nil, tls: TLSSettings? = nil, insecure: Bool = false
    ) {
        self.listen = listen
        self.maxMessageBytes = maxMessageBytes
        self.config = config
        self.logFlushIntervalMillis = logFlushIntervalMillis
        self.logFlushBytes = logFlushBytes
        self.compressionLevel = compressionLevel
        self.controlPollMillis = controlPollMillis
        // Two heartbeats, a worker's longest wait to redial (after a cut, it hears the end only
        // once it is back: with 2.5 s, a cut of 1 s at the end sometimes outlasted the linger), and 0.5 s.
        self.lingerMillis = lingerMillis ?? Int(config.heartbeatIntervalMillis * 2) + LinkTiming.redialMaxMillis + 500
        self.credentials = credentials
        self.tls = tls
        self.insecure = insecure
        connectionLimits = ConnectionGate.Limits(
            connections: Self.connectionCapacity(),
            // A worker whose connection was re-made sends nothing on it until its next request.
            unauthenticatedMillis: max(10_000, 3 * config.heartbeatIntervalMillis))
    }

    /// Connections the descriptor limit leaves room for (256 kept for the store, logs and jobs),
    /// at most 16,384.
    public static func connectionCapacity() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 768 }
        let soft = Int(clamping: limit.rlim_cur)  // RLIM_INFINITY is the largest value: clamped
        return min(16_384, max(64, soft - 256))
    }
}

/// What an admin command run for a remote client printed, and its exit status.
public struct AdminOutput: Sendable {
    public var exitCode: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]

    public init(exitCode: Int32, stdout: [UInt8] = [], stderr: String = "") {
        self.init(exitCode: exitCode, stdout: stdout, stderr: Array(stderr.utf8))
    }

    public init(exitCode: Int32, stdout: [UInt8], stderr: [UInt8]) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// The coordinator had to stop, with a stable code.
public struct CoordinatorError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        /// An address to listen on is taken, or cannot be listened on: nothing was started.
        public static let cannotListen = Code(rawValue: "cannot_listen")
        /// A commit to the store failed (disk full, I/O error): the coordinator stopped without
        /// acknowledging anything more (fail-stop).
        public static let storeFailed = Code(rawValue: "store_failed")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// A view of the campaign for progress displays.
public struct CoordinatorSnapshot: Sendable {
    public var progress: CampaignProgress
    public var best: TrialRecord?
    public var workers: Int
    public var freeSlots: Int
    public var isFinished: Bool
    /// Why dispatch stopped before every trial ended (a circuit breaker), if it did.
    public var stoppedReason: String?
    public var startedAt: Timestamp
    /// Metrics the stages count on that no completed trial has reported (a misspelt objective).
    public var missingMetrics: [MissingMetric] = []
    /// The verdict on the selection stage's validation repeats, when it has any.
    public var validation: ValidationVerdict?
    /// Whether a stage with an objective has completed trials but none reported it: the
    /// campaign cannot say which trial is best.
    public var objectiveNeverReported: Bool {
        missingMetrics.contains { $0.roles.contains(.objective) }
    }
}
