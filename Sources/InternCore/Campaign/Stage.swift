/// One stage of a campaign: what its trials run and how they are judged. A campaign without
/// `stages:` has one stage, made of its top-level keys; a pipeline (`stages:`) has several, each
/// after the first fed by an earlier one (`from:`): its trials start from that stage's trials,
/// whose parameters and outputs (`{"intern_output": {...}}` lines) they receive as inputs.
public struct Stage: Sendable, Hashable, Codable {
    /// The stage's name (`train`, `eval`): placeholders `{train.checkpoint}` name it.
    public var name: String
    /// The command each trial of the stage runs.
    public var command: CommandTemplate
    /// The parameters searched (a fed stage may have none: one trial per input).
    public var space: ParameterSpace
    /// How its trials' parameters are chosen.
    public var sampler: SamplerKind
    /// The first stage: how many trials it runs. A fed stage: how many per input.
    public var trials: Int
    /// The metric its trials are judged by, if any.
    public var objective: Objective?
    /// Further objectives: with them, the stage has a Pareto front instead of one best trial.
    public var extraObjectives: [Objective]
    /// Early stopping on an intermediate metric, if any.
    public var pruning: PruningPolicy?
    /// Guardrails a completed trial must meet to be feasible.
    public var constraints: [Constraint]
    /// Outputs each succeeding attempt must declare (`outputs: [checkpoint]`); later stages may
    /// name them in placeholders. An attempt that exits 0 without one of them has failed.
    public var outputs: [String]
    /// Declared result files (`outputs: {results: results.json}`): output name -> path relative to
    /// the workdir (placeholders as in the command; `*` allowed in the last part, the newest file
    /// matching wins). Read when the job ends: their numbers become metrics (lm-eval's `results`
    /// section by task, filter and metric; any other JSON flattened to `a/b/c`), their absolute
    /// paths the outputs of those names. Their names count as declared outputs too.
    public var resultFiles: [String: String] = [:]
    /// How long one attempt may run, in seconds (`nil`: no limit).
    public var timeoutSeconds: Double?
    /// GPUs, CPUs and bytes of memory each attempt needs.
    public var gpus: Int
    public var cpus: Int
    public var memoryBytes: Int
    /// The stage that feeds this one, and which of its trials do; `nil` for the first stage.
    public var input: StageInput?
    /// Whether and how its best configurations are run again to validate them (`validate:`).
    public var validation: ValidationPolicy?
    /// A reference configuration (`baseline:`), run `repeats` times when the stage validates,
    /// that the best must beat beyond the spread too.
    public var baseline: Parameters?
    /// A map stage's items (`map:`): one trial per item, instead of a search (see ``ItemMap``).
    public var map: ItemMap?

    public init(
        name: String, command: CommandTemplate, space: ParameterSpace = ParameterSpace(), sampler: SamplerKind = .random(seed: 0),
        trials: Int = 1, objective: Objective? = nil, extraObjectives: [Objective] = [], pruning: PruningPolicy? = nil,
        constraints: [Constraint] = [], outputs: [String] = [], resultFiles: [String: String] = [:], timeoutSeconds: Double? = nil,
        gpus: Int = 0, cpus: Int = 0, memoryBytes: Int = 0, input: StageInput? = nil,
        validation: ValidationPolicy? = nil, baseline: Parameters? = nil, map: ItemMap? = nil
    ) {
        self.map = map
        self.validation = validation
        self.baseline = baseline
        self.resultFiles = resultFiles
        self.name = name
        self.command = command
        self.space = space
        self.sampler = sampler
        self.trials = trials
        self.objective = objective
        self.extraObjectives = extraObjectives
        self.pruning = pruning
        self.constraints = constraints
        self.outputs = outputs
        self.timeoutSeconds = timeoutSeconds
        self.gpus = gpus
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.input = input
    }

    /// Every objective, the first one first.
    public var objectives: [Objective] { (objective.map { [$0] } ?? []) + extraObjectives }

    /// Whether attempts ask for anything beyond a slot.
    public var needsResources: Bool { gpus > 0 || cpus > 0 || memoryBytes > 0 }
}

/// Which trials of an earlier stage feed a stage.
public struct StageInput: Sendable, Hashable, Codable {
    /// The feeding stage's name.
    public var stage: String
    /// `nil`: every completed, feasible trial, as soon as it completes (streaming). `k`: the `k`
    /// best feasible trials by that stage's objective, once the whole stage has ended.
    public var top: Int?
    /// Wait until the feeding stage has ended even without `top` (then every completed,
    /// feasible trial feeds, in trial order).
    public var barrier: Bool
    /// Take only the feeding stage's validated best (`validated: true`): wait until the stage
    /// and its validation have ended, then feed the best if ``ValidationVerdict`` validated it,
    /// else nothing.
    public var validated: Bool
    /// A reduce stage (`reduce: true`): once the feeding stage has ended, one trial, fed by every
    /// completed, feasible trial of it at once (their outputs in `$INTERN_INPUTS_FILE`).
    public var reduce: Bool

    public init(stage: String, top: Int? = nil, barrier: Bool = false, validated: Bool = false, reduce: Bool = false) {
        self.stage = stage
        self.top = top
        self.barrier = barrier
        self.validated = validated
        self.reduce = reduce
    }

    /// Decodes an input; `validated` absent (encoded before it existed) is `false`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        stage = try container.decode(String.self, forKey: .stage)
        top = try container.decodeIfPresent(Int.self, forKey: .top)
        barrier = try container.decode(Bool.self, forKey: .barrier)
        validated = try container.decodeIfPresent(Bool.self, forKey: .validated) ?? false
        reduce = try container.decodeIfPresent(Bool.self, forKey: .reduce) ?? false
    }

    /// Whether the stage waits for the feeding stage to end.
    public var waits: Bool { barrier || top != nil || validated || reduce }
}

/// The value of an input a trial received: `stage.key` names it (the producing stage and the
/// parameter or output), `text` is what the command and the environment get.
public typealias StageInputs = [String: String]

extension CampaignSpec {
    /// The campaign's stages: the top-level keys make the first; `later` holds the rest.
    public var stages: [Stage] {
        [Stage(
            name: stageName ?? "main", command: command, space: space, sampler: sampler, trials: trials, objective: objective,
            extraObjectives: extraObjectives, pruning: pruning, constraints: constraints, outputs: outputs, resultFiles: resultFiles,
            timeoutSeconds: timeoutSeconds, gpus: gpus, cpus: cpus, memoryBytes: memoryBytes, validation: validation,
            baseline: baseline, map: map)] + laterStages
    }

    /// Whether the campaign is a pipeline (more than one stage).
    public var isPipeline: Bool { !laterStages.isEmpty }

    /// The index of the stage whose best trial is the campaign's: the last one with an objective.
    public var selectionStage: Int? {
        stages.lastIndex { $0.objective != nil }
    }

    /// The names `stage.key` a stage's command may use: the parameters and declared outputs of
    /// every stage that feeds it, directly or through others.
    public func inputNames(ofStage index: Int) -> [String] {
        let all = stages
        // A reduce stage gets its inputs in one file (`$INTERN_INPUTS_FILE`), not as placeholders.
        guard all[index].input?.reduce != true else { return [] }
        var names: [String] = []
        var current = index
        var seen: Set<Int> = [index]
        while let input = all[current].input, let feeder = all.firstIndex(where: { $0.name == input.stage }), seen.insert(feeder).inserted {
            let stage = all[feeder]
            names += (stage.space.names + stage.outputs + stage.resultFiles.keys.sorted()).map { "\(stage.name).\($0)" }
            current = feeder
        }
        return names
    }

    /// What is wrong with the stages as a pipeline: names, feeds (only from an earlier stage),
    /// placeholders and the settings each stage needs. The first stage is checked with the
    /// top-level keys (see ``problems()``).
    func stageProblems() -> [CampaignProblem] {
        guard isPipeline else { return [] }
        var problems: [CampaignProblem] = []
        let all = stages
        var names: Set<String> = []
        for (index, stage) in all.enumerated() {
            let path = "stages[\(index)]"
            if !Self.isValidName(stage.name) {
                problems.append(CampaignProblem(
                    keyPath: "\(path).name", message: "'\(stage.name)' is not a valid stage name: use 1 to 64 letters, digits, '.', '_' or '-'"))
            } else if stage.name.contains(".") {
                problems.append(CampaignProblem(
                    keyPath: "\(path).name", message: "a stage name cannot contain '.' ({\(stage.name).key} would be ambiguous)"))
            }
            if !names.insert(stage.name).inserted {
                problems.append(CampaignProblem(keyPath: "\(path).name", message: "two stages are named '\(stage.name)'"))
            }
            for output in stage.outputs where output.isEmpty || !ParameterSpace.isValidName(output) {
                problems.append(CampaignProblem(keyPath: "\(path).outputs", message: "'\(output)' is not a valid output name"))
            }
            guard index > 0 else { continue }
            guard let input = stage.input else {
                problems.append(CampaignProblem(
                    keyPath: "\(path).from", message: "every stage after the first needs 'from:', the stage that feeds it (e.g. from: \(all[index - 1].name))"))
                continue
            }
            guard let feeder = all.firstIndex(where: { $0.name == input.stage }), feeder < index else {
                let earlier = all[..<index].map(\.name).joined(separator: ", ")
                problems.append(CampaignProblem(
                    keyPath: "\(path).from", message: "'\(input.stage)' is not an earlier stage (earlier stages: \(earlier))"))
                continue
            }
            if input.validated {
                if all[feeder].validation == nil {
                    problems.append(CampaignProblem(
                        keyPath: "\(path).from.validated", message: "'\(input.stage)' does not validate its best: give it validate: {top: 3, repeats: 3}"))
                }
                if input.top != nil {
                    problems.append(CampaignProblem(
                        keyPath: "\(path).from.validated", message: "validated: true feeds the one validated best of '\(input.stage)': leave top out"))
                }
            }
            if stage.map != nil {
                problems.append(CampaignProblem(
                    keyPath: "\(path).map", message: "only the first stage can map over items (a later stage is fed by '\(input.stage)'); move map: to the first stage"))
            }
            if input.reduce {
                if all[feeder].map == nil {
                    problems.append(CampaignProblem(
                        keyPath: "\(path).reduce",
                        message: "reduce: true merges the trials of a map stage, and '\(input.stage)' has no map:; give it map: {over: \"data/*.jsonl\"} or leave reduce out"))
                }
                if input.top != nil || input.validated {
                    problems.append(CampaignProblem(
                        keyPath: "\(path).reduce", message: "a reduce stage takes every completed trial of '\(input.stage)': leave top and validated out"))
                }
                if stage.trials != 1 {
                    problems.append(CampaignProblem(
                        keyPath: "\(path).trials", message: "a reduce stage runs one trial; leave trials out (got \(stage.trials))"))
                }
            }
            if let top = input.top {
                if top < 1 {
                    problems.append(CampaignProblem(keyPath: "\(path).from.top", message: "top must be >= 1, got \(top)"))
                }
                if all[feeder].objective == nil {
                    problems.append(CampaignProblem(
                        keyPath: "\(path).from.top", message: "top picks the best trials of '\(input.stage)' by its objective, and it has none"))
                }
            }
            let keyPath = "\(path).\(stage.command.shell ? "shell" : "command")"
            problems += stage.command.problems(parameterNames: stage.space.names + inputNames(ofStage: index), keyPath: keyPath)
            let placeholders = stage.command.placeholders()
            for upstream in all[..<index] {
                for parameter in upstream.space.parameters where parameter.condition != nil && placeholders.contains("\(upstream.name).\(parameter.name)") {
                    problems.append(CampaignProblem(
                        keyPath: keyPath,
                        message: "'\(upstream.name).\(parameter.name)' is conditional, so the command cannot use {\(upstream.name).\(parameter.name)} (it is absent from some inputs); read $\(Self.environmentName(forInput: "\(upstream.name).\(parameter.name)"))"))
                }
            }
            let usedConditional = stage.space.parameters.filter { $0.condition != nil && placeholders.contains($0.name) }
            for parameter in usedConditional {
                problems.append(CampaignProblem(
                    keyPath: "\(path).space.\(parameter.name).when",
                    message: "'\(parameter.name)' is conditional, so the command cannot use {\(parameter.name)}; read $\(Self.environmentName(forParameter: parameter.name))"))
            }
            for problem in stage.space.problems(for: stage.sampler) {
                problems.append(CampaignProblem(keyPath: "\(path).\(problem.keyPath)", message: problem.message, suggestion: problem.suggestion))
            }
            if stage.trials < 1 {
                problems.append(CampaignProblem(keyPath: "\(path).trials", message: "trials (per input) must be >= 1, got \(stage.trials)"))
            }
            if stage.sampler.learnsFromObjective, stage.objective == nil {
                problems.append(CampaignProblem(keyPath: "\(path).sampler", message: "sampler \(stage.sampler.typeName) learns from the objective: give the stage one"))
            }
            if stage.gpus < 0 || stage.cpus < 0 || stage.memoryBytes < 0 {
                problems.append(CampaignProblem(keyPath: path, message: "gpus, cpus and memory must be >= 0"))
            }
        }
        return problems
    }
}
