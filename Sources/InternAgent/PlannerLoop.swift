import InternReport

/// A chat message as OpenAI-compatible chat-completions servers exchange them (vLLM, llama.cpp's
/// server, Ollama, hosted APIs): a role, text, and an assistant's tool calls or a tool's answer.
public struct ChatMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String?
    public var toolCalls: [ToolCall]?
    public var toolCallID: String?

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    public init(role: String, content: String?, toolCalls: [ToolCall]? = nil, toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    /// One tool call of an assistant's message: the tool and its arguments as JSON text.
    public struct ToolCall: Codable, Sendable, Equatable {
        public var id: String
        public var type: String?
        public var function: Function

        public struct Function: Codable, Sendable, Equatable {
            public var name: String
            public var arguments: String

            public init(name: String, arguments: String) {
                self.name = name
                self.arguments = arguments
            }
        }

        public init(id: String, name: String, arguments: String) {
            self.id = id
            self.type = "function"
            self.function = Function(name: name, arguments: arguments)
        }
    }
}

/// A chat-completions answer: its first choice's message and the tokens it took.
public struct ChatResponse: Decodable, Sendable {
    public var choices: [Choice]
    public var usage: Usage?

    public struct Choice: Decodable, Sendable {
        public var message: ChatMessage
    }

    public struct Usage: Decodable, Sendable {
        public var promptTokens: Int?
        public var completionTokens: Int?
        public var totalTokens: Int?

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
    }
}

/// The limits of a planner run.
public struct PlannerLimits: Sendable, Equatable {
    /// The most steps (one step: the digest in, the model's tool calls, their answers).
    public var steps: Int
    /// The most tokens the whole run may take (the server's count, or intern's where it gives none).
    public var tokens: Int
    /// The most rounds of tool calls within one step.
    public var roundsPerStep = 6
    /// Steering requests refused in a row that end the run: a model that keeps proposing what the
    /// guardrails turn down is not given the budget to burn.
    public var refusalsInARow = 3
    /// Answers in a row that are not usable (no message, an unknown tool, arguments that are not
    /// JSON) that end the run.
    public var malformedInARow = 2

    public init(steps: Int, tokens: Int) {
        self.steps = steps
        self.tokens = tokens
    }
}

/// The planner's state manager: what goes into each step's prompt, what the model's answer means,
/// and when the run stops. Pure: the shell (`intern agent`) sends the messages, runs the tools and
/// waits for new results.
///
/// The context stays bounded however long the campaign runs: every step starts a new conversation
/// with the system prompt (the campaign's goal, space, constraints and policy: fixed), the digest
/// since the last step's cursor (within its token budget), and the outcomes of the last few actions
/// (a bounded list); within a step, at most ``PlannerLimits/roundsPerStep`` rounds of tool calls,
/// each answer within the tools' page budget.
public struct PlannerLoop: Sendable {
    public let limits: PlannerLimits
    public let system: String
    public private(set) var step = 0
    public private(set) var tokensUsed = 0
    /// Why the run ended, once it has.
    public private(set) var stopped: String?
    /// Why the run ended, as a script needs to know it (``Outcome/isSuccess``).
    public private(set) var outcome: Outcome?

    /// How a run ended.
    public enum Outcome: Sendable, Equatable {
        case campaignEnded, modelFinished, stepLimit, tokenLimit, refusals, malformed, serverFailed
        /// The run did what it was for: the campaign or the model is done, or the steps asked for ran.
        public var isSuccess: Bool { self == .campaignEnded || self == .modelFinished || self == .stepLimit }
    }
    /// The current step's conversation.
    public private(set) var messages: [ChatMessage] = []
    private var rounds = 0
    private var refusals = 0
    private var malformed = 0
    /// The last outcomes, newest last, each at most ``outcomeLength`` characters.
    public private(set) var outcomes: [String] = []
    public static let keptOutcomes = 8
    public static let outcomeLength = 300

    /// The tool the model calls to say it is done.
    public static let finishTool = "finish"

    public init(campaign: String, spec: String, toolNames: [String], limits: PlannerLimits) {
        self.limits = limits
        self.system = """
            You steer the ML experiment campaign `\(campaign)` run by intern. Each step you get the campaign's \
            digest (what changed since your last step) and the outcomes of your last actions. Use the tools \
            (\(toolNames.joined(separator: ", "))) to look closer and to act: propose configurations that test \
            what the results suggest, never one that failed with a user error or one that already ran; pause or \
            add trials only when the results call for it. intern checks every action against the space, the \
            failure memory and the limits a person set, and tells you what it refused and why: do not repeat a \
            refused action. When a step needs nothing more, answer in one line without a tool call and wait for \
            new results. Call `\(Self.finishTool)` with a reason when the campaign needs nothing more from you.
            The campaign:
            \(spec)
            """
    }

    /// The next step's opening messages, or `nil` when a limit ends the run (``stopped`` says which).
    public mutating func begin(digest: String) -> [ChatMessage]? {
        guard stopped == nil else { return nil }
        guard step < limits.steps else { return stop(.stepLimit, "the step limit (\(limits.steps)) is reached") }
        guard tokensUsed < limits.tokens else { return stop(.tokenLimit, "the token limit (\(limits.tokens)) is reached: \(tokensUsed) used") }
        step += 1
        rounds = 0
        var user = "Step \(step). The campaign's digest:\n\(digest)"
        if !outcomes.isEmpty { user += "\nYour last actions:\n" + outcomes.map { "- " + $0 }.joined(separator: "\n") }
        messages = [ChatMessage(role: "system", content: system), ChatMessage(role: "user", content: user)]
        return messages
    }

    /// What the model's answer asks for.
    public enum Turn: Sendable, Equatable {
        /// Run these tool calls, then ask again (``record(_:answer:isError:steering:)`` each).
        case call([ChatMessage.ToolCall])
        /// The step is over: wait for new results.
        case endStep
        /// The answer could not be used: send the conversation again (it says why).
        case askAgain
        /// The run is over (the model finished, or a limit; ``stopped`` says why).
        case stop
    }

    /// Takes the model's answer (`tokens`: what it took, by the server's count or intern's). A call
    /// of a tool that does not exist or with arguments that are not a JSON object is the shell's
    /// to refuse (``rejectArguments(_:why:)``), so that every call gets its answer.
    public mutating func received(_ message: ChatMessage?, tokens: Int) -> Turn {
        tokensUsed += max(0, tokens)
        guard let message, message.role == "assistant" || message.role.isEmpty else {
            return malformedAnswer("the model's answer has no assistant message")
        }
        messages.append(message)
        let calls = message.toolCalls ?? []
        if calls.isEmpty {
            malformed = 0
            return .endStep
        }
        if let finish = calls.first(where: { $0.function.name == Self.finishTool }) {
            _ = stop(.modelFinished, "the model finished: \(Self.reason(finish.function.arguments))")
            return .stop
        }
        rounds += 1
        guard rounds <= limits.roundsPerStep else { return .endStep }
        return .call(calls)
    }

    /// Records a tool's answer in the conversation and in the outcomes; a steering request refused
    /// (`isError`) counts towards the refusals that end the run, one applied starts the count again.
    /// Returns whether the run goes on.
    @discardableResult
    public mutating func record(_ call: ChatMessage.ToolCall, answer: String, isError: Bool, steering: Bool) -> Bool {
        messages.append(ChatMessage(role: "tool", content: answer, toolCallID: call.id))
        malformed = 0
        guard steering || isError else { return true }
        let outcome = "\(call.function.name) \(call.function.arguments.prefix(120)): \(isError ? "refused: " : "")\(answer)"
        outcomes.append(String(outcome.prefix(Self.outcomeLength)))
        if outcomes.count > Self.keptOutcomes { outcomes.removeFirst(outcomes.count - Self.keptOutcomes) }
        guard steering else { return true }
        if isError {
            refusals += 1
            if refusals >= limits.refusalsInARow {
                _ = stop(.refusals, "\(refusals) steering requests in a row were refused; the last: \(answer.prefix(200))")
                return false
            }
        } else {
            refusals = 0
        }
        return true
    }

    /// Arguments that are not a JSON object: told to the model as the tool's error, nothing run.
    public mutating func rejectArguments(_ call: ChatMessage.ToolCall, why: String) -> Bool {
        messages.append(ChatMessage(role: "tool", content: "not run: \(why)", toolCallID: call.id))
        malformed += 1
        if malformed >= limits.malformedInARow {
            _ = stop(.malformed, "the model's answers were malformed \(malformed) times in a row; the last: \(why)")
            return false
        }
        return true
    }

    /// Ends the run for a reason from outside (the campaign ended, the server failed).
    public mutating func end(_ outcome: Outcome, _ reason: String) {
        _ = stop(outcome, reason)
    }

    private mutating func malformedAnswer(_ why: String) -> Turn {
        malformed += 1
        if malformed >= limits.malformedInARow {
            _ = stop(.malformed, "the model's answers were malformed \(malformed) times in a row; the last: \(why)")
            return .stop
        }
        messages.append(ChatMessage(role: "user", content: "Your last answer could not be used: \(why). Answer with a tool call or one line."))
        return .askAgain
    }

    private mutating func stop(_ outcome: Outcome, _ reason: String) -> [ChatMessage]? {
        if stopped == nil {
            stopped = reason
            self.outcome = outcome
        }
        return nil
    }

    /// The `reason` of a finish call's arguments, or the arguments themselves.
    static func reason(_ arguments: String) -> String {
        if let start = arguments.range(of: "\"reason\""), let colon = arguments[start.upperBound...].firstIndex(of: ":") {
            let rest = arguments[arguments.index(after: colon)...].drop { $0 == " " || $0 == "\"" }
            return String(rest.prefix { $0 != "\"" }.prefix(300))
        }
        return String(arguments.prefix(300))
    }

    /// Tokens of a text, as the digest counts them, for servers that give no usage.
    public static func tokens(_ text: String) -> Int { CampaignDigest.tokens(text) }
}
