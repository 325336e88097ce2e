/// Where a trial stands. A trial is one point of the search space; it runs as one or more attempts.
public enum TrialStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for a free slot (new, or requeued after a failed or lost attempt).
    case pending
    /// An attempt is assigned to a worker or running there.
    case running
    /// An attempt exited with status 0.
    case completed
    /// Every attempt the retry budget allowed has failed.
    case failed
    /// Stopped by a person or by the campaign ending early.
    case cancelled
    /// Stopped early by the campaign's pruning rule (its intermediate metric lagged).
    case pruned

    /// Terminal trials never change again.
    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .cancelled, .pruned: true
        case .pending, .running: false
        }
    }
}

/// Where one attempt of a trial stands.
public enum AttemptStatus: String, Sendable, Codable, CaseIterable {
    /// Sent to a worker, not yet confirmed by its heartbeat or a report.
    case assigned
    /// The worker confirmed it runs.
    case running
    /// The job exited with status 0.
    case succeeded
    /// The job exited non-zero or was killed by a signal.
    case failed
    /// The job ran past the campaign's timeout and was terminated.
    case timedOut = "timed_out"
    /// The job could not be started (missing executable, bad working directory).
    case failedToStart = "failed_to_start"
    /// Terminated on request.
    case cancelled
    /// The worker holding it vanished (lease expired) or restarted; the trial was requeued.
    case lost
    /// The worker was leaving (SIGTERM: preemption, a node drained) and stopped the job after
    /// its grace period; the trial was requeued.
    case preempted

    /// Terminal attempts never change again; a late message about one is recorded, never counted.
    public var isTerminal: Bool { self != .assigned && self != .running }

    /// The job ran until it ended by itself or its timeout: its wall time is how long the
    /// stage's attempts take (not one stopped early by intern, nor one that never started).
    public var ran: Bool { self == .succeeded || self == .failed || self == .timedOut }
}

/// What the coordinator learns when an attempt's process has ended: how, what it cost, what it
/// declared, and its metrics as stored (the wire's `AttemptResult`, checked and completed).
public struct AttemptResult: Sendable, Equatable {
    /// The attempt that ended.
    public var attempt: AttemptID
    /// How it ended.
    public var outcome: Outcome
    /// When the process started and ended (worker's clock, Unix ms).
    public var startedAt: Timestamp
    public var endedAt: Timestamp
    /// Wall time measured with a monotonic clock.
    public var wallMillis: UInt64
    /// CPU time of the process tree.
    public var userCPUMillis: UInt64
    public var systemCPUMillis: UInt64
    /// The peak resident memory of the process tree.
    public var peakRSSBytes: UInt64
    /// The last sequence number sent for each stream and for metrics: the log is complete once
    /// the store holds everything up to these.
    public var finalStdoutSeq: UInt64
    public var finalStderrSeq: UInt64
    public var finalMetricSeq: UInt64
    /// The job's last output (stderr's end, then stdout's), for classifying a failure.
    public var logTail: String
    /// The outputs the job declared (`{"intern_output": {...}}` lines; a later line's key wins).
    public var outputs: [String: String] = [:]
    /// The last value of each metric the attempt reported (NaN included), as the coordinator has
    /// stored them when the end arrives: the names tell which metrics a stage's jobs print, the
    /// values whether a run that exited 0 diverged.
    public var metrics: [String: Double] = [:]

    /// Creates an attempt end report.
    public init(
        attempt: AttemptID, outcome: Outcome, startedAt: Timestamp, endedAt: Timestamp,
        wallMillis: UInt64, userCPUMillis: UInt64 = 0, systemCPUMillis: UInt64 = 0, peakRSSBytes: UInt64 = 0,
        finalStdoutSeq: UInt64 = 0, finalStderrSeq: UInt64 = 0, finalMetricSeq: UInt64 = 0, logTail: String = ""
    ) {
        self.logTail = logTail
        self.attempt = attempt
        self.outcome = outcome
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.wallMillis = wallMillis
        self.userCPUMillis = userCPUMillis
        self.systemCPUMillis = systemCPUMillis
        self.peakRSSBytes = peakRSSBytes
        self.finalStdoutSeq = finalStdoutSeq
        self.finalStderrSeq = finalStderrSeq
        self.finalMetricSeq = finalMetricSeq
    }
}

extension AttemptResult {
    /// How an attempt's process ended, as the worker observed it.
    public enum Outcome: Sendable, Equatable, Codable {
        /// The process exited with this status.
        case exited(Int32)
        /// The process was killed by this signal.
        case signaled(Int32)
        /// The process never started; the text says why.
        case failedToStart(String)
        /// The campaign's timeout ended the process.
        case timedOut
        /// A cancel from the coordinator ended the process.
        case cancelled
        /// The worker stopped the process because the worker itself was leaving.
        case preempted

        /// The attempt status this outcome leads to.
        public var attemptStatus: AttemptStatus {
            switch self {
            case .exited(0): .succeeded
            case .exited, .signaled: .failed
            case .failedToStart: .failedToStart
            case .timedOut: .timedOut
            case .cancelled: .cancelled
            case .preempted: .preempted
            }
        }
    }
}
