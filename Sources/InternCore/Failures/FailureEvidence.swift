/// What is known about one failed attempt: how it ended, whether intern ended it, and what it
/// printed last. The input of ``FailureClassifier/classify(_:)``.
public struct FailureEvidence: Sendable, Hashable {
    /// How the attempt ended.
    public enum Kind: Sendable, Hashable {
        /// The process exited with this non-zero status.
        case exited(Int32)
        /// The process was killed by this signal.
        case signaled(Int32)
        /// The process ran past the campaign's timeout and intern stopped it.
        case timedOut
        /// The worker was drained or stopped (SIGTERM) and stopped the job.
        case preempted
        /// The worker running the attempt vanished (lease expired, or it restarted).
        case lost
        /// The process could not be started; the text says why (a missing executable, a bad workdir).
        case failedToStart(String)
        /// The process exited 0 without the outputs its stage declares (named here).
        case missingOutputs([String])
        /// The process exited 0, but these metrics (the objective, or a loss) ended NaN or
        /// infinite: `eval_loss = nan`.
        case nonFiniteMetrics([String])

        /// The kind for an attempt's outcome as the worker reports it, or `nil` for a success
        /// (`exited(0)`) and a cancel, which are not failures.
        public init?(_ outcome: AttemptResult.Outcome) {
            switch outcome {
            case .exited(0), .cancelled: return nil
            case .exited(let status): self = .exited(status)
            case .signaled(let signal): self = .signaled(signal)
            case .failedToStart(let reason): self = .failedToStart(reason)
            case .timedOut: self = .timedOut
            case .preempted: self = .preempted
            }
        }
    }

    /// How the attempt ended.
    public var kind: Kind
    /// Whether intern itself sent the signal that ended the job (a cancel, a timeout, a drain). A
    /// SIGKILL that intern did not send is the signature of the host's OOM killer.
    public var killedByIntern: Bool
    /// The last few KB of the attempt's stderr followed by the last few KB of its stdout, decoded
    /// lossily: it may hold `\r` progress bars, ANSI escapes and binary garbage.
    public var logTail: String
    /// The peak resident memory of the job's process tree, when the worker measured it.
    public var peakRSSBytes: UInt64?

    /// Creates evidence.
    public init(kind: Kind, killedByIntern: Bool = false, logTail: String = "", peakRSSBytes: UInt64? = nil) {
        self.kind = kind
        self.killedByIntern = killedByIntern
        self.logTail = logTail
        self.peakRSSBytes = peakRSSBytes
    }
}

/// The verdict on one failed attempt: its class, the signature of its error, and why.
public struct FailureDiagnosis: Sendable, Hashable {
    /// The failure's class, which decides retries, circuit breaking and worker health.
    public var failureClass: FailureClass
    /// The signature of the attempt's final error, or `nil` when its log says nothing readable
    /// (callers then use ``FailureSignature/make(fallback:)`` with the class and the exit status).
    public var signature: FailureSignature?
    /// One sentence for a person: what decided the class (`CUDA out of memory in the log`,
    /// `killed by SIGKILL not sent by intern (host OOM killer?)`, `exit code 2 (usage error)`).
    public var reason: String

    /// Creates a diagnosis.
    public init(failureClass: FailureClass, signature: FailureSignature?, reason: String) {
        self.failureClass = failureClass
        self.signature = signature
        self.reason = reason
    }
}
