import InternCore
import Yams

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

/// One parse of one spec: walks the composed YAML nodes, remembers where each key path is, and turns
/// every problem into a located ``SpecError``. `read()` reads the document; the sections it is made of
/// are read in the extensions beside this file (`+Stages`, `+Space`, `+Objectives`, `+Policies`), on top
/// of the readers of mappings and scalars (`+Values`); YAML's own errors are located in `+YAMLErrors`.
struct SpecReader {
    /// The file name that errors give.
    let file: String
    /// The spec's text.
    let yaml: String
    /// The directory a relative `workdir` is resolved against, and the default `workdir`.
    let baseDirectory: String
    /// A map stage's items as the campaign's store keeps them (resolved when it was created):
    /// used instead of resolving `map.over` again, so a resumed campaign maps over the same list.
    var storedItems: [String]?
    /// Where each key path of the spec is (the value's node, or the key's for names).
    var marks = Marks()
    /// The root node's place (1:1 until the document is composed): where an error that has no
    /// node of its own is reported.
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

    /// A located error: at `mark` (the document's start when nil), with the scope being read put
    /// before `keyPath`.
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

    /// A type mismatch at `node`: what was `expected`, and what was found.
    func typeMismatch(_ node: Node, _ path: String, expected: String) -> SpecError {
        error(.typeMismatch, at: Position(node.mark), path, "expected \(expected), found \(describe(node))")
    }

    /// A key missing from `parent` (at `mark`), with a `hint` of what to write.
    func missing(_ key: String, in parent: String, at mark: Position?, hint: String) -> SpecError {
        let place = parent.isEmpty ? "the spec" : parent
        return error(.missingKey, at: mark, parent.isEmpty ? key : "\(parent).\(key)",
                     "missing key '\(key)' in \(place): \(hint)")
    }

    /// A value that is none of `valid`, with the nearest valid one as a suggestion.
    func invalidChoice(_ value: String, _ node: Node, _ path: String, _ valid: [String]) -> SpecError {
        let suggestion = NameSuggestion.closest(to: value, among: valid)
        var message = "'\(value)' is not valid"
        if let suggestion { message += "; did you mean '\(suggestion)'?" }
        message += " (valid: \(valid.joined(separator: ", ")))"
        return error(.invalidValue, at: Position(node.mark), path, message, suggestion: suggestion)
    }

    // MARK: - The document

    /// The campaign the document describes. Throws the first problem found: a YAML error, a key or
    /// value that is wrong where it stands, or else the problem of the spec's own checks
    /// (`CampaignSpec.problems()`) that stands nearest the top of the file.
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
                if let reduce = fields["reduce"], !isNull(reduce.value), try boolean(reduce.value, "reduce") {
                    guard index > 0, stage.input != nil else {
                        throw error(.invalidValue, at: Position(reduce.key.mark), "reduce",
                                    "a reduce stage merges an earlier map stage's trials: give it from: and put it after that stage")
                    }
                    stage.input?.reduce = true
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

        // agent
        var agentPolicy = AgentPolicy()
        if let entry = entries["agent"], !isNull(entry.value) {
            agentPolicy = try readAgentPolicy(entry.value)
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

        // totals
        var totals: [String] = []
        if let entry = entries["totals"], !isNull(entry.value) {
            guard case .sequence(let items) = entry.value else {
                throw typeMismatch(entry.value, "totals", expected: "a list of counter metrics to sum, e.g. [rows_in, rows_kept, \"dropped/*\"]")
            }
            for (index, item) in items.enumerated() {
                marks["totals[\(index)]"] = Position(item.mark)
                totals.append(try text(item, "totals[\(index)]"))
            }
        }

        let first = stages[0]
        var spec = CampaignSpec(
            name: name, command: first.command, workdir: workdir, environment: environment, space: first.space,
            sampler: first.sampler, trials: first.trials, parallel: parallel, objective: first.objective,
            timeoutSeconds: first.timeoutSeconds, retries: retries, metricPrefix: metricPrefix, failurePolicy: failurePolicy,
            gpus: first.gpus, cpus: first.cpus, memoryBytes: first.memoryBytes, pruning: first.pruning, budget: budget,
            constraints: first.constraints, extraObjectives: first.extraObjectives, outputs: first.outputs, resultFiles: first.resultFiles,
            stageName: stages.count > 1 ? first.name : nil, laterStages: Array(stages.dropFirst()))
        spec.agentPolicy = agentPolicy
        spec.validation = first.validation
        spec.baseline = first.baseline
        spec.map = first.map
        spec.totals = totals

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
}
