import Foundation
import InternTestKit
import Testing

/// `intern mcp` driven by a client intern did not write: the official MCP Python SDK (`make`
/// installs it into `.build/mcp-venv`), over stdio, while a campaign runs.
@Suite(.serialized) struct MCPEndToEndTests {
    /// The venv's python (`INTERN_MCP_PYTHON` overrides).
    static var python: String {
        if let explicit = ProcessInfo.processInfo.environment["INTERN_MCP_PYTHON"] { return explicit }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/mcp-venv/bin/python").path
    }

    @Test func anAgentsClientReadsARunningCampaign_inPages_andBadCallsAreToolErrors() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no MCP client at \(Self.python): run `make test` (it makes the venv)")
        let dir = try TemporaryDirectory(prefix: "intern-mcp")
        defer { dir.remove() }
        // Trial 1 prints 200 lines and waits for `go`; trial 2 ends at once.
        let spec = try dir.write("c.yaml", """
            name: mcp
            shell: "i=1; while [ $i -le 200 ]; do echo line $i of trial {trial}; i=$((i+1)); done; printf '{{\\"loss\\": 0.%s}}\\\\n' {trial}; while [ {trial} = 1 ] && [ ! -e go ]; do sleep 0.05; done"
            trials: 2
            parallel: 1
            objective: {metric: loss, direction: minimize}
            """)
        let run = try InternBinary.start(["run", spec, "--workers", "1", "--quiet", "--root", dir.file(".intern")], in: dir.path)
        try await eventually("trial 1 printed its lines", timeout: .seconds(30)) {
            (try? String(contentsOfFile: dir.file(".intern/mcp/logs/trial-1/attempt-1.stdout.zst"), encoding: .isoLatin1).count) ?? 0 > 0
        }
        try await Task.sleep(for: .milliseconds(600))  // past the worker's 250 ms flush

        let client = try await ProcessRunner.run(
            [Self.python, CampaignEndToEndTests.fixtures + "/mcp_client.py", InternBinary.path, dir.file(".intern")],
            in: dir.path, timeout: .seconds(60))
        try "".write(toFile: dir.file("go"), atomically: true, encoding: .utf8)
        #expect(try await run.finish(timeout: .seconds(60)).status == 0)
        #expect(client.status == 0, "\(client.stderr)")
        let answers = try #require(try JSONSerialization.jsonObject(with: client.stdoutBytes) as? [String: Any], "\(client.stdout)\n\(client.stderr)")

        #expect(answers["server"] as? String == "intern")
        #expect(answers["tools"] as? [String] == [
            "add_trials", "best", "cancel", "diff", "digest", "failures", "grep", "list_campaigns", "logs", "metrics", "note", "pause", "propose",
            "recall", "report", "resume", "start_campaign", "status", "trials", "validate_results", "validate_spec",
        ])
        let schema = try #require(answers["logs_schema"] as? [String: Any])
        #expect(schema["required"] as? [String] == ["trial"])
        #expect(answers["campaigns"] as? String == "mcp")
        // While trial 1 runs.
        let status = try #require(answers["status"] as? [String: Any])
        #expect(status["error"] as? Bool == false)
        #expect((status["text"] as? String)?.contains("running") == true, "\(status)")
        // The same read again, nothing changed: a line.
        #expect(answers["metrics"] as? String != nil && (answers["metrics"] as? String)?.hasPrefix("unchanged") == false)
        #expect((answers["metrics_again"] as? String)?.hasPrefix("unchanged since read") == true, "\(answers["metrics_again"] ?? "")")
        // JSON answers come structured too.
        let digest = try #require(answers["digest"] as? [String: Any])
        #expect(digest["error"] as? Bool == false)
        #expect((digest["structured"] as? [String: Any])?["cursor"] != nil, "\(digest)")
        // 200 lines do not fit 300 tokens: page 1 says so, page 2 goes on where it stopped.
        let logs = try #require(answers["logs"] as? [String: Any])
        let page1 = try #require(logs["text"] as? String)
        #expect(page1.hasPrefix("line 1 of trial 1") && page1.contains("[page 1 of "))
        let page2 = try #require(answers["logs_page2"] as? String)
        let lastOnPage1 = page1.split(separator: "\n").dropLast().last.map(String.init) ?? ""
        let number = Int(lastOnPage1.split(separator: " ")[1])!
        #expect(page2.hasPrefix("line \(number + 1) of trial 1"), "\(lastOnPage1) then \(page2.prefix(40))")
        // Each campaign's digest and report are resources; two prompts set an agent to work.
        #expect(answers["resources"] as? [String] == ["intern://mcp/digest", "intern://mcp/report"])
        #expect((answers["digest_resource"] as? String)?.contains("cursor") == true, "\(answers["digest_resource"] ?? "")")
        #expect(answers["prompts"] as? [String] == ["propose_next", "review_campaign"])
        #expect((answers["review"] as? String)?.hasPrefix("Review the campaign `mcp` with intern's tools") == true)
        // Bad calls are tool errors, and nothing ran.
        let bad = try #require(answers["bad"] as? [String: Any])
        #expect(bad["error"] as? Bool == true && (bad["text"] as? String)?.contains("trial must be an integer") == true, "\(bad)")
        let missing = try #require(answers["missing"] as? [String: Any])
        #expect(missing["error"] as? Bool == true && (missing["text"] as? String)?.contains("no campaign 'nope'") == true, "\(missing)")
    }

    /// `status` and `digest` on a local campaign are answered inside intern-mcp from a store it
    /// keeps open (the server is given `--intern /bin/false`: a command it ran would fail), with the
    /// bytes `intern status` and `intern digest --json` print on the same store; a store that
    /// changes between two calls (a trial running again, an event) and a campaign directory
    /// replaced by another campaign's are answered as they are now, never from what was read before.
    @Test func inProcessAnswers_areTheCommandsBytes_andFollowAStoreThatChanges() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no MCP client at \(Self.python): run `make test` (it makes the venv)")
        let dir = try TemporaryDirectory(prefix: "intern-mcp-same")
        defer { dir.remove() }
        for (name, trials) in [("synth", "300"), ("other", "200")] {
            let made = try await InternBinary.run(["synth-campaign", dir.file(name), "--trials", trials, "--failures", "20"], in: dir.path)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let client = try await ProcessRunner.run(
            [Self.python, CampaignEndToEndTests.fixtures + "/mcp_same_client.py", InternBinary.path, dir.file("synth"), dir.file("other")],
            in: dir.path, timeout: .seconds(120))
        #expect(client.status == 0, "\(client.stderr)")
        let answers = try #require(try JSONSerialization.jsonObject(with: client.stdoutBytes) as? [String: Any], "\(client.stdout)\n\(client.stderr)")
        #expect(answers["best_error"] as? Bool == true, "best is not answered in-process: with --intern /bin/false it fails")
        var statuses: [String] = []
        for step in ["first", "changed", "replaced"] {
            let calls = try #require(answers[step] as? [[String: Any]], "\(answers)")
            #expect(calls.count == (step == "changed" ? 5 : 4))
            for call in calls {
                let mcp = try #require(call["mcp"] as? String)
                #expect(call["error"] as? Bool == false, "\(step): \(call["call"] ?? ""): \(mcp)")
                #expect(!mcp.isEmpty && mcp == call["command"] as? String, "\(step): \(call["call"] ?? ""): in-process\n\(mcp)\ncommand\n\(call["command"] ?? "")")
            }
            statuses.append(try #require(calls.first?["mcp"] as? String))
        }
        #expect(statuses[0].contains(" 0 running") && statuses[0].contains(" 9700 pending"), "\(statuses[0])")
        #expect(statuses[1].contains("1 running") && statuses[1].contains("written between two calls"), "\(statuses[1])")
        #expect(statuses[2].contains(" 9800 pending"), "\(statuses[2])")
        let since = try #require((answers["changed"] as? [[String: Any]])?.last?["mcp"] as? String)
        #expect(since.contains("written between two calls"), "\(since)")
    }

    /// `--coordinator`: each tool's command goes to a remote coordinator, authenticated with the
    /// campaign's credentials, as `intern status --coordinator` does; calls may overlap.
    @Test func anAgentsClientReadsARemoteCoordinatorsCampaign() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no MCP client at \(Self.python): run `make test` (it makes the venv)")
        let dir = try TemporaryDirectory(prefix: "intern-mcp")
        defer { dir.remove() }
        #expect(try await InternBinary.run(["init-auth", dir.file("auth")], in: dir.path).status == 0)
        let spec = try dir.write("c.yaml", """
            name: remote
            shell: "echo trial {trial} ran; printf '{{\\"loss\\": 0.%s}}\\\\n' {trial}; while [ {trial} = 1 ] && [ ! -e go ]; do sleep 0.05; done"
            trials: 2
            parallel: 1
            objective: {metric: loss, direction: minimize}
            """)
        let port = try NetworkCutEndToEndTests.freePort()
        let url = "tcp://127.0.0.1:\(port)"
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", url, "--auth", dir.file("auth"), "--root", dir.file(".intern")], in: dir.path)
        let worker = try InternBinary.start(["worker", "--connect", url, "--auth", dir.file("auth"), "--id", "w"], in: dir.path)
        try await eventually("trial 1 printed its loss", timeout: .seconds(30)) {
            (try? await InternBinary.run(["metrics", "1", "--dir", dir.file(".intern/remote")], in: dir.path, timeout: .seconds(10)))?
                .stdout.contains("loss") == true
        }
        // `validate` is an admin command: the coordinator summarises its campaign's spec; a spec
        // file of the coordinator's host is never read for a remote client.
        let remoteSpec = try await InternBinary.run(["validate", "--coordinator", url, "--auth", dir.file("auth")], in: dir.path)
        #expect(remoteSpec.status == 0 && remoteSpec.stdout.hasPrefix("valid: campaign remote, 2 trials"), "\(remoteSpec.stdout)\(remoteSpec.stderr)")
        let hostFile = try await InternBinary.run(["validate", spec, "--coordinator", url, "--auth", dir.file("auth")], in: dir.path)
        #expect(hostFile.status == 64 && hostFile.stderr.contains("give a spec file or a campaign (--dir, --campaign), not both"), "\(hostFile.stderr)")
        // The client runs from elsewhere: no campaign directory where it stands.
        let elsewhere = try TemporaryDirectory(prefix: "intern-mcp-client")
        defer { elsewhere.remove() }
        let client = try await ProcessRunner.run(
            [Self.python, CampaignEndToEndTests.fixtures + "/mcp_remote_client.py", InternBinary.path, url, dir.file("auth")],
            in: elsewhere.path, timeout: .seconds(60))
        try "".write(toFile: dir.file("go"), atomically: true, encoding: .utf8)
        #expect(try await coordinator.finish(timeout: .seconds(60)).status == 0)
        _ = try await worker.finish(timeout: .seconds(30))
        #expect(client.status == 0, "\(client.stderr)")
        let answers = try #require(try JSONSerialization.jsonObject(with: client.stdoutBytes) as? [String: Any], "\(client.stdout)\n\(client.stderr)")
        #expect(answers["errors"] as? [Bool] == [false, false, false], "\(answers)")
        #expect((answers["status"] as? String)?.contains("1 running") == true, "\(answers["status"] ?? "")")
        #expect((answers["logs"] as? String)?.hasPrefix("trial 1 ran") == true, "\(answers["logs"] ?? "")")
        #expect((answers["metrics"] as? String)?.contains("loss") == true)
        #expect((answers["digest"] as? String)?.contains("campaign remote: running") == true, "\(answers["digest"] ?? "")")
        let propose = try #require(answers["propose"] as? [String: Any])
        #expect(propose["error"] as? Bool == true && (propose["text"] as? String)?.contains("configuration 1 (nope=1): refused: not in the space: unknown nope") == true, "\(propose)")
        let events = try await InternBinary.run(["status", "--dir", dir.file(".intern/remote"), "--events", "20"], in: dir.path)
        #expect(events.stdout.contains("agent.refused") || events.stdout.contains("(by agent:mcp)"), "\(events.stdout)")
    }

    /// Steering through the guardrails, from the official client while a campaign runs: a new
    /// configuration runs; one that failed with a user error is refused with its signature; the
    /// same one again is answered with its trial; a cancel and a request beyond the policy are
    /// refused naming the limit; pause and resume work and name the agent; a spec outside the spec
    /// directory is refused, a broken one answered with its location; starting is not allowed.
    @Test func anAgentSteersARunningCampaign_withinTheGuardrails() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no MCP client at \(Self.python): run `make test` (it makes the venv)")
        let dir = try TemporaryDirectory(prefix: "intern-mcp")
        defer { dir.remove() }
        // The configuration with lr 0.05 (which a draw never hits) fails as a missing module does;
        // trial 1 waits for `go`.
        let spec = try dir.write("c.yaml", """
            name: steer
            shell: "if [ {lr} = 0.05 ]; then echo \\"ModuleNotFoundError: No module named 'transfomers'\\" >&2; exit 1; fi; printf '{{\\"loss\\": %s}}\\\\n' {lr}; while [ {trial} = 1 ] && [ ! -e go ]; do sleep 0.05; done"
            space:
              layers: {type: choice, values: [3, 4]}
              lr: {type: uniform, low: 0.001, high: 0.1}
            trials: 3
            parallel: 2
            objective: {metric: loss, direction: minimize}
            """)
        _ = try dir.write("broken.yaml", "name: broken\ncommand: [train]\ntrials: many\n")
        let run = try InternBinary.start(["run", spec, "--workers", "2", "--quiet", "--root", dir.file(".intern")], in: dir.path)
        let campaign = dir.file(".intern/steer")
        // A person runs the failing configuration first.
        try await eventually("the coordinator runs", timeout: .seconds(30)) {
            (try? await InternBinary.run(["status", "--dir", campaign], in: dir.path, timeout: .seconds(10)))?.stdout.contains("running") == true
        }
        let person = try await InternBinary.run(["add", "--dir", campaign, "--actor", "alice", "--json", #"{"layers": 3, "lr": 0.05}"#], in: dir.path)
        #expect(person.status == 0, "\(person.stdout)\(person.stderr)")
        try await eventually("the person's configuration failed", timeout: .seconds(30)) {
            return (try? await InternBinary.run(["failures", "--dir", campaign], in: dir.path, timeout: .seconds(10)))?.stdout.contains("ModuleNotFoundError") == true
        }

        let answers = try await Self.clientAnswers(
            "mcp_steer_client.py", [dir.file(".intern"), dir.path], in: dir, releasing: run, timeout: .seconds(60))
        let answer = { (name: String) in Self.answer(answers, name) }
        let schema = try #require(answers["propose_schema"] as? [String: Any])
        let configurations = try #require((schema["properties"] as? [String: Any])?["configurations"] as? [String: Any])
        #expect(configurations["type"] as? String == "array" && answers["propose_read_only"] as? Bool == false)

        let fresh = answer("fresh")
        let enqueued = try #require(fresh.text.firstMatch(of: /configuration 1 \(layers=4 lr=0.02\): enqueued as trial (\d+)/), "\(fresh)").1
        #expect(!fresh.error)
        let failed = answer("failed")
        #expect(failed.error && failed.text.contains(/configuration 1 \(layers=3 lr=0.05\): refused: trial \d+ ran this configuration and failed with a user error, signature/),
                "\(failed)")
        #expect(failed.text.contains("ModuleNotFoundError: No module named 'transfomers'"), "\(failed)")
        let again = answer("again")
        #expect(!again.error && again.text.contains("already trial \(enqueued)"), "\(again)")
        let outside = answer("outside")
        #expect(outside.error && outside.text.contains("refused: not in the space: outside its domain: layers (one of 3, 4)"), "\(outside)")
        let cancel = answer("cancel")
        #expect(cancel.error && cancel.text.contains("agent.may_cancel"), "\(cancel)")
        let tooMany = answer("too_many")
        #expect(tooMany.error && tooMany.text.contains("agents may add at most 3 trials to this campaign (agent.max_trials); 1 added so far, this asks for 100"),
                "\(tooMany)")
        #expect(answer("pause").text.hasPrefix("paused"), "\(answer("pause"))")
        let status = answer("status").text
        #expect(status.contains("(by agent:steer-test)") && status.contains("(by alice)"), "\(status)")
        let escape = answer("escape")
        #expect(escape.error && escape.text.contains("spec must be a file inside"), "\(escape)")
        let broken = answer("broken")
        #expect(broken.error && broken.text.contains("broken.yaml:3") && broken.text.contains("trials"), "\(broken)")
        let start = answer("start")
        #expect(start.error && start.text.contains("--allow-start"), "\(start)")
        #expect(answer("resume").text.hasPrefix("resumed"), "\(answer("resume"))")

        // What the agent did is in the store with its name; its configuration ran.
        let trials = try await InternBinary.run(["trials", "--json", "--dir", campaign], in: dir.path)
        let parsed = try JSONSerialization.jsonObject(with: Data(trials.stdout.utf8))
        let rows = try #require(parsed as? [[String: Any]], "\(trials.stdout)")
        let agents = rows.first { ($0["trial"] as? Int) == Int(enqueued) }
        #expect(agents?["status"] as? String == "completed", "\(rows)")
        #expect(rows.count == 5, "3 drawn, 1 by the person, 1 by the agent: nothing else ran")
    }

    /// Runs a client fixture (`intern`'s path and `arguments` after it), then lets trial 1 of
    /// the running campaign go (`go`) and waits for the campaign's end; the client's JSON answers.
    static func clientAnswers(
        _ fixture: String, _ arguments: [String], in dir: TemporaryDirectory, releasing run: ChildProcess, timeout: Duration
    ) async throws -> [String: Any] {
        let client = try await ProcessRunner.run(
            [Self.python, CampaignEndToEndTests.fixtures + "/" + fixture, InternBinary.path] + arguments, in: dir.path, timeout: .seconds(90))
        try "".write(toFile: dir.file("go"), atomically: true, encoding: .utf8)
        #expect(try await run.finish(timeout: timeout).status == 0)
        #expect(client.status == 0, "\(client.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: client.stdoutBytes) as? [String: Any], "\(client.stdout)\n\(client.stderr)")
    }

    /// A tool's answer as a client fixture printed it: whether it was an error, and its text.
    static func answer(_ answers: [String: Any], _ name: String) -> (error: Bool, text: String) {
        let entry = answers[name] as? [String: Any]
        return (entry?["error"] as? Bool ?? false, entry?["text"] as? String ?? "")
    }

    /// The lab's tools: recall finds what a person noted on an earlier campaign's failure, an
    /// agent's note joins it, a proposal that repeats where that campaign failed is answered with
    /// the notes, and validation is asked for like any steering.
    @Test func anAgentRecallsAndNotes_andAProposalWhereAnEarlierCampaignFailedGetsTheNote() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no MCP client at \(Self.python): run `make test` (it makes the venv)")
        let dir = try TemporaryDirectory(prefix: "intern-mcp")
        defer { dir.remove() }
        let job = #"if [ {lr} = 0.05 ]; then echo \"ModuleNotFoundError: No module named 'transfomers'\" >&2; exit 1; fi; printf '{{\"loss\": %s}}\\n' {lr}; while [ {trial} = 1 ] && [ ! -e go ]; do sleep 0.05; done"#
        let old = try dir.write("old.yaml", """
            name: old
            shell: "\(job.replacingOccurrences(of: "while", with: "while false &&"))"
            space: {lr: [0.05, 0.01]}
            sampler: grid
            objective: {metric: loss, direction: minimize}
            """)
        #expect(try await InternBinary.run(["run", old, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60)).status == 0)
        let failures = try await InternBinary.run(["failures", "--json", "--campaign", "old"], in: dir.path)
        let signature = try #require((try JSONSerialization.jsonObject(with: Data(failures.stdout.utf8)) as? [[String: Any]])?.first?["signature"] as? String)
        #expect(try await InternBinary.run(["note", signature, "fixed by pinning transformers<5"], in: dir.path).status == 0)

        let spec = try dir.write("new.yaml", """
            name: new
            shell: "\(job)"
            space: {lr: {type: uniform, low: 0.001, high: 0.1}}
            trials: 2
            objective: {metric: loss, direction: minimize}
            """)
        let run = try InternBinary.start(["run", spec, "--workers", "2", "--quiet"], in: dir.path)
        try await eventually("the coordinator runs", timeout: .seconds(30)) {
            (try? await InternBinary.run(["status", "--campaign", "new"], in: dir.path, timeout: .seconds(10)))?.stdout.contains("running") == true
        }
        let answers = try await Self.clientAnswers(
            "mcp_lab_client.py", [dir.file(".intern"), String(signature.prefix(8))], in: dir, releasing: run, timeout: .seconds(90))
        let answer = { (name: String) in Self.answer(answers, name) }
        #expect(answers["recall_read_only"] as? Bool == true && answers["note_read_only"] as? Bool == false)
        let recall = answer("recall")
        #expect(!recall.error && recall.text.contains("fixed by pinning transformers<5"), "\(recall)")
        let note = answer("note")
        #expect(!note.error && note.text.contains("noted on signature \(signature.prefix(8))"), "\(note)")
        let propose = answer("propose")
        #expect(!propose.error && propose.text.contains("configuration 1 (lr=0.05) repeats where campaign old (1 trial, "), "\(propose)")
        #expect(propose.text.contains("fixed by pinning transformers<5") && propose.text.contains("agent:"), "\(propose)")
        #expect(!propose.text.contains("configuration 2 (lr=0.02) repeats"), "\(propose)")
        let validate = answer("validate")
        #expect(!validate.error, "\(validate)")
        let notes = try String(contentsOfFile: dir.file(".intern/lab-notes.jsonl"), encoding: .utf8)
        #expect(notes.split(separator: "\n").count == 2 && notes.contains("\"author\":\"agent:"), "\(notes)")
    }

    /// The Streamable HTTP transport: two clients at once, each its own session; a request
    /// without the bearer token, with a wrong one, or outside a session is refused; a
    /// non-loopback address without a token is refused at start.
    @Test func theStreamableHTTPTransportServesSessions_andRefusesWithoutTheToken() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no MCP client at \(Self.python): run `make test` (it makes the venv)")
        let dir = try TemporaryDirectory(prefix: "intern-mcp")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: web
            shell: "printf '{{\\"loss\\": 0.5}}\\\\n'"
            trials: 1
            objective: {metric: loss, direction: minimize}
            """)
        #expect(try await InternBinary.run(["run", spec, "--workers", "1", "--quiet", "--root", dir.file(".intern")], in: dir.path).status == 0)
        let open = try await InternBinary.run(["mcp", "--http", "0.0.0.0:0", "--root", dir.file(".intern")], in: dir.path)
        #expect(open.status == 64 && open.stderr.contains("not a loopback address: give --token-file"), "\(open.stderr)")

        let token = "intern-test-token-0123456789"
        _ = try dir.write("token", token + "\n")
        let server = try InternBinary.start(["mcp", "--http", "127.0.0.1:0", "--token-file", dir.file("token"), "--root", dir.file(".intern")], in: dir.path)
        defer { server.signal(SIGTERM) }
        try await eventually("the server listens", timeout: .seconds(20)) { server.stderrSoFar.contains("/mcp") }
        let url = try #require(server.stderrSoFar.firstMatch(of: /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/)).1
        let client = try await ProcessRunner.run(
            [Self.python, CampaignEndToEndTests.fixtures + "/mcp_http_client.py", String(url), token], in: dir.path, timeout: .seconds(60))
        #expect(client.status == 0, "\(client.stderr)")
        let answers = try #require(try JSONSerialization.jsonObject(with: client.stdoutBytes) as? [String: Any], "\(client.stdout)\n\(client.stderr)")
        for name in ["a", "b"] {
            let session = try #require(answers[name] as? [String: Any])
            #expect(session["server"] as? String == "intern" && session["tools"] as? Int == 21)
            #expect((session["status"] as? String)?.contains("1 completed") == true, "\(session)")
            let pause = try #require(session["pause"] as? [String: Any])
            #expect(pause["error"] as? Bool == true && (pause["text"] as? String)?.contains("nothing to pause") == true, "\(pause)")
        }
        #expect(answers["no_token"] as? Int == 401 && answers["wrong_token"] as? Int == 401 && answers["no_session"] as? Int == 400, "\(answers)")
        #expect(answers["too_large"] as? Int == 413, "\(answers)")
        let sessions = try #require(answers["sessions"] as? [Int])
        #expect(sessions.prefix(64).allSatisfy { $0 == 200 } && sessions.last == 503, "\(sessions)")
        #expect(answers["ended"] as? Int == 200 && answers["after_end"] as? Int == 200, "\(answers)")
    }

    /// `start_campaign`, allowed by `--allow-start`: the campaign starts in its own session,
    /// outlives the call, runs to its end; a second start of the same campaign is refused.
    @Test func anAllowedAgentStartsACampaign() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no MCP client at \(Self.python): run `make test` (it makes the venv)")
        let dir = try TemporaryDirectory(prefix: "intern-mcp")
        defer { dir.remove() }
        _ = try dir.write("one.yaml", """
            name: one
            shell: "printf '{{\\"loss\\": 0.25}}\\\\n'"
            trials: 2
            objective: {metric: loss, direction: minimize}
            """)
        let client = try await ProcessRunner.run(
            [Self.python, CampaignEndToEndTests.fixtures + "/mcp_start_client.py", InternBinary.path, dir.file(".intern"), dir.path],
            in: dir.path, timeout: .seconds(90))
        #expect(client.status == 0, "\(client.stderr)")
        let answers = try #require(try JSONSerialization.jsonObject(with: client.stdoutBytes) as? [String: Any], "\(client.stdout)\n\(client.stderr)")
        let start = try #require(answers["start"] as? [String: Any])
        #expect(start["error"] as? Bool == false && (start["text"] as? String)?.hasPrefix("started campaign one (pid ") == true, "\(start)")
        let status = try #require(answers["status"] as? [String: Any])
        #expect((status["text"] as? String)?.contains("2 completed") == true, "\(status)")
        let again = try #require(answers["again"] as? [String: Any])
        #expect(again["error"] as? Bool == true && (again["text"] as? String)?.contains("a campaign named one already exists") == true, "\(again)")
        #expect(FileManager.default.fileExists(atPath: dir.file(".intern/.agent-starts/one.log")))
    }
}
