import InternCore
import Yams

/// What a stage runs and how it is fed: the stage keys (at the top level, or in each of `stages:`),
/// `from:` and `command:`.
extension SpecReader {
    /// The keys that say what a stage runs and how it is judged, from `entries` (the top level,
    /// or one of `stages:`). `stage` is the stage's index in `stages:` (`nil`: the top level);
    /// a stage takes `defaults`' timeout and resources unless it gives its own.
    mutating func readStageKeys(
        _ entries: [String: (key: Node, value: Node)], at mark: Position?, stage: Int?, defaults: Stage?
    ) throws(SpecError) -> Stage {
        let pipelineTop = stage == nil && entries["stages"] != nil
        // command / shell
        var command = CommandTemplate(argv: [])
        switch (entries["command"], entries["shell"]) {
        case (.some, .some(let shell)):
            throw error(.invalidValue, at: Position(shell.key.mark), "shell",
                        "give either 'command' (run directly) or 'shell' (run with /bin/sh -c), not both")
        case (.some(let entry), nil):
            command = try readCommand(entry.value)
        case (nil, .some(let entry)):
            command = CommandTemplate(shell: try text(entry.value, "shell"))
        case (nil, nil):
            guard pipelineTop else {
                throw missing("command", in: "", at: mark,
                              hint: "the command each trial runs, e.g. command: [python3, train.py, --lr, \"{lr}\"]")
            }
        }

        // map: one trial per item, a grid over the items (no space, sampler or trials of its own)
        var map: ItemMap?
        if let entry = entries["map"], !isNull(entry.value) {
            if let clash = ["space", "sampler", "trials"].first(where: { entries[$0] != nil }) {
                throw error(.invalidValue, at: Position(entries[clash]!.key.mark), clash,
                            "a map stage runs one trial per item of map:, so it has no '\(clash)'; leave it out")
            }
            map = try readMap(entry.value)
        }

        // space
        var space = map?.space ?? ParameterSpace()
        if let entry = entries["space"], !isNull(entry.value) {
            marks["space"] = Position(entry.key.mark)
            space = try readSpace(entry.value)
        }

        // sampler
        var sampler = map == nil ? SamplerKind.random(seed: 0) : .grid
        if let entry = entries["sampler"] {
            sampler = try readSampler(entry.value)
        }

        // trials: the first stage's number, a later stage's number per input
        var trials = 1
        if let map {
            trials = max(1, map.items.count)
        } else if let entry = entries["trials"] {
            trials = try integer(entry.value, "trials")
        } else if case .grid = sampler {
            trials = space.gridSize ?? 1 // a grid the space cannot make is reported below
        } else if stage ?? 0 == 0, !pipelineTop {
            throw missing("trials", in: "", at: mark,
                          hint: "the random sampler needs the number of trials to draw, e.g. trials: 24")
        }

        // resources
        var gpus = defaults?.gpus ?? 0
        if let entry = entries["gpus"], !isNull(entry.value) {
            gpus = try integer(entry.value, "gpus")
        }
        var cpus = defaults?.cpus ?? 0
        if let entry = entries["cpus"], !isNull(entry.value) {
            cpus = try integer(entry.value, "cpus")
        }
        var memoryBytes = defaults?.memoryBytes ?? 0
        if let entry = entries["memory"], !isNull(entry.value) {
            memoryBytes = try readSize(entry.value, "memory")
        }

        // objective, objectives
        var objectives: [Objective] = []
        switch (entries["objective"], entries["objectives"]) {
        case (.some, .some(let both)):
            throw error(.invalidValue, at: Position(both.key.mark), "objectives",
                        "give either 'objective' (one) or 'objectives' (a list, for a Pareto front), not both")
        case (.some(let entry), nil) where !isNull(entry.value):
            objectives = [try readObjective(entry.value)]
        case (nil, .some(let entry)) where !isNull(entry.value):
            guard case .sequence(let items) = entry.value, !items.isEmpty else {
                throw typeMismatch(entry.value, "objectives", expected: "a list of objectives, e.g. [{metric: accuracy, direction: maximize}, {metric: latency_ms, direction: minimize}]")
            }
            for (index, item) in items.enumerated() {
                objectives.append(try readObjective(item, "objectives[\(index)]"))
            }
        default: break
        }

        // pruning
        var pruning: PruningPolicy?
        if let entry = entries["pruning"], !isNull(entry.value) {
            pruning = try readPruning(entry.value, objective: objectives.first)
        }

        // constraints
        var constraints: [Constraint] = []
        if let entry = entries["constraints"], !isNull(entry.value) {
            marks["constraints"] = Position(entry.value.mark)
            guard case .sequence(let items) = entry.value else {
                throw typeMismatch(entry.value, "constraints", expected: "a list such as [\"eval_worst_class_accuracy >= 0.85\", \"toxicity <= 0.1\"]")
            }
            for (index, item) in items.enumerated() {
                let path = "constraints[\(index)]"
                let text = try text(item, path)
                guard let constraint = Constraint(parsing: text) else {
                    throw error(.invalidValue, at: Position(item.mark), path,
                                "'\(text)' is not a constraint; write METRIC OP NUMBER with OP one of >=, <=, >, <, e.g. \"toxicity <= 0.1\"")
                }
                constraints.append(constraint)
            }
        }

        // outputs: names the job declares in `intern_output` lines, or result files it writes
        var outputs: [String] = []
        var resultFiles: [String: String] = [:]
        if let entry = entries["outputs"], !isNull(entry.value) {
            switch entry.value {
            case .sequence(let items):
                for (index, item) in items.enumerated() {
                    marks["outputs[\(index)]"] = Position(item.mark)
                    outputs.append(try text(item, "outputs[\(index)]"))
                }
            case .mapping(let map):
                for (key, value) in map {
                    let name = try keyText(key, parent: "outputs")
                    marks["outputs.\(name)"] = Position(key.mark)
                    let path = try text(value, "outputs.\(name)")
                    guard ParameterSpace.isValidName(name), !path.isEmpty else {
                        throw error(.invalidValue, at: Position(key.mark), "outputs.\(name)",
                                    "a result file needs a name of letters, digits, '_', '.', '-' and a path, e.g. outputs: {results: results.json}")
                    }
                    resultFiles[name] = path
                }
            default:
                throw typeMismatch(entry.value, "outputs", expected: "a list of output names (outputs: [checkpoint]) or result files (outputs: {results: results.json})")
            }
        }

        // timeout
        var timeout = defaults?.timeoutSeconds
        if let entry = entries["timeout"], !isNull(entry.value) {
            timeout = try readDuration(entry.value, "timeout")
        }

        // validate, baseline
        var validation: ValidationPolicy?
        if let entry = entries["validate"], !isNull(entry.value) {
            validation = try readValidation(entry.value)
        }
        var baseline: Parameters?
        if let entry = entries["baseline"], !isNull(entry.value) {
            baseline = try readBaseline(entry.value)
        }

        return Stage(
            name: "", command: command, space: space, sampler: sampler, trials: trials, objective: objectives.first,
            extraObjectives: Array(objectives.dropFirst()), pruning: pruning, constraints: constraints, outputs: outputs,
            resultFiles: resultFiles, timeoutSeconds: timeout, gpus: gpus, cpus: cpus, memoryBytes: memoryBytes,
            validation: validation, baseline: baseline, map: map)
    }

    /// `map: {over: "data/shards/*.jsonl"}` (a glob relative to the spec's directory, resolved
    /// now, or taken from the campaign's store when it was resolved before: ``storedItems``) or
    /// `map: {items: [a, b, c]}`.
    mutating func readMap(_ node: Node) throws(SpecError) -> ItemMap {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "map", expected: "a mapping such as {over: \"data/shards/*.jsonl\"} or {items: [en, de, fr]}")
        }
        marks["map"] = Position(node.mark)
        let fields = try mapping(map, at: Position(node.mark), keyPath: "map", allowed: ["over", "items"], context: "in map")
        switch (fields["over"], fields["items"]) {
        case (.some, .some(let both)):
            throw error(.invalidValue, at: Position(both.key.mark), "map.items",
                        "give either 'over' (a glob of files) or 'items' (a list), not both")
        case (nil, nil):
            throw missing("over", in: "map", at: Position(node.mark),
                          hint: "the files to map over, e.g. over: \"data/shards/*.jsonl\", or items: [en, de, fr]")
        case (.some(let entry), nil):
            let pattern = try text(entry.value, "map.over")
            if let storedItems { return ItemMap(pattern: pattern, items: storedItems) }
            let items = CampaignSpecParser.glob(pattern, relativeTo: baseDirectory)
            if items.isEmpty {
                throw error(.invalidValue, at: Position(entry.value.mark), "map.over",
                            "the glob '\(pattern)' matches no file (relative to \(baseDirectory)); a map stage needs at least one item")
            }
            return ItemMap(pattern: pattern, items: items)
        case (nil, .some(let entry)):
            guard case .sequence(let nodes) = entry.value, !nodes.isEmpty else {
                throw typeMismatch(entry.value, "map.items", expected: "a non-empty list of items, e.g. [en, de, fr]")
            }
            var items: [String] = []
            for (index, item) in nodes.enumerated() {
                marks["map[\(index)]"] = Position(item.mark)
                let text = try text(item, "map.items[\(index)]")
                if items.contains(text) {
                    throw error(.invalidValue, at: Position(item.mark), "map.items[\(index)]", "'\(text)' is listed twice: each item runs once")
                }
                items.append(text)
            }
            return ItemMap(items: items)
        }
    }

    /// `validate: {top: 3, repeats: 3, seed: seed}` (top defaults to 3, repeats to 3; seed to
    /// none: the repeats get `INTERN_SEED`).
    mutating func readValidation(_ node: Node) throws(SpecError) -> ValidationPolicy {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "validate", expected: "a mapping such as {top: 3, repeats: 3, seed: seed}")
        }
        marks["validate"] = Position(node.mark)
        let fields = try mapping(map, at: Position(node.mark), keyPath: "validate", allowed: ["top", "repeats", "seed"], context: "in validate")
        var policy = ValidationPolicy(top: 3, repeats: 3)
        if let entry = fields["top"], !isNull(entry.value) { policy.top = try integer(entry.value, "validate.top") }
        if let entry = fields["repeats"], !isNull(entry.value) { policy.repeats = try integer(entry.value, "validate.repeats") }
        if let entry = fields["seed"], !isNull(entry.value) { policy.seedParameter = try text(entry.value, "validate.seed") }
        return policy
    }

    /// `baseline: {lr: 0.001, hidden: 64}`: a configuration of the stage's space.
    mutating func readBaseline(_ node: Node) throws(SpecError) -> Parameters {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "baseline", expected: "a mapping of parameter names to values, e.g. baseline: {lr: 0.001, hidden: 64}")
        }
        marks["baseline"] = Position(node.mark)
        var values: [String: ParameterValue] = [:]
        for (key, value) in map {
            let name = try keyText(key, parent: "baseline")
            marks["baseline.\(name)"] = Position(value.mark)
            values[name] = try choiceValue(value, "baseline.\(name)")
        }
        return Parameters(values)
    }

    /// `from: train` (every completed trial, as it completes) or
    /// `from: {stage: train, top: 3, barrier: true}`.
    mutating func readFrom(_ node: Node) throws(SpecError) -> StageInput {
        if case .scalar = node { return StageInput(stage: try text(node, "from")) }
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "from", expected: "a stage name, or a mapping such as {stage: eval, top: 1}")
        }
        let fields = try mapping(map, at: Position(node.mark), keyPath: "from", allowed: ["stage", "top", "barrier", "validated"], context: "in from")
        guard let stage = fields["stage"] else {
            throw missing("stage", in: "from", at: Position(node.mark), hint: "the earlier stage that feeds this one, e.g. stage: train")
        }
        var input = StageInput(stage: try text(stage.value, "from.stage"))
        if let entry = fields["top"], !isNull(entry.value) { input.top = try integer(entry.value, "from.top") }
        if let entry = fields["barrier"], !isNull(entry.value) { input.barrier = try boolean(entry.value, "from.barrier") }
        if let entry = fields["validated"], !isNull(entry.value) { input.validated = try boolean(entry.value, "from.validated") }
        return input
    }

    /// `command:`: a list of arguments, or one line split into words as a shell would (without one).
    private mutating func readCommand(_ node: Node) throws(SpecError) -> CommandTemplate {
        marks["command"] = Position(node.mark)
        switch node {
        case .sequence(let sequence):
            var argv: [String] = []
            for (index, element) in sequence.enumerated() {
                let path = "command[\(index)]"
                marks[path] = Position(element.mark)
                switch element {
                case .scalar(let scalar) where !isNull(element):
                    argv.append(scalar.string)
                case .mapping(let map) where map.count == 1 && map.first.map({ isNull($0.value) }) == true:
                    let key = map.first?.key.scalar?.string ?? ""
                    throw error(.typeMismatch, at: Position(element.mark), path,
                                "found a mapping: in YAML an unquoted {\(key)} is a mapping, not text; quote it: \"{\(key)}\"")
                default:
                    throw typeMismatch(element, path, expected: "a string (each element is one argument)")
                }
            }
            if argv.isEmpty {
                throw error(.invalidValue, at: Position(node.mark), "command", "the command is empty; give the program and its arguments")
            }
            return CommandTemplate(argv: argv)
        case .scalar(let scalar) where !isNull(node):
            switch CampaignSpecParser.splitWords(scalar.string) {
            case .success(let words):
                return CommandTemplate(argv: words)
            case .failure(let failure):
                throw error(.invalidValue, at: Position(node.mark), "command", failure.message)
            }
        case .mapping(let map) where map.count == 1 && map.first.map({ isNull($0.value) }) == true:
            let key = map.first?.key.scalar?.string ?? ""
            throw error(.typeMismatch, at: Position(node.mark), "command",
                        "found a mapping: in YAML an unquoted {\(key)} is a mapping, not text; quote the command")
        default:
            throw typeMismatch(node, "command",
                               expected: "a list of arguments ([python3, train.py, --lr, \"{lr}\"]) or a command line string")
        }
    }
}
