/// The tools `intern mcp` and `intern agent` offer: each runs one of intern's own commands, the
/// reads (inspection) and the steering (`add`, `pause`, `cancel`, …) that the coordinator holds to
/// the guardrails (docs/agents.md lists them with what each answers).
public enum AgentTools {
    public static let all: [AgentTool] = reads + lab + steering
    public static let reads: [AgentTool] = [status, digest, trials, best, failures, logs, metrics, diff, grep, report]
    /// The lab: memory across every campaign under the server's root (docs/lab.md).
    public static let lab: [AgentTool] = [recall, note]
    public static let steering: [AgentTool] = [validateSpec, startCampaign, propose, addTrials, validateResults, pause, resume, cancel]

    public static func named(_ name: String) -> AgentTool? { all.first { $0.name == name } }

    static let trial = ToolParameter("trial", .integer, "The trial's number.", required: true, range: 1...Int(Int32.max))
    static let attempt = ToolParameter("attempt", .integer, "The attempt number within the trial (default: the latest).", range: 1...100_000)

    static let status = AgentTool(
        "status", "Where the campaign stands: trials by status, workers, the best trial, recent events.",
        parameters: [ToolParameter("events", .integer, "How many recent events to show (default 8).", range: 0...200)]
    ) { given in
        ["status"] + (given.integer("events").map { ["--events", String($0)] } ?? [])
    }

    static let digest = AgentTool(
        "digest",
        "The campaign summarised within a token budget: state, best, failure clusters, what changed, open questions. Pass the cursor it returns as `since` to hear only what changed.",
        parameters: [
            ToolParameter("tokens", .integer, "The most tokens the digest may take (default 800).", range: 24...20_000),
            ToolParameter("since", .string, "A cursor from an earlier digest."),
        ],
        printsJSON: true
    ) { given in
        ["digest", "--json"] + (given.integer("tokens").map { ["--tokens", String($0)] } ?? [])
            + (given.string("since").map { ["--since", $0] } ?? [])
    }

    static let trials = AgentTool(
        "trials", "Every trial with its status, parameters, objective and attempts (JSON).", printsJSON: true
    ) { _ in ["trials", "--json"] }

    static let best = AgentTool("best", "The best trial (the Pareto front with several objectives): parameters, objective, command, provenance.") { _ in
        ["best"]
    }

    static let failures = AgentTool(
        "failures", "Failures clustered by signature: class, how many attempts and trials, an excerpt of the error.",
        parameters: [ToolParameter("class", .string, "Only this failure class.", choices: ["oom", "timeout", "preempted", "lost", "infra", "user", "diverged", "unknown"])],
        printsJSON: true
    ) { given in
        ["failures", "--json"] + (given.string("class").map { ["--class", $0] } ?? [])
    }

    static let logs = AgentTool(
        "logs",
        "A trial's output, condensed by default (progress bars at their last state, repeated lines folded, metric runs summarised, tracebacks reduced). Long output comes in pages.",
        parameters: [
            trial, attempt,
            ToolParameter("stream", .string, "stdout or stderr (default stdout).", choices: ["stdout", "stderr"]),
            ToolParameter("raw", .boolean, "The output as printed, not condensed."),
        ]
    ) { given in
        ["logs", String(given.integer("trial")!)] + (given.integer("attempt").map { ["--attempt", String($0)] } ?? [])
            + (given.string("stream").map { ["--stream", $0] } ?? []) + (given.boolean("raw") == true ? [] : ["--condensed"])
    }

    static let metrics = AgentTool(
        "metrics", "A trial's metrics: each series with its count, first, last, min and max.", parameters: [trial, attempt]
    ) { given in
        ["metrics", String(given.integer("trial")!)] + (given.integer("attempt").map { ["--attempt", String($0)] } ?? [])
    }

    static let diff = AgentTool(
        "diff", "What differs between two trials' runs: parameters, command, environment, packages, code, data.",
        parameters: [
            ToolParameter("a", .integer, "The first trial.", required: true, range: 1...Int(Int32.max)),
            ToolParameter("b", .integer, "The second trial.", required: true, range: 1...Int(Int32.max)),
        ]
    ) { given in
        ["diff", String(given.integer("a")!), String(given.integer("b")!)]
    }

    static let grep = AgentTool(
        "grep", "Lines of every trial's output that contain a text (at most `max` matches).",
        parameters: [
            ToolParameter("text", .string, "The text to find.", required: true),
            ToolParameter("max", .integer, "At most this many matches (default 50).", range: 1...1_000),
            ToolParameter("ignore_case", .boolean, "Ignore ASCII case."),
        ]
    ) { given in
        ["grep", "--max", String(given.integer("max") ?? 50)] + (given.boolean("ignore_case") == true ? ["--ignore-case"] : [])
            + ["--", given.string("text")!]
    }

    static let report = AgentTool("report", "The campaign's report in Markdown: results, the best trials, failures, metric summaries.") { _ in
        ["report", "--format", "md"]
    }

    // MARK: - The lab

    static let recall = AgentTool(
        "recall",
        "Searches every campaign under the root, ranked (BM25): failure signatures with the notes on them and the other campaigns that had them, notes, best results, digests. What earlier campaigns learned, within the answer's budget.",
        parameters: [
            ToolParameter("text", .string, "What to look for (words; any of them, rarer ones weigh more).", required: true),
            ToolParameter("tokens", .integer, "The most tokens the answer may take (default 800).", range: 64...20_000),
        ],
        effect: .readsLab
    ) { given in
        ["recall"] + (given.integer("tokens").map { ["--tokens", String($0)] } ?? []) + ["--", given.string("text")!]
    }

    static let note = AgentTool(
        "note",
        "Attaches what was learned (a cause, a fix) to a failure signature (8 to 16 hex digits, as failures shows it), a trial (its number, in `campaign`) or a campaign (its name). Every later campaign that fails the same way shows the note; a proposal that repeats the failure's region is answered with it.",
        parameters: [
            ToolParameter("subject", .string, "A signature's hex digits, a trial's number, or a campaign's name.", required: true),
            ToolParameter("text", .string, "What was learned.", required: true),
        ],
        effect: .writesLab
    ) { given in
        ["note", "--", given.string("subject")!, given.string("text")!]
    }

    // MARK: - Steering

    static let spec = ToolParameter("spec", .string, "The campaign spec's path (YAML), relative to the server's spec directory.", required: true)

    static let validateSpec = AgentTool(
        "validate_spec", "Checks a campaign spec without running it: its first problem with file, line and key (as a tool error), or what it would run.",
        parameters: [spec], effect: .checksSpec
    ) { given in
        ["validate", "--", given.string("spec")!]
    }

    static let startCampaign = AgentTool(
        "start_campaign",
        "Starts a campaign from a spec with local workers, in the background (only when the server allows it: --allow-start). Answers its name; watch it with status and digest.",
        parameters: [spec, ToolParameter("workers", .integer, "How many local workers (default 2).", range: 1...64)], effect: .startsCampaign
    ) { given in
        ["run", "--quiet", "--workers", String(given.integer("workers") ?? 2), "--", given.string("spec")!]
    }

    static let propose = AgentTool(
        "propose",
        "Proposes configurations to run next (each names every parameter of the space). Each is checked: outside the space, one that failed with a user error, one the circuit breaker blocks are refused with why; one that already ran is answered with its trial; the rest are enqueued, within the agent policy's limits.",
        parameters: [ToolParameter("configurations", .configurations, "The configurations, e.g. [{\"lr\": 0.001, \"layers\": 4}].", required: true)],
        effect: .steers
    ) { given in
        ["add", "--json", given.json("configurations")!]
    }

    static let addTrials = AgentTool(
        "add_trials", "Gives the sampler more trials to draw and raises the budget, within the agent policy's limits.",
        parameters: [
            ToolParameter("trials", .integer, "More trials for the sampler to draw.", range: 0...100_000),
            ToolParameter("hours", .number, "Raise budget.hours by this much.", range: 0...8_760),
            ToolParameter("gpu_hours", .number, "Raise budget.gpu_hours by this much.", range: 0...1_000_000),
        ],
        effect: .steers
    ) { given in
        ["add"] + (given.integer("trials").map { ["--trials", String($0)] } ?? []) + (given.number("hours").map { ["--hours", String($0)] } ?? [])
            + (given.number("gpu_hours").map { ["--gpu-hours", String($0)] } ?? [])
    }

    static let validateResults = AgentTool(
        "validate_results",
        "Asks the campaign to repeat its best configurations with new seeds and judge whether the best holds beyond the repeats' spread (intern validate --results); best, status and the digest then show the verdict. On a finished campaign the repeats wait for intern resume.",
        parameters: [
            ToolParameter("top", .integer, "How many of the best configurations to repeat (default: the spec's validate:, else 3; at least 2 unless the spec declares a baseline: to beat).", range: 1...1_000),
            ToolParameter("repeats", .integer, "How many times to repeat each (default: the spec's validate:, else 3).", range: 2...1_000),
        ],
        effect: .steers
    ) { given in
        ["validate", "--results"] + (given.integer("top").map { ["--top", String($0)] } ?? [])
            + (given.integer("repeats").map { ["--repeats", String($0)] } ?? [])
    }

    static let pause = AgentTool("pause", "Pauses the campaign: nothing new starts, running trials go on, until resume.", effect: .steers) { _ in
        ["pause"]
    }

    static let resume = AgentTool("resume", "Lifts a pause of the running campaign.", effect: .steers) { _ in
        ["resume", "--if-running"]
    }

    static let cancel = AgentTool(
        "cancel", "Cancels a trial: a pending one never runs, a running one is stopped (only when the agent policy lets agents cancel).",
        parameters: [trial], effect: .cancels
    ) { given in
        ["cancel", String(given.integer("trial")!)]
    }
}
