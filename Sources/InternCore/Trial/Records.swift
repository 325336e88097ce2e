/// A trial as the store keeps it and the coordinator rebuilds it on start.
public struct TrialRecord: Sendable, Equatable {
    /// The trial's number (1…N).
    public var id: TrialID
    /// The sampled parameters.
    public var parameters: Parameters
    /// Where the trial stands.
    public var status: TrialStatus
    /// The objective's value from the attempt that completed it, when the job reported the metric.
    public var objective: Double?
    /// How many attempts have been created for it.
    public var attemptCount: Int
    /// How many failed attempts were retried (counts against the campaign's `retries`).
    public var retriesUsed: Int
    /// How many attempts were lost with their worker.
    public var lostCount: Int
    /// Retries granted so far, by failure class (see `FailurePolicy`).
    public var retryCounts = RetryCounts()
    /// A retried trial is not dispatched before this time (its backoff).
    public var notBefore: Timestamp?
    /// Why the trial ended as it did when that is not obvious: the failure and the retry
    /// decision, or the circuit breaker that skipped it.
    public var note: String?
    /// For a completed trial of a campaign with constraints: whether it met them (`nil`: no
    /// constraints, or not completed). An infeasible trial is never the best; `note` says why.
    public var feasible: Bool?
    /// The index of its stage in ``CampaignSpec/stages`` (0 for a campaign of one stage).
    public var stage = 0
    /// The trial of the feeding stage it started from (its lineage), and the inputs it received
    /// from it and that trial's own feeders (`train.checkpoint`, `train.learning_rate`, ...).
    public var parent: TrialID?
    public var inputs: StageInputs = [:]
    /// A reduce trial's parents: every trial of the feeding stage that fed it, in order
    /// (``parent`` is the first); empty for any other trial.
    public var parents: [TrialID] = []
    /// The outputs of the attempt that completed it (what it passes on to later stages).
    public var outputs: [String: String] = [:]
    /// A validation repeat (`validate:`): the trial whose configuration it runs again (`nil` for
    /// a run of the stage's baseline), which repeat it is (1, 2, …; `nil`: not a repeat), and
    /// the seed it runs with (its `INTERN_SEED`, and the seed parameter's value when the stage
    /// names one). See ``ValidationPolicy``.
    public var repeatOf: TrialID?
    public var repeatNumber: Int?
    public var seed: Int?
    /// When the trial was first scheduled and when it reached a terminal status.
    public var createdAt: Timestamp
    public var endedAt: Timestamp?

    /// Creates a trial record.
    public init(
        id: TrialID, parameters: Parameters, status: TrialStatus = .pending, objective: Double? = nil,
        attemptCount: Int = 0, retriesUsed: Int = 0, lostCount: Int = 0, createdAt: Timestamp, endedAt: Timestamp? = nil
    ) {
        self.id = id
        self.parameters = parameters
        self.status = status
        self.objective = objective
        self.attemptCount = attemptCount
        self.retriesUsed = retriesUsed
        self.lostCount = lostCount
        self.createdAt = createdAt
        self.endedAt = endedAt
    }
}

/// One run of a trial on a worker.
public struct AttemptRecord: Sendable, Equatable {
    /// Unique within the campaign.
    public var id: AttemptID
    /// The trial it runs.
    public var trial: TrialID
    /// 1 for the first attempt of a trial, 2 for its first retry, …
    public var number: Int
    /// The worker and the incarnation that hold it: data from any other incarnation is fenced off.
    public var worker: WorkerID
    public var incarnation: Incarnation
    /// Where the attempt stands.
    public var status: AttemptStatus
    /// The exact command line the worker was told to run.
    public var argv: [String]
    /// When the coordinator assigned it, and when the worker says the process started and ended.
    public var assignedAt: Timestamp
    public var startedAt: Timestamp?
    public var endedAt: Timestamp?
    /// Exit status (for `exited`) or signal number (for `signaled`).
    public var exitCode: Int32?
    public var signal: Int32?
    /// Why the attempt failed to start or was lost, in words.
    public var detail: String?
    /// Resource use reported by the worker.
    public var wallMillis: UInt64?
    public var userCPUMillis: UInt64?
    public var systemCPUMillis: UInt64?
    public var peakRSSBytes: UInt64?
    /// The objective metric's value as reported so far (last or best, as the objective says).
    public var objective: Double?
    /// The worker's id of the work request this attempt answered: a restarted coordinator
    /// answers a repeated request with the same assignment instead of a second one.
    public var requestID: UInt64?
    /// The worker's GPU ids the attempt holds (its `CUDA_VISIBLE_DEVICES`); GPU-seconds are
    /// its wall time times their number.
    public var gpus: [String] = []
    /// The last value of each constrained metric this attempt reported, and the value of each
    /// objective after the first (as that objective's summary says).
    public var constraintValues: [String: Double] = [:]
    /// The outputs the job declared (when it ended).
    public var outputs: [String: String] = [:]
    /// The variables intern set for it (the campaign's `env`, `INTERN_*`, parameters).
    public var environment: [String: String] = [:]
    /// For an attempt that failed, was lost or preempted: its class, the digest of its error's
    /// signature, why it got that class, the normalised signature and an excerpt of the error.
    public var failureClass: FailureClass?
    public var failureSignature: String?
    public var failureReason: String?
    public var signatureText: String?
    public var failureExcerpt: String?

    /// Creates an attempt record.
    public init(
        id: AttemptID, trial: TrialID, number: Int, worker: WorkerID, incarnation: Incarnation,
        status: AttemptStatus = .assigned, argv: [String], assignedAt: Timestamp
    ) {
        self.id = id
        self.trial = trial
        self.number = number
        self.worker = worker
        self.incarnation = incarnation
        self.status = status
        self.argv = argv
        self.assignedAt = assignedAt
    }
}

/// A worker as the coordinator knows it.
public struct WorkerRecord: Sendable, Equatable {
    /// Whether the worker may receive work.
    public enum State: String, Sendable, Codable {
        /// Heartbeating and taking work.
        case active
        /// Finishing what it runs; no new work.
        case draining
        /// Its lease expired, or a new incarnation replaced it.
        case lost
    }

    public var id: WorkerID
    public var incarnation: Incarnation
    public var hostname: String
    public var pid: Int
    /// How many attempts it runs at once.
    public var slots: Int
    /// GPU ids it offers.
    public var gpus: [String]
    /// CPUs and bytes of memory it offers attempts (0: not said, no limit).
    public var cpus: Int
    public var memoryBytes: Int
    public var state: State
    /// When it joined, and when the coordinator last heard from it (any request renews the lease).
    public var joinedAt: Timestamp
    public var lastSeen: Timestamp

    /// Creates a worker record.
    public init(
        id: WorkerID, incarnation: Incarnation, hostname: String, pid: Int, slots: Int, gpus: [String] = [],
        cpus: Int = 0, memoryBytes: Int = 0, state: State = .active, joinedAt: Timestamp, lastSeen: Timestamp
    ) {
        self.id = id
        self.incarnation = incarnation
        self.hostname = hostname
        self.pid = pid
        self.slots = slots
        self.gpus = gpus
        self.cpus = max(0, cpus)
        self.memoryBytes = max(0, memoryBytes)
        self.state = state
        self.joinedAt = joinedAt
        self.lastSeen = lastSeen
    }
}

/// Something worth a line in the campaign's event log (the store's `events` table).
public struct CampaignEvent: Sendable, Equatable {
    /// What happened, as a stable machine-readable word (`worker.joined`, `attempt.lost`, …).
    public var kind: String
    /// A sentence for people.
    public var message: String
    public var trial: TrialID?
    public var attempt: AttemptID?
    public var worker: WorkerID?
    public var at: Timestamp
    /// Who asked for it, for an event a request made (`agent:claude-code`, a person's name).
    public var actor: String?

    /// Creates an event.
    public init(
        kind: String, message: String, trial: TrialID? = nil, attempt: AttemptID? = nil, worker: WorkerID? = nil, at: Timestamp,
        actor: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.trial = trial
        self.attempt = attempt
        self.worker = worker
        self.at = at
        self.actor = actor
    }
}
