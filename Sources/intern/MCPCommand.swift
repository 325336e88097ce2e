import ArgumentParser
import Foundation
import InternAgent
import InternCoordinator
import InternStore
import Logging
import MCP

/// `intern mcp`: intern's campaigns for an agent, over the Model Context Protocol on stdio. Each
/// tool runs one of intern's own inspection commands (here, on a campaign directory, or on a
/// remote coordinator with `--coordinator`), and every answer fits a token budget: a longer one
/// comes in pages, never cut silently; the same read asked again with nothing changed is answered
/// in a line. docs/agents.md.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve campaigns to an agent over the Model Context Protocol (stdio): read tools, answers within a token budget.",
        discussion: """
            Add it to an MCP client as the command `intern mcp --root DIR` (docs/agents.md has snippets). \
            Stdout carries the protocol; logs go to stderr.
            """)

    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    @Option(name: .long, help: "Serve this one campaign directory (instead of those under --root).")
    var dir: String?

    @OptionGroup var remote: RemoteOptions

    @Option(name: .long, help: "The most tokens an answer may take (longer ones come in pages).")
    var tokens: Int = 2_000

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if tokens < 64 { throw ValidationError("--tokens must be >= 64") }
    }

    func run() async throws {
        global.bootstrapLogging()
        let place: ToolRunner.Place
        if remote.coordinator != nil {
            _ = try remote.connect()  // the address and credentials are checked now, not at the first call
            let remote = self.remote
            place = .remote { try remote.connect() }
        } else if let dir {
            place = .directory(dir)
        } else {
            place = .root(root)
        }
        let runner = ToolRunner(place: place, pager: AnswerPager(budget: tokens))
        let server = Server(
            name: "intern", version: InternVersion.number,
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
        /// A coordinator: a connection per call (calls may overlap; a connection carries one
        /// request at a time).
        case remote(@Sendable () throws -> AdminConnection)
    }

    let place: Place
    let pager: AnswerPager
    private var memory = ReadMemory()
    private let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path

    init(place: Place, pager: AnswerPager) {
        self.place = place
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

    /// Runs `intern ARGS` on the campaign: a child process on its directory, or an admin request
    /// to the remote coordinator (which runs the same child on its own).
    private func run(_ arguments: [String], campaign: String?) async throws -> AdminOutput {
        switch place {
        case .remote(let connect):
            let reply = try await connect().run(arguments)
            return AdminOutput(exitCode: Int32(clamping: reply.exitCode), stdout: reply.stdout, stderr: reply.stderr)
        case .directory(let directory):
            return await AdminRunner.capture(executable: executable, arguments: arguments + ["--dir", directory], limit: 16 << 20)
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
            return await AdminRunner.capture(executable: executable, arguments: arguments + ["--dir", "\(root)/\(name)"], limit: 16 << 20)
        }
    }

    private func campaignNames() throws -> [String] {
        switch place {
        case .remote: return ["(the coordinator's campaign)"]
        case .directory(let directory): return [(directory as NSString).lastPathComponent]
        case .root(let root):
            return ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
                FileManager.default.fileExists(atPath: "\(root)/\($0)/\(CampaignStore.databaseName)")
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
