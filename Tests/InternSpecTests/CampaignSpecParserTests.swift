import Foundation
import InternCore
import InternSpec
import Testing

@Suite("Campaign spec parser")
struct CampaignSpecParserTests {
    static let example = """
        name: digits-sweep
        command: [python3, train.py, --lr, "{learning_rate}", --hidden, "{hidden_size}", --epochs, "{epochs}"]
        workdir: .            # relative to this file
        env: {OMP_NUM_THREADS: "1"}
        space:
          learning_rate: {type: loguniform, low: 1.0e-4, high: 0.3}
          hidden_size: {type: choice, values: [32, 64, 128]}
          weight_decay: {type: uniform, low: 0.0, high: 0.001}
          epochs: {type: int, low: 5, high: 30}          # optional step, log
          optimizer: [sgd, adam]                          # shorthand for choice
        sampler: random        # or grid; or {type: random, seed: 7}; default random with seed 0
        trials: 24
        parallel: 4
        objective: {metric: eval_accuracy, direction: maximize}   # optional summary: last|best
        timeout: 10m           # number of seconds or a duration string: 90s, 10m, 2h, 1h30m
        retries: 0
        metrics: {prefix: "METRIC"}   # optional
        """

    static func parse(_ yaml: String, base: String = "/home/u/exp") throws(SpecError) -> CampaignSpec {
        try CampaignSpecParser.parse(yaml: yaml, file: "campaign.yaml", baseDirectory: base)
    }

    /// The error a document gives (recording an issue if it parses).
    static func failure(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> SpecError? {
        do {
            let spec = try parse(yaml)
            Issue.record("expected an error, parsed \(spec)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// A minimal valid spec with `extra` lines appended.
    static func minimal(_ extra: String) -> String {
        "name: x\ncommand: [run]\ntrials: 2\n" + extra
    }

    // MARK: - Valid specs

    @Test func theFullExampleParses() throws {
        let spec = try Self.parse(Self.example)
        let expected = CampaignSpec(
            name: "digits-sweep",
            command: CommandTemplate(argv: ["python3", "train.py", "--lr", "{learning_rate}", "--hidden", "{hidden_size}", "--epochs", "{epochs}"]),
            workdir: "/home/u/exp",
            environment: ["OMP_NUM_THREADS": "1"],
            space: [
                Parameter(name: "learning_rate", domain: .logUniform(low: 1e-4, high: 0.3)),
                Parameter(name: "hidden_size", domain: .choice([.int(32), .int(64), .int(128)])),
                Parameter(name: "weight_decay", domain: .uniform(low: 0, high: 0.001)),
                Parameter(name: "epochs", domain: .integer(low: 5, high: 30, step: 1, log: false)),
                Parameter(name: "optimizer", domain: .choice([.string("sgd"), .string("adam")])),
            ],
            sampler: .random(seed: 0),
            trials: 24,
            parallel: 4,
            objective: Objective(metric: "eval_accuracy", direction: .maximize, summary: .last),
            timeoutSeconds: 600,
            retries: 0,
            metricPrefix: "METRIC")
        #expect(spec == expected)
        // And it samples.
        let sampler = try Sampler(spec: spec)
        #expect(spec.space.contains(sampler.parameters(forTrial: 23)))
    }

    @Test func docsExampleParses() throws {
        // docs/campaign.md's full example, kept in step with this test.
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/campaign.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let start = try #require(text.range(of: "```yaml\n"))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let spec = try Self.parse(String(text[start.upperBound..<end.lowerBound]))
        #expect(spec.name == "digits-sweep")
        #expect(spec.space.names == ["learning_rate", "hidden_size", "weight_decay", "epochs", "optimizer"])
    }

    @Test func gridDefaultsTrialsToTheGridSize() throws {
        let spec = try Self.parse("""
            name: g
            command: [run, "{a}", "{b}"]
            sampler: grid
            space:
              a: [1, 2, 3]
              b: {type: int, low: 0, high: 10, step: 5}
            """)
        #expect(spec.sampler == .grid)
        #expect(spec.trials == 9)
    }

    @Test func samplerForms() throws {
        #expect(try Self.parse(Self.minimal("sampler: {type: random, seed: 7}\n")).sampler == .random(seed: 7))
        #expect(try Self.parse(Self.minimal("sampler: {type: random}\n")).sampler == .random(seed: 0))
        #expect(try Self.parse(Self.minimal("sampler: {type: random, seed: 18446744073709551615}\n")).sampler
            == .random(seed: .max))
        #expect(try Self.parse(Self.minimal("")).sampler == .random(seed: 0))
        #expect(try Self.parse("name: x\ncommand: [run]\nsampler: {type: grid}\nspace: {a: [1, 2]}\n").sampler == .grid)
    }

    @Test func commandForms() throws {
        let split = try Self.parse("""
            name: x
            command: python3 train.py --name "my run" --lr {lr} 'a b' it\\'s
            space: {lr: [0.1]}
            trials: 1
            """)
        #expect(split.command == CommandTemplate(argv: ["python3", "train.py", "--name", "my run", "--lr", "{lr}", "a b", "it's"]))
        let shell = try Self.parse("""
            name: x
            shell: "python3 train.py --lr {lr} | tee out-{trial}.txt"
            space: {lr: [0.1]}
            trials: 1
            """)
        #expect(shell.command == CommandTemplate(shell: "python3 train.py --lr {lr} | tee out-{trial}.txt"))
        #expect(shell.command.render(parameters: ["lr": .double(0.1)], trial: 2, attempt: 0, campaign: "x")
            == ["/bin/sh", "-c", "python3 train.py --lr '0.1' | tee out-'2'.txt"])
        // Numbers in an argv list are kept as written.
        let numbers = try Self.parse("name: x\ncommand: [run, --epochs, 5, --lr, 1.0e-3]\ntrials: 1\n")
        #expect(numbers.command.argv == ["run", "--epochs", "5", "--lr", "1.0e-3"])
    }

    @Test func workdirResolvesAgainstTheSpecDirectory() throws {
        #expect(try Self.parse(Self.minimal("")).workdir == "/home/u/exp")
        #expect(try Self.parse(Self.minimal("workdir: ../data/./sets\n")).workdir == "/home/u/data/sets")
        #expect(try Self.parse(Self.minimal("workdir: /srv/runs/\n")).workdir == "/srv/runs")
        let tilde = Self.failure(Self.minimal("workdir: ~/runs\n"))
        #expect(tilde?.code == .invalidValue && tilde?.keyPath == "workdir" && tilde?.line == 4)
    }

    @Test func valuesKeepTheirYAMLTypes() throws {
        let spec = try Self.parse("""
            name: x
            command: [run]
            trials: 1
            space:
              mixed: [1, 2.5, "3", true, adam, 1e-3]
              fixed: 7
              lr: {type: uniform, low: "1e-4", high: 1e-2}
              quoted_numbers: {type: int, low: "2", high: "8", step: 2, log: true}
            env: {A: 1, B: yes, C: 1.50, D: ""}
            """)
        #expect(spec.space["mixed"]?.domain == .choice([.int(1), .double(2.5), .string("3"), .bool(true), .string("adam"), .double(0.001)]))
        #expect(spec.space["fixed"]?.domain == .choice([.int(7)]))
        #expect(spec.space["lr"]?.domain == .uniform(low: 1e-4, high: 1e-2))
        #expect(spec.space["quoted_numbers"]?.domain == .integer(low: 2, high: 8, step: 2, log: true))
        // Environment values are kept as written.
        #expect(spec.environment == ["A": "1", "B": "yes", "C": "1.50", "D": ""])
    }

    @Test func durations() throws {
        let cases: [(String, Double)] = [
            ("90", 90), ("1.5", 1.5), ("90s", 90), ("10m", 600), ("2h", 7_200), ("1h30m", 5_400), ("1.5h", 5_400),
            ("1d", 86_400), ("500ms", 0.5), ("\"120\"", 120), ("1h 30m", 5_400),
        ]
        for (text, seconds) in cases {
            #expect(try Self.parse(Self.minimal("timeout: \(text)\n")).timeoutSeconds == seconds, "\(text)")
        }
        #expect(try Self.parse(Self.minimal("timeout: null\n")).timeoutSeconds == nil)
        for text in ["10 minutes", "1x", "h", "-5s", "1h30"] {
            let error = Self.failure(Self.minimal("timeout: \(text)\n"))
            #expect(error?.code == .invalidValue && error?.keyPath == "timeout" && error?.line == 4, "\(text)")
        }
        let zero = Self.failure(Self.minimal("timeout: 0s\n"))
        #expect(zero?.message.contains("positive") == true)
        #expect(CampaignSpecParser.parseDuration("2h15m30s") == 8_130)
    }

    @Test func loadReadsAFileAndResolvesAgainstItsDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("intern-spec-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("campaign.yaml")
        try Self.minimal("workdir: runs\n").write(to: file, atomically: true, encoding: .utf8)
        let spec = try CampaignSpecParser.load(path: file.path)
        #expect(spec.workdir.hasPrefix("/") && spec.workdir.hasSuffix("/\(directory.lastPathComponent)/runs"))

        #expect {
            _ = try CampaignSpecParser.load(path: directory.appendingPathComponent("missing.yaml").path)
        } throws: { error in
            (error as? SpecError)?.code == .io && "\(error)".contains("missing.yaml: cannot read")
        }
    }

    // MARK: - Errors

    @Test func misspeltTopLevelKey() throws {
        let error = try #require(Self.failure("name: x\ncommand: [run]\ntrails: 24\n"))
        #expect(error.code == .unknownKey)
        #expect((error.line, error.column) == (3, 1))
        #expect(error.keyPath == "trails")
        #expect(error.suggestion == "trials")
        #expect(error.description.hasPrefix("campaign.yaml:3:1: trails: unknown key 'trails'"))
        #expect(error.description.contains("did you mean 'trials'?"))
    }

    @Test func misspeltPlaceholder() throws {
        let yaml = Self.example.replacingOccurrences(of: "\"{learning_rate}\"", with: "\"{learning_rte}\"")
        let error = try #require(Self.failure(yaml))
        #expect(error.code == .invalidValue)
        #expect((error.line, error.column) == (2, 36))
        #expect(error.keyPath == "command[3]")
        #expect(error.suggestion == "learning_rate")
        #expect(error.description.contains("unknown placeholder {learning_rte}"))
        #expect(error.description.contains("did you mean 'learning_rate'?"))
    }

    @Test func misspeltPlaceholderInAStringCommand() throws {
        let error = try #require(Self.failure("name: x\ncommand: run --lr {learning_rte}\nspace: {learning_rate: [1]}\ntrials: 1\n"))
        #expect(error.keyPath == "command[2]" && error.line == 2 && error.suggestion == "learning_rate")
    }

    @Test func misspeltKeysInsideSections() throws {
        let objective = try #require(Self.failure(Self.minimal("objective: {metric: acc, direction: maximize, sumary: best}\n")))
        #expect(objective.code == .unknownKey && objective.keyPath == "objective.sumary" && objective.suggestion == "summary")
        #expect(objective.line == 4)
        let parameter = try #require(Self.failure(Self.minimal("space:\n  lr: {type: uniform, low: 0, hihg: 1}\n")))
        #expect(parameter.code == .unknownKey && parameter.keyPath == "space.lr.hihg" && parameter.suggestion == "high")
        #expect((parameter.line, parameter.column) == (5, 31))
        let type = try #require(Self.failure(Self.minimal("space:\n  lr: {type: logunifrom, low: 1, high: 2}\n")))
        #expect(type.code == .invalidValue && type.keyPath == "space.lr.type" && type.suggestion == "loguniform")
        let direction = try #require(Self.failure(Self.minimal("objective: {metric: acc, direction: maximise}\n")))
        #expect(direction.code == .invalidValue && direction.suggestion == "maximize")
    }

    @Test func missingKeys() throws {
        let name = try #require(Self.failure("command: [run]\ntrials: 1\n"))
        #expect(name.code == .missingKey && name.keyPath == "name" && name.line == 1)
        let command = try #require(Self.failure("name: x\ntrials: 1\n"))
        #expect(command.code == .missingKey && command.keyPath == "command")
        let trials = try #require(Self.failure("name: x\ncommand: [run]\n"))
        #expect(trials.code == .missingKey && trials.keyPath == "trials" && trials.message.contains("random"))
        let high = try #require(Self.failure(Self.minimal("space:\n  lr:\n    type: uniform\n    low: 0\n")))
        #expect(high.code == .missingKey && high.keyPath == "space.lr.high" && high.line == 6)
        let type = try #require(Self.failure(Self.minimal("space:\n  lr: {values: [1, 2]}\n")))
        #expect(type.code == .missingKey && type.keyPath == "space.lr.type" && type.message.contains("type: choice"))
        let direction = try #require(Self.failure(Self.minimal("objective: {metric: acc}\n")))
        #expect(direction.code == .missingKey && direction.keyPath == "objective.direction")
    }

    @Test func typeMismatches() throws {
        let cases: [(String, String, Int)] = [
            ("space:\n  lr: {type: uniform, low: [0], high: 1}\n", "space.lr.low", 5),
            ("space:\n  lr: {type: uniform, low: abc, high: 1}\n", "space.lr.low", 5),
            ("space:\n  lr: {type: uniform, low: true, high: 1}\n", "space.lr.low", 5),
            ("space:\n  n: {type: int, low: 1, high: 2.5}\n", "space.n.high", 5),
            ("space:\n  n: {type: int, low: 1, high: 5, log: maybe}\n", "space.n.log", 5),
            ("space:\n  c: {type: choice, values: 3}\n", "space.c.values", 5),
            ("space:\n  c: [1, [2]]\n", "space.c.values[1]", 5),
            ("space:\n  c: [1, null]\n", "space.c.values[1]", 5),
            ("space:\n  c:\n", "space.c", 5),
            ("space: [a, b]\n", "space", 4),
            ("parallel: four\n", "parallel", 4),
            ("env: [A]\n", "env", 4),
            ("env: {A: null}\n", "env.A", 4),
            ("objective: acc\n", "objective", 4),
        ]
        for (extra, path, line) in cases {
            let error = Self.failure(Self.minimal(extra))
            #expect(error?.code == .typeMismatch, "\(extra): \(String(describing: error))")
            #expect(error?.keyPath == path && error?.line == line, "\(extra): \(String(describing: error))")
        }
        let unquoted = try #require(Self.failure("name: x\ncommand: [run, --lr, {lr}]\nspace: {lr: [1]}\ntrials: 1\n"))
        #expect(unquoted.code == .typeMismatch && unquoted.keyPath == "command[2]" && unquoted.message.contains("quote it: \"{lr}\""))
    }

    @Test func invalidValues() throws {
        let cases: [(String, String, String)] = [
            ("space:\n  lr: {type: uniform, low: 1, high: 1}\n", "space.lr.high", "greater than low"),
            ("space:\n  lr: {type: loguniform, low: 0, high: 1}\n", "space.lr.low", "low > 0"),
            ("space:\n  lr: {type: uniform, low: .inf, high: 1}\n", "space.lr.low", "finite"),
            ("space:\n  n: {type: int, low: 5, high: 1}\n", "space.n.high", "high must be >= low"),
            ("space:\n  n: {type: int, low: 1, high: 5, step: 0}\n", "space.n.step", "step must be"),
            ("space:\n  n: {type: int, low: 0, high: 5, log: true}\n", "space.n.low", "low >= 1"),
            ("space:\n  c: {type: choice, values: []}\n", "space.c.values", "at least one value"),
            ("space:\n  c: [a, b, a]\n", "space.c.values[2]", "listed twice"),
            ("space:\n  trial: [1]\n", "space.trial", "reserved"),
            ("space:\n  2fast: [1]\n", "space.2fast", "not a valid parameter name"),
            ("parallel: 0\n", "parallel", ">= 1"),
            ("retries: -1\n", "retries", ">= 0"),
            ("metrics: {prefix: \"\"}\n", "metrics.prefix", "non-empty"),
            ("env: {1X: a}\n", "env.1X", "environment variable name"),
            ("sampler: {type: random, seed: -3}\n", "sampler.seed", "0 to"),
            ("sampler: {type: grid, seed: 3}\n", "sampler.seed", "no seed"),
            ("sampler: randm\n", "sampler", "did you mean 'random'?"),
        ]
        for (extra, path, fragment) in cases {
            let error = Self.failure(Self.minimal(extra))
            #expect(error?.code == .invalidValue, "\(extra): \(String(describing: error))")
            #expect(error?.keyPath == path && error?.message.contains(fragment) == true, "\(extra): \(String(describing: error))")
            #expect((error?.line ?? 0) >= 4, "\(extra): \(String(describing: error))")
        }
        let trials = try #require(Self.failure("name: x\ncommand: [run]\ntrials: 0\n"))
        #expect(trials.keyPath == "trials" && trials.line == 3)
        let name = try #require(Self.failure("name: ../etc\ncommand: [run]\ntrials: 1\n"))
        #expect(name.code == .invalidValue && name.keyPath == "name" && name.line == 1)
        let both = try #require(Self.failure("name: x\ncommand: [run]\nshell: run\ntrials: 1\n"))
        #expect(both.code == .invalidValue && both.keyPath == "shell" && both.line == 3)
        let quoted = try #require(Self.failure("name: x\nshell: echo \"{v}\"\nspace: {v: [1]}\ntrials: 1\n"))
        #expect(quoted.keyPath == "shell" && quoted.message.contains("inside double quotes"))
        let split = try #require(Self.failure("name: x\ncommand: run 'unterminated\ntrials: 1\n"))
        #expect(split.keyPath == "command" && split.message.contains("unterminated single quote"))
    }

    @Test func gridOverAContinuousParameter() throws {
        let error = try #require(Self.failure("""
            name: x
            command: [run, "{lr}"]
            sampler: grid
            space:
              lr: {type: loguniform, low: 1.0e-4, high: 0.3}
            """))
        #expect(error.code == .invalidValue)
        #expect(error.keyPath == "space.lr" && (error.line, error.column) == (5, 3))
        #expect(error.message.contains("type: choice") && error.message.contains("sampler: random"))
        let tooMany = try #require(Self.failure("name: x\ncommand: [run]\nsampler: grid\nspace: {a: [1, 2]}\ntrials: 3\n"))
        #expect(tooMany.keyPath == "trials" && tooMany.message.contains("2 points"))
    }

    @Test func theEarliestProblemInTheFileIsReported() throws {
        let error = try #require(Self.failure("name: x\ncommand: [run, \"{nope}\"]\ntrials: 0\nparallel: 0\n"))
        #expect(error.keyPath == "command[1]" && error.line == 2)
    }

    @Test func malformedDocuments() throws {
        let flow = try #require(Self.failure("name: x\ncommand: [run\ntrials: 3\n"))
        #expect(flow.code == .syntax && flow.line == 3 && flow.message.hasPrefix("invalid YAML"))
        let tab = try #require(Self.failure("name: x\n\tcommand: run\n"))
        #expect(tab.code == .syntax && tab.line == 2)
        let indentation = try #require(Self.failure("name: x\n  command: run\n"))
        #expect(indentation.code == .syntax && indentation.line == 2)
        let empty = try #require(Self.failure(""))
        #expect(empty.code == .syntax && (empty.line, empty.column) == (1, 1) && empty.message.contains("empty"))
        let comments = try #require(Self.failure("# nothing here\n"))
        #expect(comments.code == .syntax)
        let list = try #require(Self.failure("- a\n- b\n"))
        #expect(list.code == .typeMismatch && list.message.contains("found a list"))
        let scalar = try #require(Self.failure("just text\n"))
        #expect(scalar.code == .typeMismatch && scalar.message.contains("found the string 'just text'"))
        let two = try #require(Self.failure(Self.minimal("---\nname: y\n")))
        #expect(two.code == .syntax && two.line == 4)
    }

    @Test func duplicateKeys() throws {
        let top = try #require(Self.failure("name: x\ncommand: [run]\ntrials: 2\nname: y\n"))
        #expect(top.code == .syntax && top.line == 4 && top.message.contains("duplicate key 'name' (first at line 1)"))
        let nested = try #require(Self.failure(Self.minimal("space:\n  lr: [1]\n  # comment\n  lr: [2]\n")))
        #expect(nested.code == .syntax && nested.line == 7 && nested.message.contains("'lr'"))
        let flow = try #require(Self.failure(Self.minimal("env: {A: 1, A: 2}\n")))
        #expect(flow.code == .syntax && flow.line == 4 && flow.message.contains("duplicate key 'A'"))
    }

    // MARK: - Failures and retries

    static let failureKeys = """
        retries: 1
        retry:
          oom: 1
          timeout: 0
          diverged: 0
          infra: 3
          lost: 3
          preempted: 10
          per_trial: 5
          campaign: 50
          backoff: 5s
        failures:
          infra_patterns: ["NCCL WARN", "slurmstepd: error"]
          user_patterns: []
          circuit_breaker: 3
          quarantine_after: 3

        """

    @Test func failureKeysParse() throws {
        let spec = try Self.parse(Self.minimal(Self.failureKeys))
        #expect(spec.retries == 1)
        #expect(spec.failurePolicy == FailurePolicy(
            retries: [.oom: 1, .timeout: 0, .diverged: 0, .infra: 3, .lost: 3, .preempted: 10],
            maxRetriesPerTrial: 5, campaignRetryBudget: 50, backoffSeconds: 5,
            infraPatterns: ["NCCL WARN", "slurmstepd: error"], userPatterns: [],
            circuitBreakerTrials: 3, quarantineAfter: 3))
        let other = try Self.parse(Self.minimal("retry: {backoff: 0, campaign: null, per_trial: null, user: 0}\nfailures: {circuit_breaker: 0, quarantine_after: 0}\n"))
        #expect(other.failurePolicy == FailurePolicy(retries: [.user: 0], backoffSeconds: 0, circuitBreakerTrials: 0, quarantineAfter: 0))
        #expect(try Self.parse(Self.minimal("retry: {backoff: 1m30s}\n")).failurePolicy.backoffSeconds == 90)
        #expect(try Self.parse(Self.minimal("retry: {backoff: 2.5}\n")).failurePolicy.backoffSeconds == 2.5)
        #expect(try Self.parse(Self.minimal("failures: {user_patterns: [CONFIG INVALID, 42]}\n")).failurePolicy.userPatterns
            == ["CONFIG INVALID", "42"])
    }

    @Test func failureKeysDefault() throws {
        let spec = try Self.parse(Self.minimal(""))
        #expect(spec.failurePolicy == FailurePolicy())
        #expect(try Self.parse(Self.minimal("retry:\nfailures: null\n")).failurePolicy == FailurePolicy())
        let policy = spec.failurePolicy
        #expect(policy.retryLimit(for: .lost, unknownRetries: spec.retries) == 3)
        #expect(policy.retryLimit(for: .unknown, unknownRetries: spec.retries) == 0)
    }

    @Test func docsFailureExampleParses() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/campaign.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let section = try #require(text.range(of: "## Failures and retries"))
        let start = try #require(text.range(of: "```yaml\n", range: section.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let spec = try Self.parse(Self.minimal(String(text[start.upperBound..<end.lowerBound])))
        #expect(spec.failurePolicy.infraPatterns == ["NCCL WARN", "slurmstepd: error"])
    }

    @Test func failureKeyErrors() throws {
        let user = try #require(Self.failure(Self.minimal("retry:\n  infra: 2\n  user: 1\n")))
        #expect(user.code == .invalidValue && user.keyPath == "retry.user" && (user.line, user.column) == (6, 9))
        #expect(user.message.contains("never retried"))

        let invalid: [(String, String, Int, String)] = [
            ("retry: {infra: -1}\n", "retry.infra", 4, ">= 0"),
            ("retry: {per_trial: -1}\n", "retry.per_trial", 4, ">= 0"),
            ("retry: {campaign: -5}\n", "retry.campaign", 4, ">= 0"),
            ("retry: {backoff: -1}\n", "retry.backoff", 4, ">= 0"),
            ("retry: {backoff: 5 minutes}\n", "retry.backoff", 4, "not a duration"),
            ("failures: {circuit_breaker: -1}\n", "failures.circuit_breaker", 4, "0 turns it off"),
            ("failures: {quarantine_after: -2}\n", "failures.quarantine_after", 4, "0 turns it off"),
            ("failures:\n  infra_patterns:\n    - NCCL WARN\n    - \"\"\n", "failures.infra_patterns[1]", 7, "non-empty"),
        ]
        for (extra, path, line, fragment) in invalid {
            let error = Self.failure(Self.minimal(extra))
            #expect(error?.code == .invalidValue, "\(extra): \(String(describing: error))")
            #expect(error?.keyPath == path && error?.line == line, "\(extra): \(String(describing: error))")
            #expect(error?.message.contains(fragment) == true, "\(extra): \(String(describing: error))")
        }

        let mismatches: [(String, String)] = [
            ("retry: 3\n", "retry"),
            ("retry: {oom: lots}\n", "retry.oom"),
            ("retry: {oom: 1.5}\n", "retry.oom"),
            ("failures: [a]\n", "failures"),
            ("failures: {infra_patterns: NCCL}\n", "failures.infra_patterns"),
            ("failures: {user_patterns: [[a]]}\n", "failures.user_patterns[0]"),
        ]
        for (extra, path) in mismatches {
            let error = Self.failure(Self.minimal(extra))
            #expect(error?.code == .typeMismatch && error?.keyPath == path && error?.line == 4, "\(extra): \(String(describing: error))")
        }
        let retries = try #require(Self.failure(Self.minimal("retries: {oom: 1}\n")))
        #expect(retries.code == .typeMismatch && retries.message.contains("go under 'retry:'"))
    }

    @Test func misspeltFailureKeys() throws {
        let infra = try #require(Self.failure(Self.minimal("retry:\n  infar: 3\n")))
        #expect(infra.code == .unknownKey && infra.keyPath == "retry.infar" && infra.suggestion == "infra")
        #expect((infra.line, infra.column) == (5, 3))
        #expect(infra.message.contains("did you mean 'infra'?") && infra.message.contains("valid keys: oom, timeout"))
        let quarantine = try #require(Self.failure(Self.minimal("failures: {quarantin_after: 3}\n")))
        #expect(quarantine.keyPath == "failures.quarantin_after" && quarantine.suggestion == "quarantine_after")
        let top = try #require(Self.failure(Self.minimal("retyr: {oom: 1}\n")))
        #expect(top.code == .unknownKey && top.suggestion == "retry")
        let unknown = try #require(Self.failure(Self.minimal("retry: {unknown: 2}\n")))
        #expect(unknown.code == .unknownKey && unknown.keyPath == "retry.unknown" && unknown.message.contains("top-level 'retries'"))
    }

    @Test func descriptionFormat() {
        let error = SpecError(code: .unknownKey, file: "c.yaml", line: 7, column: 3, keyPath: "space.x", message: "m")
        #expect(error.description == "c.yaml:7:3: space.x: m")
        let io = SpecError(code: .io, file: "c.yaml", line: 0, column: 0, keyPath: "", message: "cannot read")
        #expect(io.description == "c.yaml: cannot read")
    }

    @Test func gpusPerAttempt_isParsed_andANegativeCountIsAnError() throws {
        let spec = try CampaignSpecParser.parse(yaml: "name: g\ncommand: [train]\ntrials: 2\ngpus: 4\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(spec.gpus == 4)
        let plain = try CampaignSpecParser.parse(yaml: "name: g\ncommand: [train]\ntrials: 2\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(plain.gpus == 0)
        #expect(throws: (any Error).self) {
            _ = try CampaignSpecParser.parse(yaml: "name: g\ncommand: [train]\ntrials: 2\ngpus: -1\n", file: "c.yaml", baseDirectory: "/tmp")
        }
    }

    @Test func cpuAndMemoryRequests_areParsed_andABadSizeSaysHowToWriteOne() throws {
        let spec = try CampaignSpecParser.parse(
            yaml: "name: r\ncommand: [train]\ntrials: 2\ncpus: 4\nmemory: 16GiB\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(spec.cpus == 4 && spec.memoryBytes == 16 << 30)
        let bytes = try CampaignSpecParser.parse(yaml: "name: r\ncommand: [train]\ntrials: 2\nmemory: 1000000\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(bytes.memoryBytes == 1_000_000 && bytes.cpus == 0)
        let error = #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: "name: r\ncommand: [train]\ntrials: 2\nmemory: lots\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(error?.description.contains("c.yaml:4") == true && error?.description.contains("16GiB") == true, "\(String(describing: error))")
        #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: "name: r\ncommand: [train]\ntrials: 2\ncpus: -2\n", file: "c.yaml", baseDirectory: "/tmp")
        }
    }

    @Test func tpeSampler_isParsed_needsAnObjective_andStartupIsItsOwn() throws {
        let base = "name: t\ncommand: [train, \"{lr}\"]\ntrials: 20\nspace:\n  lr: {type: loguniform, low: 1.0e-5, high: 1.0e-1}\n"
        let spec = try CampaignSpecParser.parse(
            yaml: base + "objective: {metric: loss, direction: minimize}\nsampler: {type: tpe, seed: 3, startup: 5}\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(spec.sampler == .tpe(seed: 3, startup: 5))
        let plain = try CampaignSpecParser.parse(yaml: base + "objective: {metric: loss, direction: minimize}\nsampler: tpe\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(plain.sampler == .tpe(seed: 0, startup: 10))
        let noObjective = #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "sampler: tpe\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(noObjective?.description.contains("objective") == true, "\(String(describing: noObjective))")
        #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "sampler: {type: random, startup: 3}\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        let typo = #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "sampler: tpr\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(typo?.description.contains("did you mean 'tpe'") == true, "\(String(describing: typo))")
    }

    @Test func pruning_isParsed_withTheObjectivesMetricByDefault() throws {
        let base = "name: p\ncommand: [train]\ntrials: 8\nobjective: {metric: eval_loss, direction: minimize}\n"
        let spec = try CampaignSpecParser.parse(yaml: base + "pruning: {rule: asha, min_step: 2, reduction: 4}\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(spec.pruning == PruningPolicy(rule: .asha, metric: "eval_loss", direction: .minimize, minStep: 2, reduction: 4))
        let median = try CampaignSpecParser.parse(
            yaml: base + "pruning: {rule: median, metric: eval_acc, direction: maximize, min_trials: 3}\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(median.pruning == PruningPolicy(rule: .median, metric: "eval_acc", direction: .maximize, minTrials: 3))
        let typo = #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "pruning: {rule: hyperband}\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(typo?.description.contains("asha") == true, "\(String(describing: typo))")
        #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: "name: p\ncommand: [train]\ntrials: 8\npruning: {rule: asha}\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "pruning: {rule: asha, reduction: 1}\n", file: "c.yaml", baseDirectory: "/tmp")
        }
    }

    @Test func budget_isParsed() throws {
        let base = "name: b\ncommand: [train]\ntrials: 8\n"
        let spec = try CampaignSpecParser.parse(yaml: base + "budget: {hours: 72, gpu_hours: 500.5, on_exhausted: stop}\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(spec.budget == Budget(hours: 72, gpuHours: 500.5, onExhausted: .stop))
        #expect(try CampaignSpecParser.parse(yaml: base, file: "c.yaml", baseDirectory: "/tmp").budget == Budget())
        #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "budget: {hours: 0}\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "budget: {gpu_hours: 1, on_exhausted: panic}\n", file: "c.yaml", baseDirectory: "/tmp")
        }
    }

    @Test func agentPolicy_isParsed_andABadOneIsLocated() throws {
        let base = "name: a\ncommand: [train]\ntrials: 8\n"
        let spec = try CampaignSpecParser.parse(
            yaml: base + "agent: {max_trials: 20, max_hours: 1.5, max_gpu_hours: 0, may_cancel: true}\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(spec.agentPolicy == AgentPolicy(maxTrials: 20, maxHours: 1.5, maxGPUHours: 0, mayCancel: true))
        #expect(try CampaignSpecParser.parse(yaml: base, file: "c.yaml", baseDirectory: "/tmp").agentPolicy == AgentPolicy())
        let negative = #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "agent:\n  max_trials: -1\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(negative?.description.contains("c.yaml:5") == true && negative?.description.contains("agent.max_trials") == true,
                "\(String(describing: negative))")
        let unknown = #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "agent: {may_start: true}\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(unknown?.description.contains("may_start") == true, "\(String(describing: unknown))")
        // Stored specs encoded before the policy existed decode with none.
        let encoded = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(CampaignSpec.self, from: encoded).agentPolicy == spec.agentPolicy)
    }

    @Test func constraints_areParsed_andABadOneSaysHowToWriteIt() throws {
        let base = "name: c\ncommand: [train]\ntrials: 8\n"
        let spec = try CampaignSpecParser.parse(
            yaml: base + "constraints: [\"eval_worst_class_accuracy >= 0.85\", \"toxicity <= 0.1\"]\n", file: "c.yaml", baseDirectory: "/tmp")
        #expect(spec.constraints.map(\.description) == ["eval_worst_class_accuracy >= 0.85", "toxicity <= 0.1"])
        let error = #expect(throws: SpecError.self) {
            _ = try CampaignSpecParser.parse(yaml: base + "constraints: [\"toxicity is low\"]\n", file: "c.yaml", baseDirectory: "/tmp")
        }
        #expect(error?.description.contains("constraints[0]") == true && error?.description.contains("METRIC OP NUMBER") == true,
                "\(String(describing: error))")
    }
}
