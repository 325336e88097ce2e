import InternCore
import Yams

/// One parse of one spec: walks the composed YAML nodes, remembers where each key path is, and turns
/// every problem into a located ``SpecError``.
/// A 1-based line and column in the spec's text.
struct Position: Hashable {
    var line: Int
    var column: Int

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    init?(_ mark: Mark?) {
        guard let mark else { return nil }
        self.init(line: mark.line, column: mark.column)
    }
}

struct SpecReader {
    let file: String
    let yaml: String
    let baseDirectory: String
    /// Where each key path of the spec is (the value's node, or the key's for names).
    private var marks = Marks()
    private var rootMark = Position(line: 1, column: 1)

    /// Key paths by position, with the scope being read (`stages[1].`) put before every path
    /// read or written: the same readers serve the top level and each stage.
    struct Marks {
        var table: [String: Position] = [:]
        var scope = ""

        subscript(path: String) -> Position? {
            get { table[scope + path] }
            set { table[scope + path] = newValue }
        }
    }

    init(file: String, yaml: String, baseDirectory: String) {
        self.file = file
        self.yaml = yaml
        self.baseDirectory = baseDirectory
    }

    // MARK: - Errors

    func error(_ code: SpecError.Code, at mark: Position?, _ keyPath: String, _ message: String,
               suggestion: String? = nil) -> SpecError {
        let mark = mark ?? rootMark
        return SpecError(code: code, file: file, line: mark.line, column: mark.column, keyPath: marks.scope + keyPath,
                         message: message, suggestion: suggestion)
    }

    /// The mark of `keyPath`, or of its nearest recorded ancestor.
    func mark(of keyPath: String) -> Position {
        var path = Substring(keyPath)
        while !path.isEmpty {
            if let mark = marks.table[String(path)] { return mark }
            if path.hasSuffix("]"), let open = path.lastIndex(of: "[") {
                path = path[..<open]
            } else if let dot = path.lastIndex(of: ".") {
                path = path[..<dot]
            } else {
                break
            }
        }
        return rootMark
    }

    // MARK: - The document

    mutating func read() throws(SpecError) -> CampaignSpec {
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: yaml)
        } catch let yamlError as YamlError {
            throw convert(yamlError)
        } catch {
            throw self.error(.syntax, at: nil, "", "invalid YAML: \(error)")
        }
        guard let root = composed else {
            throw self.error(.syntax, at: nil, "",
                             "the document is empty; a campaign spec is a mapping with at least 'name', 'command' and usually 'space' (see docs/campaign.md)")
        }
        guard case .mapping(let top) = root else {
            throw self.error(.typeMismatch, at: Position(root.mark), "",
                             "the top level must be a mapping of keys (name:, command:, space:, ...), found \(describe(root))")
        }
        rootMark = Position(root.mark) ?? rootMark
        let entries = try mapping(top, at: Position(root.mark), keyPath: "", allowed: CampaignSpecParser.topLevelKeys,
                                  context: "at the top level")

        // name
        guard let nameNode = entries["name"] else {
            throw missing("name", in: "", at: Position(root.mark), hint: "the campaign's name, e.g. name: digits-sweep")
        }
        let name = try text(nameNode.value, "name")

        // workdir
        var workdir = baseDirectory
        if let entry = entries["workdir"] {
            let path = try text(entry.value, "workdir")
            if path.hasPrefix("~") {
                throw error(.invalidValue, at: Position(entry.value.mark), "workdir",
                            "'~' is not expanded; give an absolute path, or a path relative to the spec file's directory")
            }
            if path.isEmpty {
                throw error(.invalidValue, at: Position(entry.value.mark), "workdir",
                            "workdir is empty; give a path, or leave it out for the spec file's directory")
            }
            workdir = CampaignSpecParser.normalize(path.hasPrefix("/") ? path : baseDirectory + "/" + path)
        }

        // env
        var environment: [String: String] = [:]
        if let entry = entries["env"], !isNull(entry.value) {
            guard case .mapping(let map) = entry.value else {
                throw typeMismatch(entry.value, "env", expected: "a mapping of variable names to values, e.g. env: {OMP_NUM_THREADS: \"1\"}")
            }
            for (key, value) in map {
                let variable = try keyText(key, parent: "env")
                let path = "env.\(variable)"
                marks[path] = Position(key.mark)
                guard case .scalar(let scalar) = value, !isNull(value) else {
                    throw typeMismatch(value, path, expected: "a string value (write \"\" for an empty one)")
                }
                environment[variable] = scalar.string
            }
        }

        // The stage keys: at the top level for a campaign of one stage, in each of `stages:` for
        // a pipeline (whose stages take timeout, gpus, cpus and memory from the top level unless
        // they say otherwise).
        let defaults = try readStageKeys(entries, at: Position(root.mark), stage: nil, defaults: nil)
        var stages: [Stage] = []
        if let entry = entries["stages"], !isNull(entry.value) {
            if let stray = CampaignSpecParser.stageOnlyKeys.first(where: { entries[$0] != nil }) {
                throw error(.invalidValue, at: Position(entries[stray]!.key.mark), stray,
                            "with stages:, '\(stray)' belongs in a stage (the top level holds what all stages share: workdir, env, parallel, retries, budget, ...)")
            }
            guard case .sequence(let items) = entry.value, !items.isEmpty else {
                throw typeMismatch(entry.value, "stages", expected: "a list of stages, each a mapping with name, command and from (see docs/campaign.md, Pipelines)")
            }
            for (index, item) in items.enumerated() {
                marks["stages[\(index)]"] = Position(item.mark)
                guard case .mapping(let map) = item else {
                    throw typeMismatch(item, "stages[\(index)]", expected: "a mapping with name, command and (after the first) from")
                }
                marks.scope = "stages[\(index)]."
                let fields = try mapping(map, at: Position(item.mark), keyPath: "", allowed: CampaignSpecParser.stageKeys, context: "in a stage")
                guard let nameEntry = fields["name"] else {
                    throw missing("name", in: "", at: Position(item.mark), hint: "the stage's name, e.g. name: train")
                }
                var stage = try readStageKeys(fields, at: Position(item.mark), stage: index, defaults: defaults)
                stage.name = try text(nameEntry.value, "name")
                if let from = fields["from"], !isNull(from.value) {
                    if index == 0 {
                        throw error(.invalidValue, at: Position(from.key.mark), "from", "the first stage is fed by no other: leave 'from' out")
                    }
                    stage.input = try readFrom(from.value)
                }
                marks.scope = ""
                stages.append(stage)
            }
        } else {
            stages = [defaults]
        }

        // parallel, retries
        var parallel: Int?
        if let entry = entries["parallel"], !isNull(entry.value) {
            parallel = try integer(entry.value, "parallel")
        }
        var retries = 0
        if let entry = entries["retries"], !isNull(entry.value) {
            if case .mapping = entry.value {
                throw error(.typeMismatch, at: Position(entry.value.mark), "retries",
                            "expected an integer (the retries for unknown failures), found a mapping; retries by failure class go under 'retry:', e.g. retry: {oom: 1, infra: 3}")
            }
            retries = try integer(entry.value, "retries")
        }

        // retry, failures
        var failurePolicy = FailurePolicy()
        if let entry = entries["retry"], !isNull(entry.value) {
            try readRetry(entry.value, into: &failurePolicy)
        }
        if let entry = entries["failures"], !isNull(entry.value) {
            try readFailures(entry.value, into: &failurePolicy)
        }

        // budget
        var budget = Budget()
        if let entry = entries["budget"], !isNull(entry.value) {
            budget = try readBudget(entry.value)
        }

        // metrics
        var metricPrefix: String?
        if let entry = entries["metrics"], !isNull(entry.value) {
            guard case .mapping(let map) = entry.value else {
                throw typeMismatch(entry.value, "metrics", expected: "a mapping, e.g. metrics: {prefix: \"METRIC\"}")
            }
            let fields = try mapping(map, at: Position(entry.value.mark), keyPath: "metrics", allowed: ["prefix"], context: "in metrics")
            guard let prefix = fields["prefix"] else {
                throw missing("prefix", in: "metrics", at: Position(entry.value.mark),
                              hint: "the text that starts a metric line, e.g. prefix: \"METRIC\"")
            }
            metricPrefix = try text(prefix.value, "metrics.prefix")
        }

        let first = stages[0]
        let spec = CampaignSpec(
            name: name, command: first.command, workdir: workdir, environment: environment, space: first.space,
            sampler: first.sampler, trials: first.trials, parallel: parallel, objective: first.objective,
            timeoutSeconds: first.timeoutSeconds, retries: retries, metricPrefix: metricPrefix, failurePolicy: failurePolicy,
            gpus: first.gpus, cpus: first.cpus, memoryBytes: first.memoryBytes, pruning: first.pruning, budget: budget,
            constraints: first.constraints, extraObjectives: first.extraObjectives, outputs: first.outputs, resultFiles: first.resultFiles,
            stageName: stages.count > 1 ? first.name : nil, laterStages: Array(stages.dropFirst()))

        let located = spec.problems().enumerated().map { entry in
            // In a pipeline, the first stage's problems name its keys as if at the top level.
            var problem = entry.element
            let head = String(problem.keyPath.prefix { $0 != "." && $0 != "[" })
            if spec.isPipeline, CampaignSpecParser.stageOnlyKeys.contains(head) || ["timeout", "gpus", "cpus", "memory"].contains(head) {
                problem.keyPath = "stages[0]." + problem.keyPath
            }
            return (order: entry.offset, problem: problem, mark: mark(of: problem.keyPath))
        }
        if let first = located.min(by: { ($0.mark.line, $0.mark.column, $0.order) < ($1.mark.line, $1.mark.column, $1.order) }) {
            throw error(.invalidValue, at: first.mark, first.problem.keyPath, first.problem.message,
                        suggestion: first.problem.suggestion)
        }
        return spec
    }

    /// The keys that say what a stage runs and how it is judged, from `entries` (the top level,
    /// or one of `stages:`). `stage` is the stage's index in `stages:` (`nil`: the top level);
    /// a stage takes `defaults`' timeout and resources unless it gives its own.
    private mutating func readStageKeys(
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

        // space
        var space = ParameterSpace()
        if let entry = entries["space"], !isNull(entry.value) {
            marks["space"] = Position(entry.key.mark)
            space = try readSpace(entry.value)
        }

        // sampler
        var sampler = SamplerKind.random(seed: 0)
        if let entry = entries["sampler"] {
            sampler = try readSampler(entry.value)
        }

        // trials: the first stage's number, a later stage's number per input
        var trials = 1
        if let entry = entries["trials"] {
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

        return Stage(
            name: "", command: command, space: space, sampler: sampler, trials: trials, objective: objectives.first,
            extraObjectives: Array(objectives.dropFirst()), pruning: pruning, constraints: constraints, outputs: outputs,
            resultFiles: resultFiles, timeoutSeconds: timeout, gpus: gpus, cpus: cpus, memoryBytes: memoryBytes)
    }

    /// `from: train` (every completed trial, as it completes) or
    /// `from: {stage: train, top: 3, barrier: true}`.
    private mutating func readFrom(_ node: Node) throws(SpecError) -> StageInput {
        if case .scalar = node { return StageInput(stage: try text(node, "from")) }
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "from", expected: "a stage name, or a mapping such as {stage: eval, top: 1}")
        }
        let fields = try mapping(map, at: Position(node.mark), keyPath: "from", allowed: ["stage", "top", "barrier"], context: "in from")
        guard let stage = fields["stage"] else {
            throw missing("stage", in: "from", at: Position(node.mark), hint: "the earlier stage that feeds this one, e.g. stage: train")
        }
        var input = StageInput(stage: try text(stage.value, "from.stage"))
        if let entry = fields["top"], !isNull(entry.value) { input.top = try integer(entry.value, "from.top") }
        if let entry = fields["barrier"], !isNull(entry.value) { input.barrier = try boolean(entry.value, "from.barrier") }
        return input
    }

    // MARK: - Sections

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

    private mutating func readSpace(_ node: Node) throws(SpecError) -> ParameterSpace {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "space", expected: "a mapping of parameter names to definitions, e.g. lr: {type: loguniform, low: 1.0e-4, high: 0.1}")
        }
        var parameters: [Parameter] = []
        for (key, value) in map {
            let name = try keyText(key, parent: "space")
            let path = "space.\(name)"
            marks[path] = Position(key.mark)
            parameters.append(Parameter(name: name, domain: try readDomain(value, path), condition: try readCondition(value, path)))
        }
        return ParameterSpace(parameters)
    }

    /// `when: {optimizer: sgd}` or `when: {optimizer: [sgd, momentum]}` on a parameter's mapping.
    private mutating func readCondition(_ node: Node, _ path: String) throws(SpecError) -> Parameter.Condition? {
        guard case .mapping(let map) = node, let entry = map.first(where: { $0.key.scalar?.string == "when" }) else { return nil }
        marks["\(path).when"] = Position(entry.key.mark)
        guard case .mapping(let condition) = entry.value, condition.count == 1, let (key, value) = condition.first else {
            throw typeMismatch(entry.value, "\(path).when", expected: "one parameter and its value(s), e.g. when: {optimizer: sgd}")
        }
        let parent = try keyText(key, parent: "\(path).when")
        let values: [ParameterValue]
        if case .sequence(let sequence) = value {
            values = try choiceValues(sequence, at: Position(value.mark), "\(path).when.\(parent)")
        } else {
            values = [try choiceValue(value, "\(path).when.\(parent)")]
        }
        return Parameter.Condition(parameter: parent, values: values)
    }

    private static let domainKeys: [String: [String]] = [
        "choice": ["type", "values", "when"],
        "uniform": ["type", "low", "high", "when"],
        "loguniform": ["type", "low", "high", "when"],
        "int": ["type", "low", "high", "step", "log", "when"],
    ]
    private static let domainTypes = ["choice", "uniform", "loguniform", "int"]

    private mutating func readDomain(_ node: Node, _ path: String) throws(SpecError) -> Parameter.Domain {
        switch node {
        case .sequence(let sequence):
            return .choice(try choiceValues(sequence, at: Position(node.mark), "\(path).values"))
        case .scalar:
            if isNull(node) {
                throw typeMismatch(node, path, expected: "a definition such as {type: uniform, low: 0, high: 1}, a list of values, or one fixed value")
            }
            marks["\(path).values"] = Position(node.mark)
            marks["\(path).values[0]"] = Position(node.mark)
            return .choice([try choiceValue(node, "\(path).values[0]")])
        case .mapping(let map):
            guard let typePair = map.first(where: { $0.key.scalar?.string == "type" }) else {
                let keys = map.compactMap { $0.key.scalar?.string }
                let hint = keys.contains("values") ? " (type: choice for a list of values)" : ""
                throw missing("type", in: path, at: Position(node.mark),
                              hint: "one of \(Self.domainTypes.joined(separator: ", "))\(hint)")
            }
            let type = try text(typePair.value, "\(path).type")
            guard let allowed = Self.domainKeys[type] else {
                let suggestion = NameSuggestion.closest(to: type, among: Self.domainTypes)
                var message = "unknown parameter type '\(type)'"
                if let suggestion { message += "; did you mean '\(suggestion)'?" }
                message += " (valid types: \(Self.domainTypes.joined(separator: ", ")))"
                throw error(.invalidValue, at: Position(typePair.value.mark), "\(path).type", message, suggestion: suggestion)
            }
            let fields = try mapping(map, at: Position(node.mark), keyPath: path, allowed: allowed, context: "in a \(type) parameter")
            func required(_ key: String, _ hint: String) throws(SpecError) -> Node {
                guard let entry = fields[key] else { throw missing(key, in: path, at: Position(node.mark), hint: hint) }
                return entry.value
            }
            switch type {
            case "choice":
                let valuesNode = try required("values", "the list of values to choose from, e.g. values: [32, 64, 128]")
                guard case .sequence(let sequence) = valuesNode else {
                    throw typeMismatch(valuesNode, "\(path).values", expected: "a list of values, e.g. [32, 64, 128]")
                }
                return .choice(try choiceValues(sequence, at: Position(valuesNode.mark), "\(path).values"))
            case "uniform", "loguniform":
                let low = try number(try required("low", "the smallest value, e.g. low: 0.0"), "\(path).low")
                let high = try number(try required("high", "the largest value, e.g. high: 1.0"), "\(path).high")
                return type == "uniform" ? .uniform(low: low, high: high) : .logUniform(low: low, high: high)
            default: // int
                let low = try integer(try required("low", "the smallest integer, e.g. low: 1"), "\(path).low")
                let high = try integer(try required("high", "the largest integer, e.g. high: 10"), "\(path).high")
                var step = 1
                if let entry = fields["step"] { step = try integer(entry.value, "\(path).step") }
                var log = false
                if let entry = fields["log"] { log = try boolean(entry.value, "\(path).log") }
                return .integer(low: low, high: high, step: step, log: log)
            }
        case .alias:
            throw typeMismatch(node, path, expected: "a parameter definition")
        }
    }

    private mutating func choiceValues(_ sequence: Node.Sequence, at mark: Position?, _ path: String) throws(SpecError) -> [ParameterValue] {
        marks[path] = mark
        if sequence.isEmpty {
            throw error(.invalidValue, at: mark, path, "a choice needs at least one value, e.g. [32, 64, 128]")
        }
        var values: [ParameterValue] = []
        for (index, element) in sequence.enumerated() {
            let elementPath = "\(path)[\(index)]"
            marks[elementPath] = Position(element.mark)
            values.append(try choiceValue(element, elementPath))
        }
        return values
    }

    private func choiceValue(_ node: Node, _ path: String) throws(SpecError) -> ParameterValue {
        guard case .scalar(let scalar) = node else {
            throw typeMismatch(node, path, expected: "a number, a string or a boolean")
        }
        switch classify(scalar) {
        case .null:
            throw error(.typeMismatch, at: Position(node.mark), path,
                        "null is not a value; quote it (\"null\") for the string, or remove it")
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .float(let value): return .double(value)
        case .string(let value): return .string(value)
        case .bigInteger(let text):
            throw error(.invalidValue, at: Position(node.mark), path, "\(text) does not fit in a 64-bit integer; quote it for a string")
        }
    }

    private mutating func readSampler(_ node: Node) throws(SpecError) -> SamplerKind {
        marks["sampler"] = Position(node.mark)
        let kinds = ["random", "grid", "tpe"]
        func kind(_ name: String, _ node: Node, _ path: String) throws(SpecError) -> String {
            guard kinds.contains(name) else {
                let suggestion = NameSuggestion.closest(to: name, among: kinds)
                var message = "unknown sampler '\(name)'"
                if let suggestion { message += "; did you mean '\(suggestion)'?" }
                throw error(.invalidValue, at: Position(node.mark), path, message + " (valid: random, grid, tpe)", suggestion: suggestion)
            }
            return name
        }
        switch node {
        case .scalar(let scalar) where !isNull(node):
            switch try kind(scalar.string, node, "sampler") {
            case "grid": return .grid
            case "tpe": return .tpe(seed: 0, startup: 10)
            default: return .random(seed: 0)
            }
        case .mapping(let map):
            let fields = try mapping(map, at: Position(node.mark), keyPath: "sampler", allowed: ["type", "seed", "startup"], context: "in sampler")
            guard let typeEntry = fields["type"] else {
                throw missing("type", in: "sampler", at: Position(node.mark), hint: "random, grid or tpe")
            }
            let name = try kind(try text(typeEntry.value, "sampler.type"), typeEntry.value, "sampler.type")
            if name == "grid" {
                if let seed = fields["seed"] {
                    throw error(.invalidValue, at: Position(seed.key.mark), "sampler.seed",
                                "a grid is not random and takes no seed; remove seed, or use type: random")
                }
                return .grid
            }
            if name != "tpe", let startup = fields["startup"] {
                throw error(.invalidValue, at: Position(startup.key.mark), "sampler.startup",
                            "startup (random trials before the Bayesian sampler) is for type: tpe")
            }
            let seed = try fields["seed"].map { entry throws(SpecError) in try readSeed(entry.value) } ?? 0
            guard name == "tpe" else { return .random(seed: seed) }
            let startup = try fields["startup"].map { entry throws(SpecError) in try integer(entry.value, "sampler.startup") } ?? 10
            return .tpe(seed: seed, startup: startup)
        default:
            throw typeMismatch(node, "sampler", expected: "random, grid, tpe, or a mapping such as {type: tpe, seed: 7}")
        }
    }

    private mutating func readSeed(_ seedNode: Node) throws(SpecError) -> UInt64 {
        guard case .scalar(let scalar) = seedNode, !isNull(seedNode) else {
            throw typeMismatch(seedNode, "sampler.seed", expected: "an integer from 0 to \(UInt64.max)")
        }
        let raw = scalar.string.replacingOccurrences(of: "_", with: "")
        if let seed = UInt64(raw) { return seed }
        switch classify(scalar) {
        case .int(let value) where value >= 0: return UInt64(value)
        case .int, .bigInteger:
            throw error(.invalidValue, at: Position(seedNode.mark), "sampler.seed", "the seed must be an integer from 0 to \(UInt64.max), got \(scalar.string)")
        default:
            throw typeMismatch(seedNode, "sampler.seed", expected: "an integer from 0 to \(UInt64.max)")
        }
    }


    private mutating func readObjective(_ node: Node, _ path: String = "objective") throws(SpecError) -> Objective {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, path, expected: "a mapping such as {metric: eval_accuracy, direction: maximize}")
        }
        marks[path] = Position(node.mark)
        let fields = try mapping(map, at: Position(node.mark), keyPath: path, allowed: ["metric", "direction", "summary"], context: "in \(path)")
        guard let metric = fields["metric"] else {
            throw missing("metric", in: path, at: Position(node.mark), hint: "the name of the metric to optimize, e.g. metric: eval_accuracy")
        }
        guard let directionEntry = fields["direction"] else {
            throw missing("direction", in: path, at: Position(node.mark), hint: "minimize or maximize")
        }
        let metricName = try text(metric.value, "\(path).metric")
        let direction = try readDirection(directionEntry.value, "\(path).direction")
        var summary = Objective.Summary.last
        if let entry = fields["summary"] {
            let summaryText = try text(entry.value, "\(path).summary")
            guard let value = Objective.Summary(rawValue: summaryText) else {
                throw invalidChoice(summaryText, entry.value, "\(path).summary", ["last", "best"])
            }
            summary = value
        }
        return Objective(metric: metricName, direction: direction, summary: summary)
    }

    /// `minimize` (or `min`) or `maximize` (or `max`).
    private mutating func readDirection(_ node: Node, _ path: String) throws(SpecError) -> Objective.Direction {
        let value = try text(node, path)
        switch value {
        case "minimize", "min": return .minimize
        case "maximize", "max": return .maximize
        default: throw invalidChoice(value, node, path, ["minimize", "maximize"])
        }
    }

    private mutating func readBudget(_ node: Node) throws(SpecError) -> Budget {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "budget", expected: "a mapping such as {hours: 72, gpu_hours: 500, on_exhausted: finish}")
        }
        marks["budget"] = Position(node.mark)
        let fields = try mapping(map, at: Position(node.mark), keyPath: "budget", allowed: ["hours", "gpu_hours", "on_exhausted"], context: "in budget")
        var budget = Budget()
        if let entry = fields["hours"] { budget.hours = try number(entry.value, "budget.hours") }
        if let entry = fields["gpu_hours"] { budget.gpuHours = try number(entry.value, "budget.gpu_hours") }
        if let entry = fields["on_exhausted"] {
            let value = try text(entry.value, "budget.on_exhausted")
            guard let policy = Budget.Exhausted(rawValue: value) else {
                throw invalidChoice(value, entry.value, "budget.on_exhausted", Budget.Exhausted.allCases.map(\.rawValue))
            }
            budget.onExhausted = policy
        }
        return budget
    }

    private mutating func readPruning(_ node: Node, objective: Objective?) throws(SpecError) -> PruningPolicy {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "pruning", expected: "a mapping such as {rule: asha, metric: eval_loss, min_step: 1, reduction: 3}")
        }
        marks["pruning"] = Position(node.mark)
        let fields = try mapping(
            map, at: Position(node.mark), keyPath: "pruning", allowed: ["rule", "metric", "direction", "min_step", "reduction", "min_trials"],
            context: "in pruning")
        guard let ruleEntry = fields["rule"] else {
            throw missing("rule", in: "pruning", at: Position(node.mark), hint: "asha or median")
        }
        let ruleText = try text(ruleEntry.value, "pruning.rule")
        guard let rule = PruningPolicy.Rule(rawValue: ruleText) else {
            throw invalidChoice(ruleText, ruleEntry.value, "pruning.rule", PruningPolicy.Rule.allCases.map(\.rawValue))
        }
        var metric = objective?.metric
        if let entry = fields["metric"] { metric = try text(entry.value, "pruning.metric") }
        guard let metric else {
            throw missing("metric", in: "pruning", at: Position(node.mark), hint: "the intermediate metric to judge trials by, e.g. metric: eval_loss (default: the objective's)")
        }
        var direction = objective?.direction
        if let entry = fields["direction"] { direction = try readDirection(entry.value, "pruning.direction") }
        guard let direction else {
            throw missing("direction", in: "pruning", at: Position(node.mark), hint: "minimize or maximize (default: the objective's)")
        }
        var policy = PruningPolicy(rule: rule, metric: metric, direction: direction)
        if let entry = fields["min_step"] { policy.minStep = try integer(entry.value, "pruning.min_step") }
        if let entry = fields["reduction"] { policy.reduction = try integer(entry.value, "pruning.reduction") }
        if let entry = fields["min_trials"] { policy.minTrials = try integer(entry.value, "pruning.min_trials") }
        return policy
    }

    private mutating func readRetry(_ node: Node, into policy: inout FailurePolicy) throws(SpecError) {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "retry", expected: "a mapping of failure classes to retries, e.g. retry: {oom: 1, infra: 3}")
        }
        if let unknown = map.first(where: { $0.key.scalar?.string == "unknown" }) {
            throw error(.unknownKey, at: Position(unknown.key.mark), "retry.unknown",
                        "the retries for unknown failures are the top-level 'retries' (retries: 1), not retry.unknown")
        }
        let fields = try mapping(map, at: Position(node.mark), keyPath: "retry", allowed: CampaignSpecParser.retryKeys,
                                 context: "in retry")
        for failureClass in FailureClass.allCases {
            guard let entry = fields[failureClass.rawValue] else { continue }
            policy.retries[failureClass] = try integer(entry.value, "retry.\(failureClass)")
        }
        if let entry = fields["per_trial"], !isNull(entry.value) {
            policy.maxRetriesPerTrial = try integer(entry.value, "retry.per_trial")
        }
        if let entry = fields["campaign"], !isNull(entry.value) {
            policy.campaignRetryBudget = try integer(entry.value, "retry.campaign")
        }
        if let entry = fields["backoff"] {
            policy.backoffSeconds = try readDuration(entry.value, "retry.backoff")
        }
    }

    private mutating func readFailures(_ node: Node, into policy: inout FailurePolicy) throws(SpecError) {
        guard case .mapping(let map) = node else {
            throw typeMismatch(node, "failures", expected: "a mapping, e.g. failures: {infra_patterns: [\"NCCL WARN\"], circuit_breaker: 3}")
        }
        let fields = try mapping(map, at: Position(node.mark), keyPath: "failures", allowed: CampaignSpecParser.failuresKeys,
                                 context: "in failures")
        if let entry = fields["infra_patterns"], !isNull(entry.value) {
            policy.infraPatterns = try patterns(entry.value, "failures.infra_patterns")
        }
        if let entry = fields["user_patterns"], !isNull(entry.value) {
            policy.userPatterns = try patterns(entry.value, "failures.user_patterns")
        }
        if let entry = fields["circuit_breaker"] {
            policy.circuitBreakerTrials = try integer(entry.value, "failures.circuit_breaker")
        }
        if let entry = fields["quarantine_after"] {
            policy.quarantineAfter = try integer(entry.value, "failures.quarantine_after")
        }
    }

    /// A list of strings (each element any non-null scalar, as written).
    private mutating func patterns(_ node: Node, _ path: String) throws(SpecError) -> [String] {
        guard case .sequence(let sequence) = node else {
            throw typeMismatch(node, path, expected: "a list of strings, e.g. [\"NCCL WARN\", \"slurmstepd: error\"]")
        }
        var patterns: [String] = []
        for (index, element) in sequence.enumerated() {
            let elementPath = "\(path)[\(index)]"
            marks[elementPath] = Position(element.mark)
            patterns.append(try text(element, elementPath))
        }
        return patterns
    }

    private mutating func readDuration(_ node: Node, _ path: String) throws(SpecError) -> Double {
        marks[path] = Position(node.mark)
        guard case .scalar(let scalar) = node else {
            throw typeMismatch(node, path, expected: "a number of seconds or a duration such as 90s, 10m, 2h, 1h30m")
        }
        switch classify(scalar) {
        case .int(let value): return Double(value)
        case .float(let value): return value
        case .string(let text):
            guard let seconds = CampaignSpecParser.parseDuration(text) else {
                throw error(.invalidValue, at: Position(node.mark), path,
                            "'\(text)' is not a duration; give seconds (600) or a number with units d, h, m, s, ms (90s, 10m, 2h, 1h30m)")
            }
            return seconds
        default:
            throw typeMismatch(node, path, expected: "a number of seconds or a duration such as 90s, 10m, 2h, 1h30m")
        }
    }

    private mutating func readSize(_ node: Node, _ path: String) throws(SpecError) -> Int {
        marks[path] = Position(node.mark)
        guard case .scalar(let scalar) = node else {
            throw typeMismatch(node, path, expected: "a size such as 16GiB, 512MiB or a number of bytes")
        }
        switch classify(scalar) {
        case .int(let value) where value >= 0: return value
        case .string(let text):
            guard let bytes = ByteSize.parse(text) else {
                throw error(.invalidValue, at: Position(node.mark), path,
                            "'\(text)' is not a size; give bytes (1000000) or a number with a unit: Ki, Mi, Gi, Ti (or KiB…, powers of 1024), K, M, G, T (powers of 1000), e.g. 16GiB")
            }
            return bytes
        default:
            throw typeMismatch(node, path, expected: "a size such as 16GiB, 512MiB or a number of bytes")
        }
    }

    // MARK: - Mappings and scalars

    /// The entries of a mapping by key, after checking that every key is a known scalar and recording marks.
    private mutating func mapping(_ map: Node.Mapping, at mark: Position?, keyPath: String, allowed: [String],
                                  context: String) throws(SpecError) -> [String: (key: Node, value: Node)] {
        var entries: [String: (key: Node, value: Node)] = [:]
        for (key, value) in map {
            let name = try keyText(key, parent: keyPath)
            let path = keyPath.isEmpty ? name : "\(keyPath).\(name)"
            guard allowed.contains(name) else {
                let suggestion = NameSuggestion.closest(to: name, among: allowed)
                var message = "unknown key '\(name)' \(context)"
                if let suggestion { message += "; did you mean '\(suggestion)'?" }
                message += " (valid keys: \(allowed.joined(separator: ", ")))"
                throw error(.unknownKey, at: Position(key.mark), path, message, suggestion: suggestion)
            }
            marks[path] = Position(value.mark)
            entries[name] = (key, value)
        }
        return entries
    }

    private func keyText(_ key: Node, parent: String) throws(SpecError) -> String {
        guard case .scalar(let scalar) = key, !isNull(key) else {
            throw error(.typeMismatch, at: Position(key.mark), parent, "a key must be a plain name, found \(describe(key))")
        }
        return scalar.string
    }

    enum Scalar {
        case null
        case bool(Bool)
        case int(Int)
        case bigInteger(String)
        case float(Double)
        case string(String)
    }

    /// What a scalar is after YAML's tag resolution (quoted scalars are always strings).
    func classify(_ scalar: Node.Scalar) -> Scalar {
        let node = Node.scalar(scalar)
        switch node.tag.rawValue {
        case Tag.Name.null.rawValue:
            return .null
        case Tag.Name.bool.rawValue:
            return node.bool.map(Scalar.bool) ?? .string(scalar.string)
        case Tag.Name.int.rawValue:
            return node.int.map(Scalar.int) ?? .bigInteger(scalar.string)
        case Tag.Name.float.rawValue:
            return node.float.map(Scalar.float) ?? .string(scalar.string)
        default:
            return .string(scalar.string)
        }
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        if case .null = classify(scalar) { return true }
        return false
    }

    /// Any non-null scalar, as written.
    private func text(_ node: Node, _ path: String) throws(SpecError) -> String {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            throw typeMismatch(node, path, expected: "a string")
        }
        return scalar.string
    }

    /// An integer, or a string of one.
    private func integer(_ node: Node, _ path: String) throws(SpecError) -> Int {
        guard case .scalar(let scalar) = node else { throw typeMismatch(node, path, expected: "an integer") }
        switch classify(scalar) {
        case .int(let value):
            return value
        case .bigInteger(let text):
            throw error(.invalidValue, at: Position(node.mark), path, "\(text) does not fit in a 64-bit integer")
        case .float(let value):
            throw error(.typeMismatch, at: Position(node.mark), path, "expected an integer, found the number \(value)")
        case .string(let text):
            if let value = Int(text.trimmingCharacters(in: .whitespaces)) { return value }
            throw error(.typeMismatch, at: Position(node.mark), path, "expected an integer, found the string '\(text)'")
        case .null, .bool:
            throw typeMismatch(node, path, expected: "an integer")
        }
    }

    /// A finite number, or a string of one (`"1e-4"`).
    private func number(_ node: Node, _ path: String) throws(SpecError) -> Double {
        guard case .scalar(let scalar) = node else { throw typeMismatch(node, path, expected: "a number") }
        let value: Double
        switch classify(scalar) {
        case .int(let integer): value = Double(integer)
        case .bigInteger(let text): value = Double(text.replacingOccurrences(of: "_", with: "")) ?? .nan
        case .float(let float): value = float
        case .string(let text):
            guard let parsed = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw error(.typeMismatch, at: Position(node.mark), path, "expected a number, found the string '\(text)'")
            }
            value = parsed
        case .null, .bool:
            throw typeMismatch(node, path, expected: "a number")
        }
        guard value.isFinite else {
            throw error(.invalidValue, at: Position(node.mark), path, "expected a finite number, found \(scalar.string)")
        }
        return value
    }

    private func boolean(_ node: Node, _ path: String) throws(SpecError) -> Bool {
        if case .scalar(let scalar) = node, case .bool(let value) = classify(scalar) { return value }
        throw typeMismatch(node, path, expected: "true or false")
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch classify(scalar) {
            case .null: return "null"
            case .bool(let value): return "the boolean \(value)"
            case .int, .bigInteger, .float: return "the number \(scalar.string)"
            case .string(let text): return "the string '\(text)'"
            }
        }
    }

    private func typeMismatch(_ node: Node, _ path: String, expected: String) -> SpecError {
        error(.typeMismatch, at: Position(node.mark), path, "expected \(expected), found \(describe(node))")
    }

    private func missing(_ key: String, in parent: String, at mark: Position?, hint: String) -> SpecError {
        let place = parent.isEmpty ? "the spec" : parent
        return error(.missingKey, at: mark, parent.isEmpty ? key : "\(parent).\(key)",
                     "missing key '\(key)' in \(place): \(hint)")
    }

    private func invalidChoice(_ value: String, _ node: Node, _ path: String, _ valid: [String]) -> SpecError {
        let suggestion = NameSuggestion.closest(to: value, among: valid)
        var message = "'\(value)' is not valid"
        if let suggestion { message += "; did you mean '\(suggestion)'?" }
        message += " (valid: \(valid.joined(separator: ", ")))"
        return error(.invalidValue, at: Position(node.mark), path, message, suggestion: suggestion)
    }

    // MARK: - YAML errors

    func convert(_ yamlError: YamlError) -> SpecError {
        func located(_ mark: Position, _ problem: String, _ context: YamlError.Context?) -> SpecError {
            var message = "invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return error(.syntax, at: mark, "", message)
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return located(Position(line: mark.line, column: mark.column), problem, context)
        case .reader(let problem, let offset, _, _):
            var mark = Position(line: 1, column: 1)
            if let offset {
                let prefix = yaml.prefix(offset)
                let line = prefix.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                let column = prefix.count - (prefix.lastIndex(of: "\n").map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0) + 1
                mark = Position(line: line, column: column)
            }
            return error(.syntax, at: mark, "", "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = Position(line: context.mark.line, column: context.mark.column)
            if let second = secondOccurrence(of: key, after: first) {
                return error(.syntax, at: second, "",
                             "duplicate key '\(key)' (first at line \(first.line)); a key may appear only once in a mapping")
            }
            return error(.syntax, at: first, "", "duplicate key '\(key)'; a key may appear only once in a mapping")
        default:
            return error(.syntax, at: nil, "", "invalid YAML: \(yamlError)")
        }
    }

    /// Where a repeated block-mapping key occurs again below its first occurrence at `first`, if it can be
    /// found textually (same column, same mapping); flow mappings are not searched.
    private func secondOccurrence(of key: String, after first: Position) -> Position? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let column = first.column - 1
        for index in first.line..<lines.count {
            let line = Array(lines[index].unicodeScalars)
            let content = line.drop { $0 == " " }
            if content.isEmpty || content.first == "#" { continue }
            let indent = line.count - content.count
            if indent < column {
                // A less indented line ends the mapping, unless it is a "- " that puts this key on the column.
                let prefix = String(String.UnicodeScalarView(line.prefix(column)))
                if prefix.trimmingCharacters(in: .whitespaces) != "-" { return nil }
            } else if indent > column {
                continue
            }
            let rest = String(String.UnicodeScalarView(line.dropFirst(column)))
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate) {
                let after = rest.dropFirst(candidate.count).drop { $0 == " " }
                if after.first == ":" { return Position(line: index + 1, column: first.column) }
            }
        }
        return nil
    }
}
