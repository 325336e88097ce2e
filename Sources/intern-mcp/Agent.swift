import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import InternAgent
import InternCore
import MCP
import Zstd

/// `intern agent`: the planner loop, and the log of what it said and heard.
struct Agent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Let a model on an OpenAI-compatible server steer a campaign through intern's tools and guardrails.",
        subcommands: [AgentRun.self, AgentLog.self], defaultSubcommand: AgentRun.self)
}

/// `intern agent CAMPAIGN --endpoint URL --model NAME`: each step, the digest since the last step
/// goes to the model with the campaign's goal, space, constraints and policy; the model answers
/// with tool calls (the MCP server's tools, under the same guardrails); intern runs them and
/// answers; then the loop waits for new results, until the campaign ends, the model finishes, or a
/// limit is reached. Every exchange is stored, compressed (`intern agent log`).
struct AgentRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the planner loop on a campaign (the default: `intern agent CAMPAIGN ...`).",
        discussion: """
            intern agent sft-3 --endpoint http://localhost:8000/v1 --model Qwen2.5-7B-Instruct
            intern agent sft-3 --endpoint https://api.openai.com/v1 --model gpt-4o-mini --api-key-env OPENAI_API_KEY --max-steps 20
            intern agent sft-3 --endpoint ... --model ... --dry-run      # one step; steering shown, not applied

            Exit status: 0 when the campaign ended, the model finished, or the step limit was reached; \
            1 when the run stopped on refusals, malformed answers, the token limit, or a server error.
            """)

    @Argument(help: "The campaign's name under --root (or give --dir, or --coordinator).")
    var campaign: String?

    @OptionGroup var server: ServerOptions

    @Option(name: .long, help: "The chat-completions server: its base URL (…/v1) or the full …/chat/completions URL.")
    var endpoint: String

    @Option(name: .long, help: "The model's name, as the server knows it.")
    var model: String

    @Option(name: .customLong("api-key-env"), help: "The environment variable that holds the server's API key (sent as a bearer token when set).")
    var apiKeyEnvironment = "OPENAI_API_KEY"

    @Option(name: .customLong("max-steps"), help: "The most steps.")
    var maxSteps = 50

    @Option(name: .customLong("max-tokens"), help: "The most tokens the run may take in all.")
    var maxTokens = 500_000

    @Option(name: .customLong("digest-tokens"), help: "The digest's budget in each step's prompt.")
    var digestTokens = 800

    @Option(name: .long, help: "Seconds between looks for new results after a step.")
    var poll: Double = 5

    @Option(name: .long, help: "The most seconds to wait for new results after a step before the next step anyway.")
    var wait: Double = 600

    @Option(name: .customLong("request-timeout"), help: "Seconds to wait for the model's answer.")
    var requestTimeout: Double = 300

    @Flag(name: .customLong("dry-run"), help: "One step: reads run, steering is shown and not applied.")
    var dryRun = false

    @Option(name: .long, help: "Where to store the exchanges (default: agent.zst in the campaign directory; intern-agent.zst here with --coordinator).")
    var transcript: String?

    func validate() throws {
        guard maxSteps >= 1, maxTokens >= 1_000, digestTokens >= 64, poll > 0, wait >= 0, requestTimeout > 0 else {
            throw ValidationError("--max-steps >= 1, --max-tokens >= 1000, --digest-tokens >= 64, --poll > 0, --wait >= 0 and --request-timeout > 0")
        }
        guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? "") else {
            throw ValidationError("--endpoint takes an http or https URL, not \(endpoint)")
        }
        if let campaign, !CampaignSpec.isValidName(campaign) { throw ValidationError("not a campaign name: \(campaign)") }
    }

    func run() async throws {
        var options = server
        if options.dir == nil, options.coordinator == nil, let campaign { options.dir = "\(options.root)/\(campaign)" }
        let runner = try options.runner()
        let directory = try await runner.campaignDirectory()
        await runner.name(client: "planner." + model)
        let store = Transcript(path: transcript ?? directory.map { "\($0)/agent.zst" } ?? "intern-agent.zst")
        let client = ChatClient(endpoint: endpoint, model: model, apiKey: ProcessInfo.processInfo.environment[apiKeyEnvironment], timeout: requestTimeout)

        let summary = try await runner.run(["validate"], campaign: nil)
        guard summary.exitCode == 0 else {
            throw ValidationError("cannot read the campaign's spec: " + String(decoding: summary.stderr + summary.stdout, as: UTF8.self))
        }
        let tools = AgentTools.reads + AgentTools.steering.filter { $0.effect == .steers || $0.effect == .cancels }
        let steering = Set(tools.filter { !$0.isReadOnly }.map(\.name))
        let known = Set(tools.map(\.name))
        var loop = PlannerLoop(
            campaign: campaign ?? directory.map { ($0 as NSString).lastPathComponent } ?? "the coordinator's",
            spec: String(decoding: summary.stdout, as: UTF8.self), toolNames: tools.map(\.name) + [PlannerLoop.finishTool],
            limits: PlannerLimits(steps: dryRun ? 1 : maxSteps, tokens: maxTokens))
        let schemas = tools.map(ToolRunner.describe).map { ChatClient.function($0.name, $0.description ?? "", $0.inputSchema) } + [
            ChatClient.function(PlannerLoop.finishTool, "Say the campaign needs nothing more from you.", .object([
                "type": "object", "properties": .object(["reason": .object(["type": "string", "description": "Why, in a sentence."])]),
                "required": .array(["reason"]),
            ])),
        ]

        var cursor: String?
        // The step whose end is in the transcript (each step's end is written once).
        var recorded = 0
        steps: while true {
            let digestText = try await Self.digest(runner, tokens: digestTokens, since: cursor)
            cursor = Self.cursor(digestText) ?? cursor
            if let ended = Self.ended(digestText), loop.step > 0 {
                loop.end(.campaignEnded, "the campaign ended: \(ended)")
                break
            }
            guard loop.begin(digest: digestText) != nil else { break }
            print("step \(loop.step): \(digestText.split(separator: "\n").first(where: { $0.hasPrefix("campaign ") }) ?? "")")
            turns: while true {
                let answer: ChatClient.Answer
                do {
                    answer = try await client.complete(loop.messages, tools: schemas)
                } catch {
                    loop.end(.serverFailed, "the model server failed: \(error)")
                    break steps
                }
                store.append(step: loop.step, messages: loop.messages, response: answer.raw)
                let tokens = answer.response?.usage?.totalTokens
                    ?? (loop.messages.reduce(0) { $0 + PlannerLoop.tokens($1.content ?? "") } + PlannerLoop.tokens(answer.raw))
                switch loop.received(answer.response?.choices.first?.message, tokens: tokens) {
                case .stop:
                    break steps
                case .askAgain:
                    continue turns
                case .endStep:
                    break turns
                case .call(let calls):
                    for call in calls {
                        guard known.contains(call.function.name) else {
                            guard loop.rejectArguments(call, why: "no tool '\(call.function.name.prefix(80))'; the tools are \(known.sorted().joined(separator: ", "))") else { break steps }
                            continue
                        }
                        guard let arguments = Self.arguments(call.function.arguments) else {
                            guard loop.rejectArguments(call, why: "the arguments of \(call.function.name) are not a JSON object: \(call.function.arguments.prefix(200))") else { break steps }
                            continue
                        }
                        let isSteering = steering.contains(call.function.name)
                        if dryRun, isSteering {
                            let shown = "\(call.function.name) \(call.function.arguments)"
                            print("would: \(shown)")
                            loop.record(call, answer: "dry run: not applied", isError: false, steering: false)
                            continue
                        }
                        let result = await runner.call(call.function.name, arguments: arguments, remember: false)
                        let text = Self.text(result)
                        if isSteering { print("\(call.function.name): \(text.split(separator: "\n").first ?? "")") }
                        guard loop.record(call, answer: text, isError: result.isError == true, steering: isSteering) else { break steps }
                    }
                }
            }
            store.append(step: loop.step, messages: loop.messages, response: nil)
            recorded = loop.step
            guard !dryRun else { break }
            // Wait for new results: the digest's cursor moves with every event and trial end.
            let started = Date()
            while Date().timeIntervalSince(started) < wait {
                try await Task.sleep(for: .seconds(poll))
                let look = try await Self.digest(runner, tokens: 64, since: cursor)
                if Self.cursor(look) != cursor || Self.ended(look) != nil { break }
            }
        }
        if recorded != loop.step { store.append(step: loop.step, messages: loop.messages, response: nil) }
        let reason = loop.stopped ?? (dryRun ? "dry run: one step" : "stopped")
        print("agent stopped after \(loop.step) steps, \(loop.tokensUsed) tokens: \(reason)")
        print("its exchanges: intern agent log --transcript \(store.path)")
        guard dryRun || loop.outcome?.isSuccess == true, store.problem == nil else { throw ExitCode(1) }
    }

    /// The campaign's digest as text (what each step's prompt carries), since a cursor.
    static func digest(_ runner: ToolRunner, tokens: Int, since cursor: String?) async throws -> String {
        let output = try await runner.run(["digest", "--tokens", String(tokens)] + (cursor.map { ["--since", $0] } ?? []), campaign: nil)
        guard output.exitCode == 0 else {
            throw ValidationError("cannot read the campaign's digest: " + String(decoding: output.stderr + output.stdout, as: UTF8.self))
        }
        return String(decoding: output.stdout, as: UTF8.self)
    }

    /// A tool result's text.
    static func text(_ result: CallTool.Result) -> String {
        result.content.compactMap { if case .text(let text, _, _) = $0 { text } else { nil } }.joined(separator: "\n")
    }

    /// The digest's cursor (its last line, `cursor N.T`).
    static func cursor(_ digest: String) -> String? {
        digest.split(separator: "\n").last { $0.hasPrefix("cursor ") }.map { String($0.dropFirst("cursor ".count)) }
    }

    /// Why the campaign is over, from the digest's state line (`campaign X: finished…`), or nil.
    static func ended(_ digest: String) -> String? {
        guard let line = digest.split(separator: "\n").first(where: { $0.hasPrefix("campaign ") }),
              let state = line.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        else { return nil }
        return state.hasPrefix("finished") || state.hasPrefix("stopped") ? String(state.prefix(200)) : nil
    }

    /// A tool call's arguments as MCP values, or nil when they are not a JSON object.
    static func arguments(_ json: String) -> [String: Value]? {
        let text = json.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = try? JSONDecoder().decode(Value.self, from: Data((text.isEmpty ? "{}" : text).utf8)),
              case .object(let object) = value
        else { return nil }
        return object
    }
}

/// `intern agent log`: what the planner sent and received, step by step.
struct AgentLog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "Show a planner run's exchanges with the model, step by step.")

    @Argument(help: "The campaign's name under --root.")
    var campaign: String?

    @Option(name: .long, help: "Where campaign directories live.")
    var root = ".intern"

    @Option(name: .long, help: "The campaign directory.")
    var dir: String?

    @Option(name: .long, help: "The transcript file (default: agent.zst in the campaign directory).")
    var transcript: String?

    func run() async throws {
        let path = transcript ?? "\(dir ?? "\(root)/\(campaign ?? "")")/agent.zst"
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("no planner transcript at \(path)") }
        // Frame by frame: a record cut by a kill while it was written is the only one lost.
        var text: [UInt8] = []
        var cut = false
        do {
            let decompressor = try ZstdDecompressor()
            try decompressor.decompress(Array(data), into: &text)
            cut = !decompressor.isAtFrameBoundary
        } catch {
            throw ValidationError("\(path) is not a transcript: \(error)")
        }
        defer { if cut { print("(the last record was cut: the planner stopped while writing it)") } }
        for line in text.split(separator: UInt8(ascii: "\n")) {
            guard let record = try? JSONDecoder().decode(Transcript.Record.self, from: Data(line)) else { continue }
            print("== step \(record.step)\(record.response == nil ? ", the step's end" : ", a request") ==")
            if record.response != nil, let last = record.messages.last { print(Self.render(last)) } else { record.messages.dropFirst().forEach { print(Self.render($0)) } }
            if let response = record.response { print("< model: \(response)") }
        }
    }

    static func render(_ message: ChatMessage) -> String {
        var text = "\(message.role): \(message.content ?? "")"
        for call in message.toolCalls ?? [] { text += "\n  call \(call.function.name) \(call.function.arguments)" }
        return text
    }
}

/// The planner's exchanges, appended as one zstd frame per record (JSON lines inside). A record
/// that cannot be written (a full disk, a file someone else owns) is said on stderr, once, and
/// makes the run exit 1: the transcript is a promise.
final class Transcript {
    let path: String
    private(set) var problem: String?

    init(path: String) { self.path = path }

    struct Record: Codable {
        var step: Int
        var at: Double
        var messages: [ChatMessage]
        var response: String?
    }

    func append(step: Int, messages: [ChatMessage], response: String?) {
        do {
            var line = try JSONEncoder().encode(Record(step: step, at: Date().timeIntervalSince1970, messages: messages, response: response))
            line.append(UInt8(ascii: "\n"))
            var frame: [UInt8] = []
            let compressor = try ZstdCompressor(level: 3)
            try compressor.compress(line, into: &frame)
            try compressor.finish(into: &frame)
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            guard let handle = FileHandle(forWritingAtPath: path) else { throw CocoaError(.fileWriteNoPermission) }
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: frame)
        } catch {
            guard problem == nil else { return }
            problem = "cannot write the transcript \(path): \(error); the exchanges from step \(step) on are not stored"
            FileHandle.standardError.write(Data("intern agent: \(problem!)\n".utf8))
        }
    }
}

/// A chat-completions client: one POST per turn, the answer decoded (or its text kept to say why not).
struct ChatClient: Sendable {
    let url: URL
    let model: String
    let apiKey: String?
    let timeout: Double

    init(endpoint: String, model: String, apiKey: String?, timeout: Double) {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.url = URL(string: base.hasSuffix("/chat/completions") ? base : base + "/chat/completions")!
        self.model = model
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.timeout = timeout
    }

    struct Answer {
        var raw: String
        var response: ChatResponse?
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// An OpenAI tool: a function with its JSON schema.
    static func function(_ name: String, _ description: String, _ parameters: Value) -> Value {
        .object(["type": "function", "function": .object(["name": .string(name), "description": .string(description), "parameters": parameters])])
    }

    func complete(_ messages: [ChatMessage], tools: [Value]) async throws -> Answer {
        let encodedMessages = try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(messages))
        let body: Value = .object([
            "model": .string(model), "messages": encodedMessages, "tools": .array(tools), "tool_choice": "auto", "temperature": 0,
        ])
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        request.httpBody = try JSONEncoder().encode(body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let raw = String(decoding: data.prefix(1 << 20), as: UTF8.self)
        guard let http = response as? HTTPURLResponse, (200..<300).contains(http.statusCode) else {
            throw Failure(description: "HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0) from \(url): \(raw.prefix(500))")
        }
        return Answer(raw: raw, response: try? JSONDecoder().decode(ChatResponse.self, from: data))
    }
}
