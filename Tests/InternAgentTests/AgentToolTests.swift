import InternAgent
import Testing

/// What an agent's call becomes: checked arguments, one argv element each, never an option
/// smuggled in; and answers cut to the budget in pages, never silently.
@Suite struct AgentToolTests {
    @Test func argumentsAreCheckedAndBecomeTheCommandsArgv() throws {
        let logs = try #require(AgentTools.named("logs"))
        #expect(try logs.arguments(["trial": .integer(7)]) == ["logs", "7", "--condensed"])
        #expect(try logs.arguments(["trial": .integer(7), "attempt": .integer(2), "stream": .string("stderr"), "raw": .boolean(true)])
                == ["logs", "7", "--attempt", "2", "--stream", "stderr"])
        #expect(throws: ToolError.self) { try logs.arguments([:]) }  // trial is required
        #expect(throws: ToolError.self) { try logs.arguments(["trial": .string("7")]) }  // of its kind
        #expect(throws: ToolError.self) { try logs.arguments(["trial": .integer(0)]) }  // within its bounds
        #expect(throws: ToolError.self) { try logs.arguments(["trial": .integer(1), "stream": .string("/etc/passwd")]) }
        #expect(throws: ToolError.self) { try logs.arguments(["trial": .integer(1), "follow": .boolean(true)]) }  // unknown
        #expect(throws: ToolError.self) { try logs.arguments(["trial": .integer(1), "campaign": .string("../x")]) }
        // Free text goes after `--`: a pattern that looks like an option stays a pattern.
        let grep = try #require(AgentTools.named("grep"))
        #expect(try grep.arguments(["text": .string("--root=/")]) == ["grep", "--max", "50", "--", "--root=/"])
        let digest = try #require(AgentTools.named("digest"))
        #expect(try digest.arguments(["tokens": .integer(300), "since": .string("4.17")]) == ["digest", "--json", "--tokens", "300", "--since", "4.17"])
    }

    @Test func steeringToolsBecomeTheirCommands_andSayWhatTheyDo() throws {
        let propose = try #require(AgentTools.named("propose"))
        #expect(propose.effect == .steers && !propose.isReadOnly)
        #expect(try propose.arguments(["configurations": .json(#"[{"lr":0.1}]"#)]) == ["add", "--json", #"[{"lr":0.1}]"#])
        #expect(throws: ToolError.self) { try propose.arguments(["configurations": .string("lr=0.1")]) }
        #expect(throws: ToolError.self) { try propose.arguments(["configurations": .json(String(repeating: " ", count: 70_000))]) }
        let add = try #require(AgentTools.named("add_trials"))
        #expect(try add.arguments(["trials": .integer(3), "hours": .number(1.5), "gpu_hours": .integer(2)])
                == ["add", "--trials", "3", "--hours", "1.5", "--gpu-hours", "2.0"])
        #expect(throws: ToolError.self) { try add.arguments(["hours": .number(-1)]) }
        #expect(throws: ToolError.self) { try add.arguments(["hours": .number(.infinity)]) }
        #expect(try AgentTools.named("resume")?.arguments([:]) == ["resume", "--if-running"])
        #expect(AgentTools.named("cancel")?.effect == .cancels)
        let validate = try #require(AgentTools.named("validate_spec"))
        #expect(validate.isReadOnly && !validate.parameters.contains { $0.name == "campaign" })
        #expect(try validate.arguments(["spec": .string("--help")]) == ["validate", "--", "--help"])
        #expect(try AgentTools.named("start_campaign")?.arguments(["spec": .string("a.yaml")]) == ["run", "--quiet", "--workers", "2", "--", "a.yaml"])
    }

    @Test func labToolsReadAndNoteAcrossCampaigns_andValidationIsASteering() throws {
        let recall = try #require(AgentTools.named("recall"))
        #expect(recall.effect == .readsLab && recall.isReadOnly)
        // Free text after `--`: words that look like options stay words.
        #expect(try recall.arguments(["text": .string("--root=/ oom"), "tokens": .integer(300)]) == ["recall", "--tokens", "300", "--", "--root=/ oom"])
        #expect(throws: ToolError.self) { try recall.arguments(["tokens": .integer(300)]) }  // text is required
        #expect(throws: ToolError.self) { try recall.arguments(["text": .string("x"), "tokens": .integer(10)]) }
        let note = try #require(AgentTools.named("note"))
        #expect(note.effect == .writesLab && !note.isReadOnly)
        #expect(try note.arguments(["subject": .string("3fa2b9c1"), "text": .string("--pin it")]) == ["note", "--", "3fa2b9c1", "--pin it"])
        let validate = try #require(AgentTools.named("validate_results"))
        #expect(validate.effect == .steers)
        #expect(try validate.arguments(["top": .integer(2), "repeats": .integer(4)]) == ["validate", "--results", "--top", "2", "--repeats", "4"])
        #expect(throws: ToolError.self) { try validate.arguments(["repeats": .integer(1)]) }
    }

    @Test func aLongAnswerComesInPagesThatSayWhatIsLeft() {
        let pager = AnswerPager(budget: 100)
        let answer = (1...200).map { "line \($0) of a long log" }.joined(separator: "\n")
        let first = pager.page(answer)
        #expect(first.count > 1 && first.number == 1)
        #expect(first.text.hasSuffix("[page 1 of \(first.count): call again with page: 2 for more]"))
        // Every line is on exactly one page, in order.
        var lines: [Substring] = []
        for number in 1...first.count {
            lines += pager.page(answer, number: number).text.split(separator: "\n").dropLast()
        }
        #expect(lines.joined(separator: "\n") == answer)
        #expect(pager.page(answer, number: first.count).text.hasSuffix("the end]"))
        // A short answer is whole, with no note; a single line longer than a page is cut, not lost.
        #expect(pager.page("short").text == "short")
        let wide = String(repeating: "x", count: 2_000)
        let pieces = pager.page(wide)
        #expect(pieces.count > 1 && (1...pieces.count).map { pager.page(wide, number: $0).text.split(separator: "\n")[0] }.joined() == wide)
    }

    @Test func theSameReadWithNothingChangedIsAnsweredInALine() {
        var memory = ReadMemory()
        #expect(memory.unchanged(call: "status", answer: "3 running") == nil)
        #expect(memory.unchanged(call: "status", answer: "3 running") == "unchanged since read 1 (same answer; ask another tool, or later)")
        #expect(memory.unchanged(call: "status", answer: "2 running") == nil)
        #expect(memory.unchanged(call: "best", answer: "2 running") == nil)
    }
}
