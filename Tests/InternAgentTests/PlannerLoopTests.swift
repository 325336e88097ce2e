import InternAgent
import Testing

/// The planner's state manager alone: what each step's prompt holds, what an answer means, and
/// when the run stops.
@Suite struct PlannerLoopTests {
    static func loop(steps: Int = 100, tokens: Int = 1_000_000) -> PlannerLoop {
        PlannerLoop(campaign: "c", spec: "space: x (one of 1, 2)", toolNames: ["digest", "propose", "finish"], limits: PlannerLimits(steps: steps, tokens: tokens))
    }

    static func call(_ name: String, _ arguments: String = "{}", id: String = "1") -> ChatMessage {
        ChatMessage(role: "assistant", content: nil, toolCalls: [ChatMessage.ToolCall(id: id, name: name, arguments: arguments)])
    }

    @Test func everyStepStartsAfresh_withTheDigestAndABoundedListOfOutcomes() throws {
        var loop = Self.loop()
        for step in 1...30 {
            let begun = loop.begin(digest: "digest \(step)")
            let opening = try #require(begun)
            #expect(opening.count == 2 && opening[0].content == loop.system)
            #expect(opening[1].content?.hasPrefix("Step \(step). The campaign's digest:\ndigest \(step)") == true)
            let call = Self.call("propose", #"{"configurations": [{"x": 1}]}"#)
            let r1 = loop.received(call, tokens: 10)
            #expect(r1 == .call(call.toolCalls!))
            let r2 = loop.record(call.toolCalls![0], answer: String(repeating: "a long answer ", count: 100), isError: false, steering: true)
            #expect(r2)
            let r3 = loop.received(ChatMessage(role: "assistant", content: "waiting"), tokens: 10)
            #expect(r3 == .endStep)
        }
        #expect(loop.outcomes.count == PlannerLoop.keptOutcomes && loop.outcomes.allSatisfy { $0.count <= PlannerLoop.outcomeLength })
        let begun = loop.begin(digest: "d")
        let last = try #require(begun)
        #expect(last[1].content!.count < 8 * (PlannerLoop.outcomeLength + 3) + 100, "the prompt does not grow with the steps")
        #expect(loop.tokensUsed == 600)
    }

    @Test func threeRefusalsInARowStopTheRun_anAppliedOneStartsTheCountAgain() throws {
        var loop = Self.loop()
        _ = loop.begin(digest: "d")
        let call = Self.call("propose").toolCalls![0]
        let r4 = loop.record(call, answer: "refused: no", isError: true, steering: true)
        #expect(r4)
        let r5 = loop.record(call, answer: "refused: no", isError: true, steering: true)
        #expect(r5)
        let r6 = loop.record(call, answer: "enqueued as trial 4", isError: false, steering: true)
        #expect(r6)
        let r7 = loop.record(call, answer: "refused: no", isError: true, steering: true)
        #expect(r7)
        let r8 = loop.record(call, answer: "refused: no", isError: true, steering: true)
        #expect(r8)
        let r9 = loop.record(call, answer: "a read that failed", isError: true, steering: false)
        #expect(r9, "a failed read is not a refusal")
        let r10 = loop.record(call, answer: "refused: trial 3 failed with a user error", isError: true, steering: true)
        #expect(!r10)
        #expect(loop.stopped == "3 steering requests in a row were refused; the last: refused: trial 3 failed with a user error")
        #expect(loop.outcome == .refusals)
        let r11 = loop.begin(digest: "d")
        #expect(r11 == nil)
    }

    @Test func malformedAnswersTwiceInARowStopTheRun() throws {
        var loop = Self.loop()
        _ = loop.begin(digest: "d")
        let r12 = loop.received(nil, tokens: 5)
        #expect(r12 == .askAgain)
        #expect(loop.messages.last?.role == "user" && loop.messages.last?.content?.contains("could not be used") == true)
        let call = Self.call("propose", "{x=").toolCalls![0]
        let r13 = loop.rejectArguments(call, why: "the arguments are not JSON")
        #expect(!r13)
        #expect(loop.stopped?.hasPrefix("the model's answers were malformed 2 times in a row") == true)
        // A usable answer in between starts the count again.
        var other = Self.loop()
        _ = other.begin(digest: "d")
        let r14 = other.rejectArguments(call, why: "x")
        #expect(r14)
        other.record(Self.call("digest").toolCalls![0], answer: "ok", isError: false, steering: false)
        let r15 = other.rejectArguments(call, why: "x")
        #expect(r15 && other.stopped == nil)
    }

    @Test func finishAndTheLimitsEndTheRun() throws {
        var loop = Self.loop(steps: 2, tokens: 100)
        _ = loop.begin(digest: "d")
        let r16 = loop.received(Self.call("finish", #"{"reason": "x=7 is the optimum"}"#), tokens: 1)
        #expect(r16 == .stop)
        #expect(loop.stopped == "the model finished: x=7 is the optimum" && loop.outcome == .modelFinished && loop.outcome?.isSuccess == true)
        var steps = Self.loop(steps: 1)
        _ = steps.begin(digest: "d")
        let r17 = steps.begin(digest: "d")
        #expect(r17 == nil && steps.stopped == "the step limit (1) is reached")
        var tokens = Self.loop(tokens: 100)
        _ = tokens.begin(digest: "d")
        _ = tokens.received(ChatMessage(role: "assistant", content: "x"), tokens: 150)
        let r18 = tokens.begin(digest: "d")
        #expect(r18 == nil && tokens.stopped?.hasPrefix("the token limit (100) is reached") == true)
    }
}
