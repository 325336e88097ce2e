import Foundation
import InternTestKit
import Testing

/// `intern agent` against a scripted OpenAI-compatible server (Fixtures/chat_server.py: the real
/// chat-completions JSON, tool calls included) while a campaign runs: a loop that improves the
/// objective; a model that keeps proposing a failing configuration, or asks beyond the policy, or
/// answers malformed: refused, nothing applied, the run ends with a clear reason.
@Suite(.serialized) struct AgentEndToEndTests {
    /// A running campaign over x in {0, 1, 7, 20} whose loss is (x - 7)²: the grid's trials 1 (x=0,
    /// waiting for `go`) and 2 (x=1); x=20 fails as a missing module does.
    struct Scene {
        let dir: TemporaryDirectory
        let run: ChildProcess
        let chat: ChildProcess
        let endpoint: String
        var campaign: String { dir.file(".intern/quad") }

        init(script: String) async throws {
            dir = try TemporaryDirectory(prefix: "intern-agent")
            let spec = try dir.write("c.yaml", """
                name: quad
                shell: "x={x}; if [ $x = 20 ]; then echo \\"ModuleNotFoundError: No module named 'trl_nightly'\\" >&2; exit 1; fi; printf '{{\\"loss\\": %s}}\\\\n' $(( (x - 7) * (x - 7) )); while [ {trial} = 1 ] && [ ! -e go ]; do sleep 0.05; done"
                space:
                  x: {type: choice, values: [0, 1, 7, 20]}
                sampler: grid
                trials: 2
                parallel: 2
                objective: {metric: loss, direction: minimize}
                """)
            chat = try InternBinary.startProgram(
                ["/usr/bin/env", "python3", CampaignEndToEndTests.fixtures + "/chat_server.py", script, dir.file("port"), dir.file("requests.jsonl")],
                in: dir.path)
            run = try InternBinary.start(["run", spec, "--workers", "2", "--quiet", "--root", dir.file(".intern")], in: dir.path)
            let dir = dir
            try await eventually("the chat server listens", timeout: .seconds(20)) { FileManager.default.fileExists(atPath: dir.file("port")) }
            endpoint = "http://127.0.0.1:\(try String(contentsOfFile: dir.file("port"), encoding: .utf8))/v1"
            let campaign = dir.file(".intern/quad")
            try await eventually("trial 2 completed", timeout: .seconds(30)) {
                (try? await InternBinary.run(["status", "--dir", campaign], in: dir.path, timeout: .seconds(10)))?.stdout.contains("1 completed") == true
            }
        }

        func agent(_ extra: [String] = []) async throws -> InternBinary.Result {
            try await InternBinary.run(
                ["agent", "quad", "--root", dir.file(".intern"), "--endpoint", endpoint, "--model", "scripted", "--poll", "0.2", "--wait", "20"] + extra,
                in: dir.path, timeout: .seconds(120))
        }

        func trialCount() async throws -> Int {
            let trials = try await InternBinary.run(["trials", "--json", "--dir", campaign], in: dir.path)
            return (try JSONSerialization.jsonObject(with: Data(trials.stdout.utf8)) as? [Any])?.count ?? -1
        }

        /// Lets trial 1 end and the campaign finish; stops the chat server.
        func finish() async throws -> Int32 {
            try "".write(toFile: dir.file("go"), atomically: true, encoding: .utf8)
            let status = try await run.finish(timeout: .seconds(60)).status
            chat.signal(SIGTERM)
            _ = try? await chat.finish(timeout: .seconds(10))
            dir.remove()
            return status
        }

        var requests: [[String: Any]] {
            ((try? String(contentsOfFile: dir.file("requests.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
    }

    @Test func aLoopThatImprovesTheObjective() async throws {
        let scene = try await Scene(script: "improve")
        let agent = try await scene.agent()
        #expect(agent.status == 0, "\(agent.stdout)\(agent.stderr)")
        #expect(agent.stdout.contains("propose: 1 configuration enqueued"), "\(agent.stdout)")
        #expect(agent.stdout.contains("agent stopped after 2 steps") && agent.stdout.contains("the model finished: x=7 reached loss 0"), "\(agent.stdout)")
        // The model saw the campaign's goal and space, and the tools with their schemas.
        let first = try #require(scene.requests.first)
        let messages = try #require(first["messages"] as? [[String: Any]])
        #expect((messages[0]["content"] as? String)?.contains("space: x (one of 0, 1, 7, 20)") == true, "\(messages[0])")
        #expect((messages[1]["content"] as? String)?.contains("## Best") == true)
        let tools = try #require(first["tools"] as? [[String: Any]]).compactMap { ($0["function"] as? [String: Any])?["name"] as? String }
        #expect(Set(tools).isSuperset(of: ["digest", "best", "propose", "pause", "cancel", "finish"]) && !tools.contains("start_campaign"))
        // Step 2 starts afresh: the system prompt, the digest since step 1, and the outcome of the proposal.
        let step2 = try #require(scene.requests.last?["messages"] as? [[String: Any]])
        #expect(step2.count == 2 && (step2[1]["content"] as? String)?.contains("Step 2.") == true)
        #expect((step2[1]["content"] as? String)?.contains("Your last actions:\n- propose") == true, "\(step2[1])")
        let best = try await InternBinary.run(["best", "--dir", scene.campaign], in: scene.dir.path)
        #expect(best.stdout.contains("x = 7") && best.stdout.contains("loss       0 (minimize)"), "\(best.stdout)")
        let status = try await InternBinary.run(["status", "--dir", scene.campaign, "--events", "20"], in: scene.dir.path)
        #expect(status.stdout.contains("(by agent:planner.scripted)"), "\(status.stdout)")
        // The report and the digest say who steered, too.
        let report = try await InternBinary.run(["report", "--dir", scene.campaign, "--format", "md"], in: scene.dir.path)
        #expect(report.stdout.contains("## Steering") && report.stdout.contains("campaign.added 1 configuration enqueued (3 trials in all) (by agent:planner.scripted)"),
                "\(report.stdout)")
        let digest = try await InternBinary.run(["digest", "--dir", scene.campaign], in: scene.dir.path)
        #expect(digest.stdout.contains("## Steering\n") && digest.stdout.contains("(by agent:planner.scripted)"), "\(digest.stdout)")
        let log = try await InternBinary.run(["agent", "log", "quad", "--root", scene.dir.file(".intern")], in: scene.dir.path)
        #expect(log.status == 0 && log.stdout.contains("== step 1") && log.stdout.contains("call propose"), "\(log.stdout)")
        #expect(try await scene.finish() == 0)
    }

    @Test func aModelThatKeepsProposingAFailingConfigurationIsStopped_withoutBurningTheBudget() async throws {
        let scene = try await Scene(script: "failing")
        let person = try await InternBinary.run(["add", "--dir", scene.campaign, "--json", #"{"x": 20}"#], in: scene.dir.path)
        #expect(person.status == 0, "\(person.stdout)")
        let campaign = scene.campaign, path = scene.dir.path
        try await eventually("x=20 failed", timeout: .seconds(30)) {
            (try? await InternBinary.run(["failures", "--dir", campaign], in: path, timeout: .seconds(10)))?.stdout.contains("ModuleNotFoundError") == true
        }
        let before = try await scene.trialCount()
        let agent = try await scene.agent()
        #expect(agent.status == 1, "\(agent.stdout)\(agent.stderr)")
        #expect(agent.stdout.contains("3 steering requests in a row were refused"), "\(agent.stdout)")
        #expect(agent.stdout.contains("failed with a user error"), "\(agent.stdout)")
        #expect(scene.requests.count == 3, "one step, three proposals, no more")
        #expect(try await scene.trialCount() == before, "nothing was added")
        #expect(try await scene.finish() == 0)
    }

    @Test func aModelThatExceedsThePolicyIsRefused_namingTheLimit() async throws {
        let scene = try await Scene(script: "policy")
        let before = try await scene.trialCount()
        let agent = try await scene.agent(["--max-trials", "5"])
        #expect(agent.status == 0, "\(agent.stdout)\(agent.stderr)")
        let second = try #require(scene.requests.last?["messages"] as? [[String: Any]])
        let refusal = second.last?["content"] as? String ?? ""
        #expect(refusal.contains("refused: agents may add at most 5 trials to this campaign (agent.max_trials); 0 added so far, this asks for 100"), "\(refusal)")
        #expect(try await scene.trialCount() == before)
        // A transcript that cannot be written is said, and the run exits 1: every exchange is promised stored.
        let unstored = try await scene.agent(["--transcript", scene.dir.file("missing/agent.zst")])
        #expect(unstored.status == 1 && unstored.stderr.contains("cannot write the transcript"), "\(unstored.stdout)\(unstored.stderr)")
        // --dry-run: one step, the steering shown and not applied.
        let dry = try await scene.agent(["--dry-run", "--allow-cancel"])
        #expect(dry.status == 0 && dry.stdout.contains(#"would: add_trials {"trials": 100}"#) && dry.stdout.contains("after 1 steps"), "\(dry.stdout)")
        #expect(try await scene.trialCount() == before)
        #expect(try await scene.finish() == 0)
    }

    @Test func malformedModelOutputIsAClearError_andNothingIsApplied() async throws {
        for script in ["malformed", "garbage"] {
            let scene = try await Scene(script: script)
            let before = try await scene.trialCount()
            let agent = try await scene.agent()
            #expect(agent.status == 1, "\(agent.stdout)\(agent.stderr)")
            #expect(agent.stdout.contains("the model's answers were malformed 2 times in a row"), "\(script): \(agent.stdout)")
            #expect(agent.stdout.contains(script == "malformed" ? "are not a JSON object: {configurations: [x=7" : "no assistant message"),
                    "\(script): \(agent.stdout)")
            #expect(try await scene.trialCount() == before)
            #expect(try await scene.finish() == 0)
        }
    }
}
