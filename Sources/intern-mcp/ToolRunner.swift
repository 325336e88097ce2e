import Foundation
import InternAgent
import InternCore
import InternJob
import MCP

/// Runs the tools: checks the arguments, runs the command where the campaign is, and cuts the
/// answer to the budget.
actor ToolRunner {
    enum Place {
        case root(String)
        case directory(String)
        /// A coordinator: the options that make `intern` forward a command there.
        case remote([String])
    }

    /// What the person who started the server lets agents do, besides the spec's `agent:`.
    struct Policy: Sendable {
        /// Limits passed with every steering request (tighter than the spec's, where set).
        var limits = AgentPolicy()
        /// Whether `start_campaign` may start campaigns.
        var allowStart = false
        /// Where spec files must be (`validate_spec`, `start_campaign`): an absolute, resolved path.
        var specDirectory: String
    }

    let place: Place
    let intern: String
    let pager: AnswerPager
    let policy: Policy
    /// Who asks, in every steering request and its event: `agent:` and the client's name.
    private(set) var actor = "agent:mcp"
    private var memory = ReadMemory()
    /// `status` and `digest` on a local campaign, answered here.
    private let local = LocalAnswers()

    init(place: Place, intern: String, pager: AnswerPager, policy: Policy) {
        self.place = place
        self.intern = intern
        self.pager = pager
        self.policy = policy
    }

    /// Names the actor after the MCP client (its name from `initialize`, reduced to `[A-Za-z0-9._-]`).
    func name(client: String) {
        let kept = String(client.unicodeScalars.filter { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }.prefix(48))
        actor = "agent:" + (kept.isEmpty ? "mcp" : kept)
    }

    static let listCampaigns = Tool(
        name: "list_campaigns", description: "The campaigns this server can read, by name.",
        inputSchema: .object(["type": "object", "properties": .object([:]), "additionalProperties": false]),
        annotations: .init(readOnlyHint: true, openWorldHint: false))

    /// A tool as MCP lists it: its JSON schema from its parameters.
    static func describe(_ tool: AgentTool) -> Tool {
        var properties: [String: Value] = [:]
        for parameter in tool.parameters {
            var schema: [String: Value] = ["description": .string(parameter.description)]
            switch parameter.kind {
            case .configurations:
                schema["type"] = "array"
                schema["items"] = .object(["type": "object", "additionalProperties": .object(["type": .array(["string", "number", "integer", "boolean"])])])
                schema["minItems"] = 1
                schema["maxItems"] = .int(ToolParameter.maxConfigurations)
            default:
                schema["type"] = .string(parameter.kind.rawValue)
            }
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
            annotations: .init(
                readOnlyHint: tool.isReadOnly, destructiveHint: tool.effect == .cancels, idempotentHint: tool.isReadOnly, openWorldHint: false))
    }

    /// Runs a tool. `remember`: a read whose answer has not changed since the same read is
    /// answered in a line (an MCP client keeps its conversation; the planner starts each step anew,
    /// and passes false).
    func call(_ name: String, arguments: [String: Value], remember: Bool = true) async -> CallTool.Result {
        do {
            var given = try Self.toolValues(arguments)
            if name == "list_campaigns" { return answer(try campaignNames().joined(separator: "\n"), call: name) }
            guard let tool = AgentTools.named(name) else {
                throw ToolError("no tool '\(name)'; the tools are list_campaigns, \(AgentTools.all.map(\.name).joined(separator: ", "))")
            }
            try tool.check(given)
            let campaign = given.string("campaign")
            var output: Output
            switch tool.effect {
            case .reads:
                output = try await run(try tool.arguments(given), campaign: campaign)
            case .readsLab:
                output = await capture(Self.placed(try tool.arguments(given), try labOptions(campaign: nil)))
            case .writesLab:
                output = await capture(Self.placed(try tool.arguments(given), try labOptions(campaign: campaign, note: true) + ["--author", actor]))
            case .steers, .cancels:
                // A proposal that repeats where an earlier campaign failed with a noted cause is
                // answered with the note (the lab's, when the server reads a root or a directory),
                // as the lab stood before this campaign runs the proposal.
                var noted: [UInt8] = []
                if tool.name == "propose", let configurations = given.json("configurations"), let options = try? labOptions(campaign: campaign, note: true) {
                    let check = await capture(Self.placed(["failures", "--all", "--proposed", configurations], options))
                    if check.exitCode == 0 { noted = check.stdout }
                }
                output = try await run(try tool.arguments(given) + steeringOptions(), campaign: campaign)
                if output.exitCode == 0 { output.stdout += noted }
            case .checksSpec:
                given["spec"] = .string(try specPath(given.string("spec")!))
                output = await capture(try tool.arguments(given))
            case .startsCampaign:
                given["spec"] = .string(try specPath(given.string("spec")!))
                return try await start(tool.arguments(given))
            }
            let text = String(decoding: output.stdout, as: UTF8.self)
            guard output.exitCode == 0 else {
                let problem = String(decoding: output.stderr, as: UTF8.self)
                return CallTool.Result(content: [.text(text: pager.page(problem + text).text, annotations: nil, _meta: nil)], isError: true)
            }
            guard tool.effect == .reads else { return CallTool.Result(content: [.text(text: pager.page(text).text, annotations: nil, _meta: nil)]) }
            return answer(text, call: remember ? Self.key(name, given) : nil, page: given.integer("page") ?? 1, json: tool.printsJSON)
        } catch let error as ToolError {
            return CallTool.Result(content: [.text(text: error.message, annotations: nil, _meta: nil)], isError: true)
        } catch {
            return CallTool.Result(content: [.text(text: "\(error)", annotations: nil, _meta: nil)], isError: true)
        }
    }

    /// Where the lab is for the lab's tools: the server's root (or the root holding its campaign
    /// directory), and (`note`) the campaign a note on a trial, or a proposal, is about.
    private func labOptions(campaign: String?, note: Bool = false) throws(ToolError) -> [String] {
        switch place {
        case .remote:
            throw ToolError("the lab (recall, note) needs a server on a root of campaigns (--root) or a campaign directory (--dir), not a remote coordinator")
        case .directory(let directory):
            let standardized = URL(fileURLWithPath: directory).standardizedFileURL.path
            return ["--root", (standardized as NSString).deletingLastPathComponent] + (note ? ["--campaign", (standardized as NSString).lastPathComponent] : [])
        case .root(let root):
            return ["--root", root] + (campaign.map { ["--campaign", $0] } ?? [])
        }
    }

    /// What every steering command carries: who asks, and the server's limits.
    private func steeringOptions() -> [String] {
        var options = ["--actor", actor]
        let limits = policy.limits
        if let trials = limits.maxTrials { options += ["--agent-max-trials", String(trials)] }
        if let hours = limits.maxHours { options += ["--agent-max-hours", String(hours)] }
        if let hours = limits.maxGPUHours { options += ["--agent-max-gpu-hours", String(hours)] }
        if let cancel = limits.mayCancel { options += ["--agent-may-cancel", String(cancel)] }
        return options
    }

    /// A spec path an agent gave, resolved inside the spec directory (symbolic links followed), or why not.
    private func specPath(_ given: String) throws(ToolError) -> String {
        let joined = given.hasPrefix("/") ? given : (policy.specDirectory as NSString).appendingPathComponent(given)
        let resolved = URL(fileURLWithPath: joined).standardizedFileURL.resolvingSymlinksInPath().path
        guard resolved.hasPrefix(policy.specDirectory + "/") else {
            throw ToolError("spec must be a file inside \(policy.specDirectory) (the server's spec directory), not \(given)")
        }
        guard FileManager.default.isReadableFile(atPath: resolved) else { throw ToolError("no readable spec file \(given) in \(policy.specDirectory)") }
        return resolved
    }

    /// Starts `intern run` on a spec in the background (its own session: it outlives this server),
    /// after checking it; answers once its campaign directory exists.
    private func start(_ arguments: [String]) async throws -> CallTool.Result {
        guard policy.allowStart else {
            throw ToolError("this server does not let agents start campaigns (the person who runs `intern mcp` allows it with --allow-start)")
        }
        guard case .root(let root) = place else {
            throw ToolError("start_campaign needs a server on a root of campaigns (--root), not \(place)")
        }
        let spec = arguments.last!
        let check = await capture(["validate", "--", spec])
        guard check.exitCode == 0 else { throw ToolError(String(decoding: check.stderr + check.stdout, as: UTF8.self)) }
        let summary = String(decoding: check.stdout, as: UTF8.self)
        guard let line = summary.split(separator: "\n").first, line.hasPrefix("valid: campaign "),
              let name = line.dropFirst("valid: campaign ".count).split(separator: ",").first.map(String.init), CampaignSpec.isValidName(name)
        else { throw ToolError("cannot read the campaign's name from: \(summary)") }
        if FileManager.default.fileExists(atPath: "\(root)/\(name)/campaign.db") {
            throw ToolError("a campaign named \(name) already exists under \(root)/: read it with status, or change the spec's name")
        }
        try? FileManager.default.createDirectory(atPath: "\(root)/.agent-starts", withIntermediateDirectories: true)
        let log = "\(root)/.agent-starts/\(name).log"
        guard FileManager.default.createFile(atPath: log, contents: nil), let output = FileHandle(forWritingAtPath: log) else {
            throw ToolError("cannot write \(log)")
        }
        let process = Process()
        // Its own session, so that it outlives this server and its client.
        let setsid = "/usr/bin/setsid"
        let command = [intern, arguments[0], "--root", root] + arguments.dropFirst()
        if FileManager.default.isExecutableFile(atPath: setsid) {
            process.executableURL = URL(fileURLWithPath: setsid)
            process.arguments = command
        } else {
            process.executableURL = URL(fileURLWithPath: intern)
            process.arguments = Array(command.dropFirst())
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        do { try process.run() } catch { throw ToolError("cannot start intern run: \(error)") }
        for _ in 0..<100 where process.isRunning && !FileManager.default.fileExists(atPath: "\(root)/\(name)/campaign.db") {
            try await Task.sleep(for: .milliseconds(100))
        }
        guard FileManager.default.fileExists(atPath: "\(root)/\(name)/campaign.db") else {
            let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw ToolError("the campaign did not start: \(said.suffix(2_000))")
        }
        let text = "started campaign \(name) (pid \(process.processIdentifier), its output in \(log)); watch it with status and digest (campaign: \(name))\n" + summary
        return CallTool.Result(content: [.text(text: pager.page(text).text, annotations: nil, _meta: nil)])
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
    private func answer(_ text: String, call: String?, page: Int = 1, json: Bool = false) -> CallTool.Result {
        if page == 1, let call, let same = memory.unchanged(call: call, answer: text) {
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

    /// Runs `intern ARGS` on the campaign's directory, or forwarded to the coordinator. On a
    /// campaign directory here, `status` and `digest` are answered in this process
    /// (``LocalAnswers``: the command's bytes, without a process to start).
    func run(_ arguments: [String], campaign: String?) async throws -> Output {
        let directory: String
        switch place {
        case .remote(let options):
            return await capture(Self.placed(arguments, options))
        case .directory(let given):
            directory = given
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
            directory = "\(root)/\(name)"
        }
        if let stdout = await local.answer(arguments, directory: directory) { return Output(exitCode: 0, stdout: stdout, stderr: []) }
        return await capture(Self.placed(arguments, ["--dir", directory]))
    }

    /// `arguments` with where the campaign is inserted before a `--` (after it, everything is an operand).
    private static func placed(_ arguments: [String], _ options: [String]) -> [String] {
        var arguments = arguments
        arguments.insert(contentsOf: options, at: arguments.firstIndex(of: "--") ?? arguments.endIndex)
        return arguments
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

    /// The campaign directory tools run on: the one served, or the only one under the root; nil
    /// for a remote coordinator's.
    func campaignDirectory() throws -> String? {
        switch place {
        case .remote: return nil
        case .directory(let directory): return directory
        case .root(let root):
            let names = try campaignNames()
            guard names.count == 1 else {
                throw ToolError(names.isEmpty ? "no campaign under \(root)/ yet" : "several campaigns under \(root)/ (\(names.joined(separator: ", "))): name one")
            }
            return "\(root)/\(names[0])"
        }
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
            case .double(let number): values[name] = .number(number)
            case .array(let items) where items.count > ToolParameter.maxConfigurations:
                throw ToolError("\(name): at most \(ToolParameter.maxConfigurations) at once, not \(items.count)")
            case .array, .object:
                guard let data = try? JSONEncoder().encode(value) else { throw ToolError("\(name): not JSON") }
                values[name] = .json(String(decoding: data, as: UTF8.self))
            default: throw ToolError("\(name): a string, a number, a boolean or a list, not \(value)")
            }
        }
        return values
    }

    /// A read's identity for ``ReadMemory``: the tool and its arguments but the page.
    static func key(_ name: String, _ given: [String: ToolValue]) -> String {
        name + given.filter { $0.key != "page" }.sorted { $0.key < $1.key }.map { "|\($0.key)=\($0.value)" }.joined()
    }
}
