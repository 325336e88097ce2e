import InternCore

/// One campaign as the lab lists it (`intern campaigns`).
public struct LabCampaign: Sendable, Equatable, Codable {
    public var name: String
    public var directory: String
    /// `running`, `paused`, `finished`, `stopped`, or `stopped: breaker`.
    public var state: String
    /// The coordinator's host, else the workers' hosts.
    public var host: String
    /// Trials drawn or still to draw, and how many completed and failed.
    public var trials: Int
    public var completed: Int
    public var failed: Int
    /// The objective, if the campaign has one.
    public var metric: String?
    public var direction: String?
    public var best: Finding?
    public var gpuHours: Double
    public var cpuHours: Double
    public var createdAt: Timestamp
    public var lastActivity: Timestamp

    public init(
        name: String, directory: String, state: String, host: String, trials: Int, completed: Int, failed: Int, metric: String?,
        direction: String?, best: Finding?, gpuHours: Double, cpuHours: Double, createdAt: Timestamp, lastActivity: Timestamp
    ) {
        self.name = name
        self.directory = directory
        self.state = state
        self.host = host
        self.trials = trials
        self.completed = completed
        self.failed = failed
        self.metric = metric
        self.direction = direction
        self.best = best
        self.gpuHours = gpuHours
        self.cpuHours = cpuHours
        self.createdAt = createdAt
        self.lastActivity = lastActivity
    }
}

/// A campaign's best result as the lab records it: what `intern best` says, validated or not.
public struct Finding: Sendable, Equatable, Codable {
    public var campaign: String
    public var stage: String
    public var metric: String
    /// `minimize` or `maximize`.
    public var direction: String
    public var trial: Int
    /// The validation repeats' mean when the best was validated; else the trial's own result.
    public var objective: Double
    /// Whether its advantage held over the repeats' spread (`validate:`).
    public var validated: Bool
    public var parameters: [String: String]

    public init(campaign: String, stage: String, metric: String, direction: String, trial: Int, objective: Double, validated: Bool, parameters: [String: String]) {
        self.campaign = campaign
        self.stage = stage
        self.metric = metric
        self.direction = direction
        self.trial = trial
        self.objective = objective
        self.validated = validated
        self.parameters = parameters
    }

    /// `loss 0.3125 (validated), trial 7: lr=0.0003 model=llama-7b`.
    public var line: String {
        "\(metric) \(FailureRegion.number(objective)) (\(validated ? "validated" : "not validated")), trial \(trial): "
            + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// Whether the finding's parameters include every `name=value` in `conditions` (values as text).
    public func matches(_ conditions: [String: String]) -> Bool {
        conditions.allSatisfy { parameters[$0.key] == $0.value }
    }

    /// The findings best first for their metric (those of another metric or direction than the
    /// first's are kept, after): "the best learning rate for this model family so far".
    public static func ranked(_ findings: [Finding]) -> [Finding] {
        findings.sorted { a, b in
            if a.metric != b.metric { return a.metric < b.metric }
            if a.validated != b.validated { return a.validated }
            return a.direction == "maximize" ? a.objective > b.objective : a.objective < b.objective
        }
    }
}
