/// Identifies one parked request in the shell (an NNG reply context); opaque to the logic.
public struct RequestToken: Hashable, Sendable, CustomStringConvertible {
    /// The shell's own number for the request.
    public var rawValue: UInt64
    /// Wraps the shell's number.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "#\(rawValue)" }
}

/// Everything a worker needs to run one attempt.
public struct AttemptPlan: Sendable, Equatable {
    public var attempt: AttemptID
    public var trial: TrialID
    /// 1 for the first attempt of the trial.
    public var number: Int
    /// The rendered command: one element per argument, never split again.
    public var argv: [String]
    /// True only when the campaign asked for `/bin/sh -c`; `argv` is then `[script]`.
    public var shell: Bool
    /// Variables the worker sets on top of its own environment (sorted by name).
    public var environment: [(String, String)]
    public var workdir: String
    /// 0 means no timeout.
    public var timeoutMillis: UInt64
    /// The trial's parameters as rendered text (sorted by name).
    public var parameters: [(String, String)]
    /// The worker's GPU ids the attempt gets, exclusively (empty: none).
    public var gpus: [String] = []
    /// Result files to read when the job ends: output name -> path (rendered; see `Stage.resultFiles`).
    public var resultFiles: [(String, String)] = []

    public static func == (lhs: AttemptPlan, rhs: AttemptPlan) -> Bool {
        lhs.attempt == rhs.attempt && lhs.trial == rhs.trial && lhs.number == rhs.number && lhs.argv == rhs.argv
            && lhs.shell == rhs.shell && lhs.workdir == rhs.workdir && lhs.timeoutMillis == rhs.timeoutMillis
            && lhs.environment.elementsEqual(rhs.environment, by: ==) && lhs.parameters.elementsEqual(rhs.parameters, by: ==)
            && lhs.gpus == rhs.gpus && lhs.resultFiles.elementsEqual(rhs.resultFiles, by: ==)
    }
}

/// Why the coordinator refuses a worker's request.
public enum Refusal: Sendable, Equatable {
    /// The worker (or this incarnation of it) has not said hello, or was declared lost: say hello again.
    case unknownWorker
    /// A newer incarnation of this worker exists: this one must stop.
    case fenced
}

/// The answer to a work request.
public enum WorkReply: Sendable, Equatable {
    case assignment(AttemptPlan)
    case noWork(NoWorkReason)
    case refused(Refusal)

    /// Why a work request gets no assignment.
    public enum NoWorkReason: Sendable, Equatable {
        /// Nothing to run right now: ask again.
        case idle
        /// This worker is draining: finish what runs, ask for nothing.
        case draining
        /// The campaign is over: exit once idle.
        case finished
    }
}

/// A state change the shell must commit to the store before it sends any reply produced by the
/// same event: the store is the journal.
public enum StoreChange: Sendable, Equatable {
    case trial(TrialRecord)
    case attempt(AttemptRecord)
    case worker(WorkerRecord)
    case event(CampaignEvent)
    /// Every trial reached a terminal status.
    case campaignFinished(at: Timestamp)
    /// A finished campaign has trials to run again (validation asked for after it finished).
    case campaignReopened
    /// Dispatch stopped before every trial ended (a circuit breaker tripped for every
    /// configuration); running the campaign again continues it.
    case campaignStopped(reason: String, at: Timestamp)
    /// Dispatch paused (`intern pause`) or resumed (`intern resume`); attempts in flight go on.
    case campaignPaused(Bool, at: Timestamp, actor: String? = nil)
    /// `intern add` changed the number of trials or the budget (the new totals).
    case campaignAdjusted(CampaignAdjustments)
    /// Waiting stages (`top:`/`barrier:`) that have been fed, by index (all of them so far):
    /// stored, so that a restart neither feeds one twice nor mistakes one held back for fed.
    case stagesFed([Int])
    /// What an attempt ran with, as its worker captured it (stored with the rest of the report).
    case provenance(AttemptProvenanceRecord)
}

/// What an attempt ran with: its fields (`git.commit`, `python`, `packages`, ...) and the blobs
/// they name by digest (the diff, the package list; zstd), each stored once.
public struct AttemptProvenanceRecord: Sendable, Equatable {
    public struct Blob: Sendable, Equatable {
        public var digest: String
        public var kind: String
        public var rawLength: UInt64
        /// One zstd frame.
        public var data: [UInt8]

        public init(digest: String, kind: String, rawLength: UInt64, data: [UInt8]) {
            self.digest = digest
            self.kind = kind
            self.rawLength = rawLength
            self.data = data
        }
    }

    public var attempt: AttemptID
    public var fields: [String: String]
    public var blobs: [Blob]
    public var capturedAt: Timestamp

    public init(attempt: AttemptID, fields: [String: String], blobs: [Blob] = [], capturedAt: Timestamp) {
        self.attempt = attempt
        self.fields = fields
        self.blobs = blobs
        self.capturedAt = capturedAt
    }
}

/// What one event asks the shell to do, the one vocabulary of every machine event: commit
/// `changes` (in one transaction), then send `replies` to parked work requests and `answer` to
/// the request that caused the event, and call ``CoordinatorMachine/tick(now:)`` again at
/// `nextDeadline`.
public struct Effects: Sendable, Equatable {
    public var changes: [StoreChange] = []
    public var replies: [Reply] = []
    /// What the request that caused the event is told (a work request's answer is a reply to
    /// its token instead, since it may wait parked).
    public var answer: Answer?
    /// When the machine must be ticked next (a lease, a long-poll, a retry's backoff or the
    /// budget's end falls due), after this event; `nil` when nothing is due until the next event.
    public var nextDeadline: Timestamp?

    /// A reply to a parked request.
    public struct Reply: Sendable, Equatable {
        public var token: RequestToken
        public var reply: WorkReply
    }

    /// What the requester of an event is told.
    public enum Answer: Sendable, Equatable {
        /// The request is refused: the worker must say hello again (or stop, when fenced).
        case refused(Refusal)
        /// A heartbeat's reply.
        case heartbeat(HeartbeatAnswer)
        /// What of a report may be stored (``CoordinatorMachine/admitReport(worker:incarnation:dataAbout:endsOf:now:)``).
        case admitted(ReportAdmission)
        /// What a steering request did, in words (`intern add`).
        case said(String)
        /// What a steering request did, in words, when the request was refused, all or in part
        /// (an agent's proposal the guardrails turned down, a limit reached): its submitter exits non-zero.
        case declined(String)
    }

    /// No effects.
    public init() {}

    /// Effects that store one event and do nothing else.
    public static func event(_ event: CampaignEvent) -> Effects {
        var effects = Effects()
        effects.changes = [.event(event)]
        return effects
    }

    /// Adds everything `other` asks for after what this one asks for (its answer and deadline
    /// replace this one's when it has them).
    public mutating func append(_ other: Effects) {
        changes += other.changes
        replies += other.replies
        if let answer = other.answer { self.answer = answer }
        if let deadline = other.nextDeadline { nextDeadline = deadline }
    }

    /// True when there is nothing to commit or send.
    public var isEmpty: Bool { changes.isEmpty && replies.isEmpty && answer == nil }

    /// The refusal, when the request was refused.
    public var refusal: Refusal? {
        if case .refused(let refusal) = answer { refusal } else { nil }
    }

    /// The heartbeat reply, when the event was an accepted heartbeat.
    public var heartbeatAnswer: HeartbeatAnswer? {
        if case .heartbeat(let answer) = answer { answer } else { nil }
    }

    /// What a report may store, when the event admitted one.
    public var admission: ReportAdmission? {
        if case .admitted(let admission) = answer { admission } else { nil }
    }

    /// What a steering request did, in words.
    public var said: String? {
        switch answer {
        case .said(let text), .declined(let text): text
        default: nil
        }
    }

    /// The effects with `actor` named as who asked: on every event they store that names no one
    /// yet (its message ends `(by ACTOR)`, so every view of the events shows it).
    public func attributed(to actor: String?) -> Effects {
        guard let actor else { return self }
        var effects = self
        for index in effects.changes.indices {
            switch effects.changes[index] {
            case .event(var event) where event.actor == nil:
                event.actor = actor
                event.message += " (by \(actor))"
                effects.changes[index] = .event(event)
            case .campaignPaused(let paused, let at, nil):
                effects.changes[index] = .campaignPaused(paused, at: at, actor: actor)
            default:
                break
            }
        }
        return effects
    }

    /// Whether a steering request was refused, all or in part.
    public var declined: Bool {
        if case .declined = answer { true } else { false }
    }
}

/// What a heartbeat reply tells a worker.
public struct HeartbeatAnswer: Sendable, Equatable {
    /// Attempts to terminate: cancelled by request, or unknown to the coordinator (fenced).
    public var cancel: [AttemptID] = []
    /// Finish what runs, take nothing new.
    public var drain = false
    /// The campaign is over and nothing of this worker's runs: exit.
    public var shutdown = false

    public init(cancel: [AttemptID] = [], drain: Bool = false, shutdown: Bool = false) {
        self.cancel = cancel
        self.drain = drain
        self.shutdown = shutdown
    }
}

/// What a report may store, decided before anything is stored.
public struct ReportAdmission: Sendable, Equatable {
    /// Attempts whose data (log frames, metric samples, provenance) is stored.
    public var accepted: Set<AttemptID> = []
    /// Attempts whose data is refused: the worker drops what it holds for them, and they can
    /// never be re-attached.
    public var unknown: [AttemptID] = []

    public init(accepted: Set<AttemptID> = [], unknown: [AttemptID] = []) {
        self.accepted = accepted
        self.unknown = unknown
    }
}

/// What `intern add` asks of a running campaign, as it travels in a control request (JSON).
public struct AddRequest: Sendable, Hashable, Codable {
    /// Full assignments of the space, run next in this order.
    public var configurations: [Parameters]
    /// More trials for the sampler to draw.
    public var trials: Int
    /// Raises `budget.hours` / `budget.gpu_hours` by this much.
    public var hours: Double
    public var gpuHours: Double

    public init(configurations: [Parameters] = [], trials: Int = 0, hours: Double = 0, gpuHours: Double = 0) {
        self.configurations = configurations
        self.trials = trials
        self.hours = hours
        self.gpuHours = gpuHours
    }
}
