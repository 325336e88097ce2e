/// The tools `intern mcp` offers. Reads only, for now: each runs one of intern's own inspection
/// commands (docs/agents.md lists them with what each answers).
public enum AgentTools {
    public static let all: [AgentTool] = [status, digest, trials, best, failures, logs, metrics, diff, grep, report]

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
}
