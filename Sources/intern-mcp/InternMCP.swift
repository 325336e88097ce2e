import ArgumentParser
import Foundation
import InternAgent
import InternJob
import Logging
import MCP

/// `intern mcp` (this executable, which `intern mcp` starts): intern's campaigns for an agent,
/// over the Model Context Protocol on stdio. Each tool runs one of intern's own inspection
/// commands, as the `intern` beside it, on a campaign directory or, with `--coordinator`, through
/// a remote coordinator (which the command forwards to); every answer fits a token budget: a longer
/// one comes in pages, never cut silently; the same read asked again with nothing changed is
/// answered in a line. docs/agents.md.
///
/// A program of its own, not a subcommand compiled into `intern`: the MCP SDK brings Foundation's
/// networking, which links libcurl and its libraries, and would make every `intern` process (a
/// coordinator, each worker) start in 22 ms instead of 8.
@main
struct InternMCP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intern mcp",
        abstract: "Serve campaigns to an agent over the Model Context Protocol (stdio): read tools, answers within a token budget.",
        discussion: """
            Add it to an MCP client as the command `intern mcp --root DIR` (docs/agents.md has snippets). \
            Stdout carries the protocol; logs go to stderr.
            """)

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

    func validate() throws {
        if tokens < 64 { throw ValidationError("--tokens must be >= 64") }
        if coordinator == nil, auth != nil || insecure { throw ValidationError("--auth and --insecure go with --coordinator") }
    }

    func run() async throws {
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
        // Stdout carries the protocol: every log line goes to stderr.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let runner = ToolRunner(place: place, intern: executable, pager: AnswerPager(budget: tokens))
        // The version is intern's own (this program ships with it).
        let version = await ShortCommand.run([executable, "--version"], environment: [:], in: "/", timeout: .seconds(10), limit: 256)
            .map { String(decoding: $0.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "unknown"
        let server = Server(
            name: "intern", version: version,
            capabilities: .init(prompts: .init(listChanged: false), resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
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
        try await server.start(transport: StdioTransport(logger: Logger(label: "intern.mcp")))
        await server.waitUntilCompleted()
    }
}

/// Runs the tools: checks the arguments, runs the command where the campaign is, and cuts the
/// answer to the budget.
actor ToolRunner {
    enum Place {
        case root(String)
        case directory(String)
        /// A coordinator: the options that make `intern` forward a command there.
        case remote([String])
    }

    let place: Place
    let intern: String
    let pager: AnswerPager
    private var memory = ReadMemory()

    init(place: Place, intern: String, pager: AnswerPager) {
        self.place = place
        self.intern = intern
        self.pager = pager
    }

    static let listCampaigns = Tool(
        name: "list_campaigns", description: "The campaigns this server can read, by name.",
        inputSchema: .object(["type": "object", "properties": .object([:]), "additionalProperties": false]),
        annotations: .init(readOnlyHint: true, openWorldHint: false))

    /// A tool as MCP lists it: its JSON schema from its parameters.
    static func describe(_ tool: AgentTool) -> Tool {
        var properties: [String: Value] = [:]
        for parameter in tool.parameters {
            var schema: [String: Value] = ["type": .string(parameter.kind.rawValue), "description": .string(parameter.description)]
            if let choices = parameter.choices { schema["enum"] = .array(choices.map { .string($0) }) }
            if let range = parameter.range {
                schema["minimum"] = .int(range.lowerBound)
                schema["maximum"] = .int(range.upperBound)
            }
            properties[parameter.name] = .object(schema)
        }
        return Tool(
            name: tool.name, description: tool.description,
            inputSchema: .object([
                "type": "object", "properties": .object(properties),
                "required": .array(tool.parameters.filter(\.required).map { .string($0.name) }), "additionalProperties": false,
            ]),
            annotations: .init(readOnlyHint: true, openWorldHint: false))
    }

    func call(_ name: String, arguments: [String: Value]) async -> CallTool.Result {
        do {
            let given = try Self.toolValues(arguments)
            if name == "list_campaigns" { return answer(try campaignNames().joined(separator: "\n"), call: name) }
            guard let tool = AgentTools.named(name) else {
                throw ToolError("no tool '\(name)'; the tools are list_campaigns, \(AgentTools.all.map(\.name).joined(separator: ", "))")
            }
            let command = try tool.arguments(given)
            let output = try await run(command, campaign: given["campaign"].flatMap { if case .string(let s) = $0 { s } else { nil } })
            let text = String(decoding: output.stdout, as: UTF8.self)
            guard output.exitCode == 0 else {
                let problem = String(decoding: output.stderr, as: UTF8.self)
                return CallTool.Result(content: [.text(text: pager.page(problem + text).text, annotations: nil, _meta: nil)], isError: true)
            }
            var page = 1
            if case .int(let asked)? = arguments["page"] { page = asked }
            return answer(text, call: Self.key(name, given), page: page, json: tool.printsJSON)
        } catch let error as ToolError {
            return CallTool.Result(content: [.text(text: error.message, annotations: nil, _meta: nil)], isError: true)
        } catch {
            return CallTool.Result(content: [.text(text: "\(error)", annotations: nil, _meta: nil)], isError: true)
        }
    }

    /// Each campaign's digest and report, as resources (`intern://NAME/digest`, `intern://NAME/report`).
    func resources() -> [Resource] {
        let names: [String]
        if case .remote = place { names = ["coordinator"] } else { names = (try? campaignNames()) ?? [] }
        return names.flatMap { name in [
            Resource(name: "\(name) digest", uri: "intern://\(name)/digest", description: "The campaign within the answer budget.", mimeType: "text/plain"),
            Resource(name: "\(name) report", uri: "intern://\(name)/report", description: "The campaign's report (Markdown), its first page.", mimeType: "text/markdown"),
        ] }
    }

    /// A resource's text: the digest within the budget, or the report's first page.
    func read(_ uri: String) async throws -> ReadResource.Result {
        let parts = uri.hasPrefix("intern://") ? uri.dropFirst("intern://".count).split(separator: "/").map(String.init) : []
        guard parts.count == 2, ["digest", "report"].contains(parts[1]) else {
            throw MCPError.invalidParams("no resource \(uri): they are intern://CAMPAIGN/digest and intern://CAMPAIGN/report")
        }
        let campaign: String? = if case .remote = place { nil } else { parts[0] }
        let command = parts[1] == "digest" ? ["digest", "--tokens", String(pager.budget - 24)] : ["report", "--format", "md"]
        let output = try await run(command, campaign: campaign)
        guard output.exitCode == 0 else {
            throw MCPError.internalError(String(decoding: output.stderr, as: UTF8.self))
        }
        let text = pager.page(String(decoding: output.stdout, as: UTF8.self)).text
        return .init(contents: [.text(text, uri: uri, mimeType: parts[1] == "digest" ? "text/plain" : "text/markdown")])
    }

    /// The answer's page; the first page of a read whose answer has not changed since the same
    /// read last asked, in a line; structured content when JSON fits in one page.
    private func answer(_ text: String, call: String, page: Int = 1, json: Bool = false) -> CallTool.Result {
        if page == 1, let same = memory.unchanged(call: call, answer: text) {
            return CallTool.Result(content: [.text(text: same, annotations: nil, _meta: nil)])
        }
        let cut = pager.page(text, number: page)
        var structured: Value?
        if json, cut.complete, let data = text.data(using: .utf8), let value = try? JSONDecoder().decode(Value.self, from: data) {
            // structuredContent must be an object: an array is wrapped.
            if case .object = value { structured = value } else { structured = .object(["items": value]) }
        }
        return CallTool.Result(content: [.text(text: cut.text, annotations: nil, _meta: nil)], structuredContent: structured)
    }

    /// Runs `intern ARGS` on the campaign's directory, or forwarded to the coordinator.
    private func run(_ arguments: [String], campaign: String?) async throws -> Output {
        switch place {
        case .remote(let options):
            return await capture(arguments + options)
        case .directory(let directory):
            return await capture(arguments + ["--dir", directory])
        case .root(let root):
            let names = try campaignNames()
            let name: String
            if let campaign {
                guard names.contains(campaign) else {
                    throw ToolError("no campaign '\(campaign)' under \(root)/; there are: \(names.joined(separator: ", "))")
                }
                name = campaign
            } else {
                guard names.count == 1 else {
                    throw ToolError(names.isEmpty ? "no campaign under \(root)/ yet" : "several campaigns (\(names.joined(separator: ", "))): name one with `campaign`")
                }
                name = names[0]
            }
            return await capture(arguments + ["--dir", "\(root)/\(name)"])
        }
    }

    struct Output {
        var exitCode: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    /// Runs `intern ARGS` (no shell, its own process group) for at most 60 s, its output kept up to 16 MiB.
    private func capture(_ arguments: [String]) async -> Output {
        guard let result = await ShortCommand.run(
            [intern] + arguments, environment: ProcessInfo.processInfo.environment,
            in: FileManager.default.currentDirectoryPath, timeout: .seconds(60), limit: 16 << 20)
        else {
            return Output(exitCode: 1, stdout: [], stderr: Array("cannot run \(intern)\n".utf8))
        }
        var stderr = result.stderr
        if result.cut { stderr += Array("intern: output cut at 16 MiB\n".utf8) }
        if result.timedOut { stderr += Array("intern: the command was stopped after 60 s\n".utf8) }
        return Output(exitCode: result.exitCode, stdout: result.stdout, stderr: stderr)
    }

    private func campaignNames() throws -> [String] {
        switch place {
        case .remote: return ["(the coordinator's campaign)"]
        case .directory(let directory): return [(directory as NSString).lastPathComponent]
        case .root(let root):
            return ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
                FileManager.default.fileExists(atPath: "\(root)/\($0)/campaign.db")
            }.sorted()
        }
    }

    /// The arguments as the tools take them: strings, integers, booleans.
    static func toolValues(_ arguments: [String: Value]) throws(ToolError) -> [String: ToolValue] {
        var values: [String: ToolValue] = [:]
        for (name, value) in arguments {
            switch value {
            case .string(let text): values[name] = .string(text)
            case .int(let number): values[name] = .integer(number)
            case .bool(let flag): values[name] = .boolean(flag)
            case .double(let number) where number == number.rounded() && abs(number) < 1e15: values[name] = .integer(Int(number))
            default: throw ToolError("\(name): a string, an integer or a boolean, not \(value)")
            }
        }
        return values
    }

    /// A read's identity for ``ReadMemory``: the tool and its arguments but the page.
    static func key(_ name: String, _ given: [String: ToolValue]) -> String {
        name + given.filter { $0.key != "page" }.sorted { $0.key < $1.key }.map { "|\($0.key)=\($0.value)" }.joined()
    }
}
