/// Everything that defines a campaign: what to run, over which parameters, how many trials, and how to judge them.
public struct CampaignSpec: Sendable, Hashable, Codable {
    /// The campaign's name, also its directory name: `[A-Za-z0-9._-]{1,64}`, not `.` or `..`.
    public var name: String
    /// The command each trial runs.
    public var command: CommandTemplate
    /// The absolute directory trials run in.
    public var workdir: String
    /// Environment variables set for every trial, on top of the worker's environment.
    public var environment: [String: String]
    /// The parameters searched.
    public var space: ParameterSpace
    /// How trials' parameters are chosen.
    public var sampler: SamplerKind
    /// How many trials the campaign runs (for a grid, at most the grid size).
    public var trials: Int
    /// The most trials running at once, or `nil` for as many as there are workers.
    public var parallel: Int?
    /// The metric to optimize, if any.
    public var objective: Objective?
    /// How long one attempt may run before it is stopped, in seconds, or `nil` for no limit.
    public var timeoutSeconds: Double?
    /// How many more attempts a trial gets after a failed one (0: one attempt only).
    public var retries: Int
    /// The prefix marking metric lines in a trial's output (`METRIC loss=0.3 acc=0.9`), or `nil` if none is parsed.
    public var metricPrefix: String?
    /// How failures are classified and retried, and when dispatch pauses or a worker is quarantined
    /// (spec keys `retry:` and `failures:`).
    public var failurePolicy: FailurePolicy
    /// GPUs each attempt needs (0: none; the attempt then sees no GPU at all). An attempt runs
    /// only on a worker with that many GPUs free, with exactly those in `CUDA_VISIBLE_DEVICES`.
    public var gpus: Int
    /// CPUs and bytes of memory each attempt needs (0: no request). An attempt runs only on a
    /// worker with that much not taken by its other attempts (workers say what they offer).
    public var cpus: Int
    public var memoryBytes: Int
    /// Early stopping on an intermediate metric (`pruning:`), if any.
    public var pruning: PruningPolicy?
    /// Limits beyond the number of trials (`budget:`).
    public var budget: Budget
    /// Guardrails a completed trial must meet to be feasible (`constraints:`).
    public var constraints: [Constraint]
    /// Objectives after the first (`objectives:` with several): the campaign then reports a
    /// Pareto front of its feasible trials.
    public var extraObjectives: [Objective]
    /// Outputs every succeeding attempt must declare (`outputs:`; see ``Stage/outputs``), and
    /// declared result files (see ``Stage/resultFiles``).
    public var outputs: [String]
    public var resultFiles: [String: String] = [:]
    /// A pipeline's first stage's name (the top-level keys describe that stage), and its later
    /// stages (`stages:`); `nil` and empty for a campaign of one stage.
    public var stageName: String?
    public var laterStages: [Stage]
    /// What agents may do to the campaign (`agent:`), tightened by the flags of `intern mcp`.
    public var agentPolicy = AgentPolicy()
    /// The first stage's validation of its best (`validate:`) and its baseline configuration
    /// (`baseline:`); see ``Stage/validation``.
    public var validation: ValidationPolicy?
    public var baseline: Parameters?
    /// The first stage's items when it is a map stage (`map:`); see ``Stage/map``.
    public var map: ItemMap?
    /// Counter metrics summed over the campaign's trials (`totals: [rows_in, "dropped/*"]`): names,
    /// or prefixes ending in `*`; see ``ShardTotals``.
    public var totals: [String] = []

    /// Creates a spec. Nothing is validated here; see ``problems()``.
    public init(
        name: String,
        command: CommandTemplate,
        workdir: String,
        environment: [String: String] = [:],
        space: ParameterSpace = ParameterSpace(),
        sampler: SamplerKind = .random(seed: 0),
        trials: Int,
        parallel: Int? = nil,
        objective: Objective? = nil,
        timeoutSeconds: Double? = nil,
        retries: Int = 0,
        metricPrefix: String? = nil,
        failurePolicy: FailurePolicy = FailurePolicy(),
        gpus: Int = 0,
        cpus: Int = 0,
        memoryBytes: Int = 0,
        pruning: PruningPolicy? = nil,
        budget: Budget = Budget(),
        constraints: [Constraint] = [],
        extraObjectives: [Objective] = [],
        outputs: [String] = [],
        resultFiles: [String: String] = [:],
        stageName: String? = nil,
        laterStages: [Stage] = []
    ) {
        self.constraints = constraints
        self.extraObjectives = extraObjectives
        self.outputs = outputs
        self.resultFiles = resultFiles
        self.stageName = stageName
        self.laterStages = laterStages
        self.pruning = pruning
        self.budget = budget
        self.gpus = gpus
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.name = name
        self.command = command
        self.workdir = workdir
        self.environment = environment
        self.space = space
        self.sampler = sampler
        self.trials = trials
        self.parallel = parallel
        self.objective = objective
        self.timeoutSeconds = timeoutSeconds
        self.retries = retries
        self.metricPrefix = metricPrefix
        self.failurePolicy = failurePolicy
    }

    /// Decodes a spec; a missing `failurePolicy` (a spec encoded before it existed) is the default policy.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        command = try container.decode(CommandTemplate.self, forKey: .command)
        workdir = try container.decode(String.self, forKey: .workdir)
        environment = try container.decode([String: String].self, forKey: .environment)
        space = try container.decode(ParameterSpace.self, forKey: .space)
        sampler = try container.decode(SamplerKind.self, forKey: .sampler)
        trials = try container.decode(Int.self, forKey: .trials)
        parallel = try container.decodeIfPresent(Int.self, forKey: .parallel)
        objective = try container.decodeIfPresent(Objective.self, forKey: .objective)
        timeoutSeconds = try container.decodeIfPresent(Double.self, forKey: .timeoutSeconds)
        retries = try container.decode(Int.self, forKey: .retries)
        metricPrefix = try container.decodeIfPresent(String.self, forKey: .metricPrefix)
        failurePolicy = try container.decodeIfPresent(FailurePolicy.self, forKey: .failurePolicy) ?? FailurePolicy()
        gpus = try container.decodeIfPresent(Int.self, forKey: .gpus) ?? 0
        cpus = try container.decodeIfPresent(Int.self, forKey: .cpus) ?? 0
        memoryBytes = try container.decodeIfPresent(Int.self, forKey: .memoryBytes) ?? 0
        pruning = try container.decodeIfPresent(PruningPolicy.self, forKey: .pruning)
        budget = try container.decodeIfPresent(Budget.self, forKey: .budget) ?? Budget()
        constraints = try container.decodeIfPresent([Constraint].self, forKey: .constraints) ?? []
        extraObjectives = try container.decodeIfPresent([Objective].self, forKey: .extraObjectives) ?? []
        outputs = try container.decodeIfPresent([String].self, forKey: .outputs) ?? []
        resultFiles = try container.decodeIfPresent([String: String].self, forKey: .resultFiles) ?? [:]
        stageName = try container.decodeIfPresent(String.self, forKey: .stageName)
        laterStages = try container.decodeIfPresent([Stage].self, forKey: .laterStages) ?? []
        agentPolicy = try container.decodeIfPresent(AgentPolicy.self, forKey: .agentPolicy) ?? AgentPolicy()
        validation = try container.decodeIfPresent(ValidationPolicy.self, forKey: .validation)
        baseline = try container.decodeIfPresent(Parameters.self, forKey: .baseline)
        map = try container.decodeIfPresent(ItemMap.self, forKey: .map)
        totals = try container.decodeIfPresent([String].self, forKey: .totals) ?? []
    }

    /// Whether `name` is a valid campaign name: 1 to 64 of `A-Z a-z 0-9 . _ -`, and not `.` or `..`.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 64, name != ".", name != ".." else { return false }
        return bytes.allSatisfy { c in
            (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 46 || c == 95 || c == 45
        }
    }

    /// Whether `name` is a valid environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isValidEnvironmentName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first else { return false }
        func isLetter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        return isLetter(first) && bytes.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) }
    }

    /// The environment variable that carries a parameter into its job: `INTERN_PARAM_` and the
    /// name in upper case with every character outside `[A-Z0-9_]` replaced by `_`
    /// (`learning-rate` -> `INTERN_PARAM_LEARNING_RATE`).
    public static func environmentName(forParameter name: String) -> String {
        "INTERN_PARAM_" + environmentBody(name)
    }

    /// The environment variable that carries an input of a pipeline's trial: `INTERN_INPUT_` and
    /// the name made as for a parameter (`train.checkpoint` -> `INTERN_INPUT_TRAIN_CHECKPOINT`).
    public static func environmentName(forInput name: String) -> String {
        "INTERN_INPUT_" + environmentBody(name)
    }

    private static func environmentBody(_ name: String) -> String {
        String(name.uppercased().unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "A"..."Z", "0"..."9", "_": Character(scalar)
            default: "_"
            }
        })
    }

    /// Everything wrong with the spec, in spec order, each with the key path of the offending value
    /// (`name`, `command[2]`, `space.lr.low`, `trials`, ...). Empty for a valid spec.
    public func problems() -> [CampaignProblem] {
        var problems: [CampaignProblem] = CampaignLimits.problems(of: self)
        if !Self.isValidName(name) {
            problems.append(CampaignProblem(
                keyPath: "name",
                message: "'\(name)' is not a valid campaign name: use 1 to 64 letters, digits, '.', '_' or '-' (it names the campaign's directory)"))
        }
        problems += command.problems(parameterNames: space.names)
        if !workdir.hasPrefix("/") {
            problems.append(CampaignProblem(keyPath: "workdir", message: "workdir must be an absolute path, got '\(workdir)'"))
        }
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) {
            if !Self.isValidEnvironmentName(key) {
                problems.append(CampaignProblem(
                    keyPath: "env.\(key)",
                    message: "'\(key)' is not a valid environment variable name: use letters, digits and '_', not starting with a digit"))
            }
            if value.utf8.contains(0) {
                problems.append(CampaignProblem(keyPath: "env.\(key)", message: "an environment value cannot contain a NUL character"))
            }
        }
        var carriers: [String: String] = [:]
        for name in space.names {
            let variable = Self.environmentName(forParameter: name)
            if let other = carriers[variable] {
                problems.append(CampaignProblem(
                    keyPath: "space.\(name)",
                    message: "parameters '\(other)' and '\(name)' would both be passed as \(variable); rename one"))
            }
            carriers[variable] = name
        }
        let spaceProblems = space.problems(for: sampler)
        problems += spaceProblems
        if trials < 1 {
            problems.append(CampaignProblem(keyPath: "trials", message: "trials must be >= 1, got \(trials)"))
        } else if case .grid = sampler, spaceProblems.isEmpty, let size = space.gridSize, trials > size {
            problems.append(CampaignProblem(
                keyPath: "trials",
                message: "trials (\(trials)) is more than the grid's \(size) points; a grid never repeats a point, so use at most \(size) or leave trials out"))
        }
        if let parallel, parallel < 1 {
            problems.append(CampaignProblem(keyPath: "parallel", message: "parallel must be >= 1, got \(parallel)"))
        }
        if let objective, objective.metric.isEmpty || objective.metric.contains(where: { $0.isWhitespace || $0 == "=" }) {
            problems.append(CampaignProblem(
                keyPath: "objective.metric",
                message: "'\(objective.metric)' is not a valid metric name: it must be non-empty, without spaces or '='"))
        }
        if let timeoutSeconds, !(timeoutSeconds > 0 && timeoutSeconds.isFinite) {
            problems.append(CampaignProblem(
                keyPath: "timeout", message: "timeout must be a positive duration, got \(timeoutSeconds) seconds; leave it out for no limit"))
        }
        let used = command.placeholders()
        for parameter in space.parameters where parameter.condition != nil && used.contains(parameter.name) {
            problems.append(CampaignProblem(
                keyPath: "space.\(parameter.name).when",
                message: "'\(parameter.name)' is conditional, so the command cannot use {\(parameter.name)} (it is absent from some trials); read $\(Self.environmentName(forParameter: parameter.name)), set only when it applies"))
        }
        for (index, stage) in stages.enumerated() where !stage.extraObjectives.isEmpty {
            if stage.sampler.learnsFromObjective {
                problems.append(CampaignProblem(
                    keyPath: index == 0 ? "sampler" : "stages[\(index)].sampler",
                    message: "sampler \(stage.sampler.typeName) optimizes one objective; with several objectives use random or grid"))
            }
        }
        if let map { problems += map.problems(keyPath: "map") }
        for (index, pattern) in totals.enumerated()
        where pattern.isEmpty || pattern == "*" || pattern.dropLast().contains("*") || pattern.contains(where: { $0.isWhitespace || $0 == "=" }) {
            problems.append(CampaignProblem(
                keyPath: "totals[\(index)]",
                message: "'\(pattern)' is not a total: give a metric name (rows_in) or a prefix ending in '*' (\"dropped/*\"), without spaces"))
        }
        problems += stageProblems()
        for (index, stage) in stages.enumerated() {
            problems += ValidationPolicy.problems(of: stage, prefix: index == 0 ? "" : "stages[\(index)].")
        }
        if let startup = sampler.startup {
            if objective == nil {
                problems.append(CampaignProblem(
                    keyPath: "sampler", message: "sampler \(sampler.typeName) learns from the objective: add one, e.g. objective: {metric: eval_loss, direction: minimize}"))
            }
            if startup < 1 {
                problems.append(CampaignProblem(keyPath: "sampler.startup", message: "startup must be >= 1 (random trials before \(sampler.typeName)), got \(startup)"))
            }
        }
        if let pruning {
            if pruning.minStep < 1 {
                problems.append(CampaignProblem(keyPath: "pruning.min_step", message: "min_step must be >= 1, got \(pruning.minStep)"))
            }
            if pruning.reduction < 2 {
                problems.append(CampaignProblem(keyPath: "pruning.reduction", message: "reduction must be >= 2, got \(pruning.reduction)"))
            }
            if pruning.minTrials < 1 {
                problems.append(CampaignProblem(keyPath: "pruning.min_trials", message: "min_trials must be >= 1, got \(pruning.minTrials)"))
            }
        }
        if let hours = budget.hours, !(hours > 0) {
            problems.append(CampaignProblem(keyPath: "budget.hours", message: "budget.hours must be > 0, got \(hours)"))
        }
        if let gpuHours = budget.gpuHours, !(gpuHours > 0) {
            problems.append(CampaignProblem(keyPath: "budget.gpu_hours", message: "budget.gpu_hours must be > 0, got \(gpuHours)"))
        }
        if cpus < 0 {
            problems.append(CampaignProblem(keyPath: "cpus", message: "cpus must be >= 0, got \(cpus)"))
        }
        if memoryBytes < 0 {
            problems.append(CampaignProblem(keyPath: "memory", message: "memory must be >= 0 bytes, got \(memoryBytes)"))
        }
        if gpus < 0 {
            problems.append(CampaignProblem(keyPath: "gpus", message: "gpus must be >= 0, got \(gpus)"))
        }
        if retries < 0 {
            problems.append(CampaignProblem(keyPath: "retries", message: "retries must be >= 0, got \(retries)"))
        }
        if let metricPrefix, metricPrefix.isEmpty || metricPrefix.contains(where: \.isNewline) || metricPrefix.utf8.contains(0) {
            problems.append(CampaignProblem(
                keyPath: "metrics.prefix", message: "the metric prefix must be non-empty text on one line"))
        }
        problems += failurePolicy.problems()
        return problems
    }
}

/// A campaign's limits besides its number of trials: wall-clock hours since it started and
/// GPU-hours used. At a limit, dispatch stops; running attempts finish (`finish`) or are stopped
/// (`stop`), and the campaign ends with what it has.
public struct Budget: Sendable, Hashable, Codable {
    public enum Exhausted: String, Sendable, Hashable, Codable, CaseIterable {
        case finish
        case stop
    }

    public var hours: Double?
    public var gpuHours: Double?
    public var onExhausted: Exhausted

    public init(hours: Double? = nil, gpuHours: Double? = nil, onExhausted: Exhausted = .finish) {
        self.hours = hours
        self.gpuHours = gpuHours
        self.onExhausted = onExhausted
    }

    /// Whether any limit is set.
    public var isSet: Bool { hours != nil || gpuHours != nil }

    /// Why the budget is spent at `now`, for a campaign that started at `startedAt` and has used
    /// `gpuSeconds`; `nil` while it is not.
    public func exhausted(startedAt: Int64, now: Int64, gpuSeconds: Double) -> String? {
        if let hours, Double(now - startedAt) >= hours * 3_600_000 {
            return "the budget of \(Self.text(hours)) hours is spent"
        }
        if let gpuHours, gpuSeconds >= gpuHours * 3_600 {
            return "the budget of \(Self.text(gpuHours)) GPU-hours is spent (\(Self.text((gpuSeconds / 36).rounded() / 100)) used)"
        }
        return nil
    }

    /// An amount of hours as people write it: `12`, `0.5`.
    public static func text(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
