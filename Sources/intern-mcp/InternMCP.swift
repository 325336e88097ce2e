import ArgumentParser
import Foundation
import InternAgent
import InternCore
import InternJob
import Logging
import MCP

/// `intern mcp` (this executable, which `intern mcp` starts): intern's campaigns for an agent,
/// over the Model Context Protocol on stdio. Each tool runs one of intern's own commands, as the
/// `intern` beside it, on a campaign directory or, with `--coordinator`, through a remote
/// coordinator (which the command forwards to); every answer fits a token budget: a longer one
/// comes in pages, never cut silently; the same read asked again with nothing changed is answered
/// in a line; steering is held to the agent policy by the coordinator. docs/agents.md.
///
/// A program of its own, not a subcommand compiled into `intern`: the MCP SDK brings Foundation's
/// networking, which links libcurl and its libraries, and would make every `intern` process (a
/// coordinator, each worker) start in 22 ms instead of 8.
@main
struct InternMCP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intern-mcp",
        abstract: "intern's programs for agents: the MCP server (`intern mcp`) and the planner loop (`intern agent`).",
        subcommands: [Serve.self, Agent.self], defaultSubcommand: Serve.self)
}

/// `intern mcp`: the MCP server on stdio.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve campaigns to an agent over the Model Context Protocol (stdio): read and steering tools, answers within a token budget, guardrails.",
        discussion: """
            Add it to an MCP client as the command `intern mcp --root DIR` (docs/agents.md has snippets). \
            Stdout carries the protocol; logs go to stderr.
            """)

    @OptionGroup var server: ServerOptions

    @Option(name: .long, help: "Serve the Streamable HTTP transport at HOST:PORT (path /mcp) instead of stdio; a non-loopback host needs --token-file.")
    var http: String?

    @Option(name: .customLong("token-file"), help: "With --http: a file holding the bearer token every request must carry (Authorization: Bearer TOKEN).")
    var tokenFile: String?

    func validate() throws {
        if tokenFile != nil, http == nil { throw ValidationError("--token-file goes with --http") }
        if let http { _ = try HTTPAddress(http, tokenGiven: tokenFile != nil) }
    }

    func run() async throws {
        let options = server
        _ = try options.runner()  // checks the options before anything starts
        // Stdout carries the protocol: every log line goes to stderr.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let version = await Self.version(of: try options.runner().intern)
        if let http {
            let address = try HTTPAddress(http, tokenGiven: tokenFile != nil)
            let token = try tokenFile.map(Self.token)
            let sessions = MCPSessions(token: token, loopback: address.isLoopback) { transport in
                let runner = try options.runner()
                let server = await Self.server(runner: runner, version: version)
                try await server.start(transport: transport) { client, _ in await runner.name(client: client.name) }
                return server
            }
            try await MCPHTTPListener.serve(address, sessions: sessions)
            return
        }
        let runner = try options.runner()
        let server = await Self.server(runner: runner, version: version)
        try await server.start(transport: StdioTransport(logger: Logger(label: "intern.mcp"))) { client, _ in
            // Every steering request and its event name the client that asked.
            await runner.name(client: client.name)
        }
        await server.waitUntilCompleted()
    }

    /// intern's version (this program ships with it).
    static func version(of intern: String) async -> String {
        await ShortCommand.run([intern, "--version"], environment: [:], in: "/", timeout: .seconds(10), limit: 256)
            .map { String(decoding: $0.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "unknown"
    }

    /// The bearer token in a file (its first line), at least 16 characters.
    static func token(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read the token file \(path)") }
        let token = text.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        guard token.count >= 16, token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw ValidationError("the token in \(path) must be at least 16 printable characters without spaces")
        }
        return token
    }

    /// An MCP server with intern's tools, resources and prompts, answering through `runner`.
    static func server(runner: ToolRunner, version: String) async -> Server {
        let server = Server(
            name: "intern", version: version,
            capabilities: .init(prompts: .init(listChanged: false), resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        do {
            await server.withMethodHandler(ListTools.self) { _ in
                .init(tools: [ToolRunner.listCampaigns] + AgentTools.all.map(ToolRunner.describe))
            }
            await server.withMethodHandler(CallTool.self) { call in
                await runner.call(call.name, arguments: call.arguments ?? [:])
            }
            await server.withMethodHandler(ListResources.self) { _ in
                .init(resources: await runner.resources())
            }
            await server.withMethodHandler(ReadResource.self) { request in
                try await runner.read(request.uri)
            }
            await server.withMethodHandler(ListPrompts.self) { _ in
                .init(prompts: AgentPrompts.all.map { prompt in
                    Prompt(name: prompt.name, description: prompt.description, arguments: [
                        .init(name: "campaign", description: "The campaign's name; may be left out when there is only one.", required: false)
                    ])
                })
            }
            await server.withMethodHandler(GetPrompt.self) { request in
                guard let prompt = AgentPrompts.named(request.name) else { throw MCPError.invalidParams("no prompt '\(request.name)'") }
                let campaign = request.arguments?["campaign"]
                return .init(description: prompt.description, messages: [.user(.text(text: prompt.message(campaign: campaign)))])
            }
        }
        return server
    }
}

/// Where the campaigns are, the answer budget, and what agents may do: the options of the MCP
/// server and of the planner loop (`intern agent`), which use the same tools.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    @Option(name: .long, help: "Serve this one campaign directory (instead of those under --root).")
    var dir: String?

    @Option(name: .long, help: "Ask the coordinator at this URL (tcp://host:port, tls+tcp://host:port, ipc://path) instead of reading a campaign directory here.")
    var coordinator: String?

    @Option(name: .long, help: "With --coordinator: the campaign's credentials directory (from `intern init-auth`).")
    var auth: String?

    @Flag(name: .long, help: "With --coordinator: talk to a coordinator that runs without authentication.")
    var insecure = false

    @Option(name: .long, help: "The most tokens an answer may take (longer ones come in pages).")
    var tokens: Int = 2_000

    @Option(name: .long, help: "The intern executable that runs the commands (default: the one beside this program).")
    var intern: String?

    @Option(name: .customLong("max-trials"), help: "The most trials agents may add to a campaign in all (tighter than the spec's agent.max_trials; default: the spec's, else its trial count).")
    var maxTrials: Int?

    @Option(name: .customLong("max-hours"), help: "The most budget hours agents may add in all (default: the spec's agent.max_hours, else 0).")
    var maxHours: Double?

    @Option(name: .customLong("max-gpu-hours"), help: "The most GPU-hours agents may add in all (default: the spec's agent.max_gpu_hours, else 0).")
    var maxGPUHours: Double?

    @Flag(name: .customLong("allow-cancel"), help: "Let agents cancel trials (unless the spec's agent.may_cancel is false).")
    var allowCancel = false

    @Flag(name: .customLong("allow-start"), help: "Let agents start campaigns (with --root), from spec files in --specs.")
    var allowStart = false

    @Option(name: .long, help: "The directory agents' spec files must be in (validate_spec, start_campaign; default: the current directory).")
    var specs: String?

    func validate() throws {
        if tokens < 64 { throw ValidationError("--tokens must be >= 64") }
        if coordinator == nil, auth != nil || insecure { throw ValidationError("--auth and --insecure go with --coordinator") }
        if let maxTrials, maxTrials < 0 { throw ValidationError("--max-trials must be >= 0") }
        for (name, value) in [("--max-hours", maxHours), ("--max-gpu-hours", maxGPUHours)] {
            if let value, !(value.isFinite && value >= 0) { throw ValidationError("\(name) must be a number >= 0") }
        }
        if allowStart, coordinator != nil || dir != nil { throw ValidationError("--allow-start goes with --root (campaigns are started under it)") }
    }

    /// The tool runner these options describe.
    func runner() throws -> ToolRunner {
        let executable = intern ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("intern").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError("no intern executable at \(executable) (--intern names one)")
        }
        let place: ToolRunner.Place
        if let coordinator {
            place = .remote(["--coordinator", coordinator] + (auth.map { ["--auth", $0] } ?? []) + (insecure ? ["--insecure"] : []))
        } else if let dir {
            place = .directory(dir)
        } else {
            place = .root(root)
        }
        let specDirectory = URL(fileURLWithPath: specs ?? FileManager.default.currentDirectoryPath).standardizedFileURL.resolvingSymlinksInPath().path
        let policy = ToolRunner.Policy(
            limits: AgentPolicy(maxTrials: maxTrials, maxHours: maxHours, maxGPUHours: maxGPUHours, mayCancel: allowCancel ? true : nil),
            allowStart: allowStart, specDirectory: specDirectory)
        return ToolRunner(place: place, intern: executable, pager: AnswerPager(budget: tokens), policy: policy)
    }
}
