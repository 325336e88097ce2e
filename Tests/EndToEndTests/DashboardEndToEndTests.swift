import Foundation
import InternStore
import InternTestKit
import Testing

/// `intern serve` beside a running campaign, in headless Chromium: the campaign page's completed
/// count rises as trials end, pushed over Server-Sent Events into the same document (no reload);
/// its pause and resume buttons steer the campaign with the token; the screenshot is not blank. Fixtures/dashboard_browser.py drives Chromium through the
/// DevTools protocol.
@Suite(.serialized) struct DashboardEndToEndTests {
    /// 16 trials of about 0.7 s on 2 workers: about 6 s of a running campaign to watch; each
    /// prints its loss at 5 steps (curves to draw).
    static let spec = """
        name: dash
        command: [python3, -c, "import sys, time\\nx = float(sys.argv[1])\\nfor s in range(1, 6):\\n    time.sleep(0.14)\\n    print('METRIC step=%d loss=%.4f' % (s, (x - 0.3) ** 2 + 0.4 / s), flush=True)", "{x}"]
        space: {x: {type: uniform, low: 0.0, high: 1.0}}
        sampler: {type: random, seed: 5}
        trials: 16
        metrics: {prefix: METRIC}
        objective: {metric: loss, direction: minimize}
        """

    /// The URL a process serving the dashboard printed once it listened (`dashboard: http://…/`).
    static func dashboardURL(of process: ChildProcess) async throws -> String {
        for _ in 0..<200 {
            if let line = process.stdoutSoFar.split(separator: "\n").first(where: { $0.hasPrefix("dashboard: http://127.0.0.1:") }) {
                return String(line.dropFirst("dashboard: ".count).prefix { $0 != " " })
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TimeoutError(message: "no dashboard URL printed: \(process.stdoutSoFar) \(process.stderrSoFar)")
    }

    /// `intern run` of the spec with `trials` trials on 2 workers and `--http 127.0.0.1:0`, in
    /// `dir`, and its dashboard's URL once printed.
    static func runWithHTTP(in dir: TemporaryDirectory, trials: Int, environment: [String: String] = [:]) async throws -> (ChildProcess, String) {
        let spec = try dir.write("dash.yaml", Self.spec.replacingOccurrences(of: "trials: 16", with: "trials: \(trials)"))
        let run = try InternBinary.start(["run", spec, "--workers", "2", "--quiet", "--http", "127.0.0.1:0"], in: dir.path, environment: environment)
        do {
            return (run, try await dashboardURL(of: run))
        } catch {
            run.signal(SIGKILL)
            throw error
        }
    }

    @Test func theCampaignPageCountsCompletedTrialsLiveInHeadlessChromium() async throws {
        let chromium = try #require(["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                    "headless Chromium is needed: `make test` installs Debian's chromium")
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("dash.yaml", Self.spec)
        let run = try InternBinary.start(["run", spec, "--workers", "2", "--quiet"], in: dir.path)
        let token = "browser-token-0123456789"
        let tokenFile = try dir.write("token", token + "\n")
        let serve = try InternBinary.start(["serve", "--root", dir.file(".intern"), "--listen", "127.0.0.1:0", "--token-file", tokenFile], in: dir.path)
        defer {
            run.signal(SIGKILL)
            serve.signal(SIGKILL)
        }
        let store = try await waitForStore(dir.file(".intern/dash"))
        let url = try await Self.dashboardURL(of: serve)
        #expect(try store.trials().filter { $0.status == .completed }.count < 12, "the campaign is still young when the page opens")

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/dashboard_browser.py").path
        let shot = dir.file("campaign.png"), trialShot = dir.file("trial.png")
        let browser = try await ProcessRunner.run(
            ["/usr/bin/python3", script, "--chromium", chromium, "--url", url + "c/dash", "--screenshot", shot, "--timeout", "60", "--token", token,
             "--trial-url", url + "c/dash/t/1", "--trial-screenshot", trialShot],
            timeout: .seconds(120))
        #expect(browser.status == 0, "\(browser.stderr.suffix(3000))")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(browser.stdout.utf8)) as? [String: Any], "\(browser.stdout)")
        let polls = try #require(result["polls"] as? [[String: Any]])
        let last = try #require(polls.last)
        let history = try #require(last["history"] as? [Int], "\(last)")
        #expect(history.count >= 2 && history.last! > history.first!, "the completed count rose over SSE: \(history)")
        #expect(last["shown"] as? Int == history.last, "the page shows what it received: \(last)")
        // One document all along: the origin of every poll is the first one's.
        let origins = Set(polls.compactMap { $0["origin"] as? Double })
        #expect(origins.count == 1, "the page was reloaded: \(origins)")
        #expect((last["rows"] as? Int ?? 0) >= history.first!, "the trials table was swapped in: \(last)")
        // Steering from the page: its buttons send the token in a header; the coordinator answers.
        let control = try #require(result["control"] as? [[String: Any]], "\(result)")
        #expect(control.count == 2 && control.allSatisfy { $0["state"] as? String == "handled" }, "\(control)")
        let paused: String = control.first?["outcome"] as? String ?? ""
        #expect(paused.hasPrefix("paused"), "\(control)")
        #expect(control.last?["outcome"] as? String == "resumed", "\(control)")
        let steered = try store.events(limit: 1_000).filter { $0.actor == "dashboard" }.map(\.kind)
        #expect(steered.contains("campaign.paused") && steered.contains("campaign.resumed"), "\(steered)")
        // The analysis (hours spent, charts) was fetched again after a change and swapped in, in the same document.
        let analysis = try #require(result["analysis"] as? [String: Any], "\(result)")
        #expect((analysis["analysis"] as? Int ?? 0) >= 1 && analysis["spent"] as? Bool == true, "\(analysis)")
        #expect((analysis["charts"] as? Int ?? 0) >= 1 && analysis["origin"] as? Double == origins.first, "\(analysis)")
        for (key, file, keep) in [("screenshot", shot, "INTERN_DASHBOARD_SCREENSHOT"), ("trial", trialShot, "INTERN_DASHBOARD_TRIAL_SCREENSHOT")] {
            let screenshot = try #require(result[key] as? [String: Any], "\(result)")
            #expect((screenshot["colors"] as? Int ?? 0) >= 8 && (screenshot["inked"] as? Double ?? 0) > 0.01, "the \(key) screenshot looks blank: \(screenshot)")
            #expect(FileManager.default.fileExists(atPath: file))
            if let keep = ProcessInfo.processInfo.environment[keep] {
                try? FileManager.default.removeItem(atPath: keep)
                try FileManager.default.copyItem(atPath: file, toPath: keep)
            }
        }
        let trialState: String = (result["trial"] as? [String: Any])?["state"] as? String ?? ""
        #expect(trialState.contains("trial 1"), "\(String(describing: result["trial"]))")

        let finished = try await run.finish(timeout: .seconds(90))
        #expect(finished.status == 0, "\(finished.stderr)")

        // /metrics, read by Prometheus's own client library's text-format parser.
        try #require(FileManager.default.isExecutableFile(atPath: MCPEndToEndTests.python), "no prometheus_client at \(MCPEndToEndTests.python): run `make test`")
        let parse = """
            import json, sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen(sys.argv[1] + "metrics", timeout=10).read().decode()
            print(json.dumps({f.name: [[s.labels, s.value] for s in f.samples] for f in text_string_to_metric_families(text)}))
            """
        let scraped = try await ProcessRunner.run([MCPEndToEndTests.python, "-c", parse, url], timeout: .seconds(30))
        #expect(scraped.status == 0, "\(scraped.stderr)")
        let families = try #require(try JSONSerialization.jsonObject(with: Data(scraped.stdout.utf8)) as? [String: [[Any]]], "\(scraped.stdout)")
        let completed = (families["intern_trials"] ?? []).filter { ($0[0] as? [String: String])?["status"] == "completed" }.compactMap { $0[1] as? Double }
        #expect(completed == [16], "\(families["intern_trials"] ?? [])")
        #expect(families["intern_campaign_finished"]?.first?[1] as? Double == 1)
        #expect((families["intern_workers"] ?? []).isEmpty == false && families["intern_attempts_running"]?.first?[1] as? Double == 0)
        #expect((families["intern_log_raw_bytes"]?.first?[1] as? Double ?? 0) > 0, "\(families.keys.sorted())")
        // `intern serve` has no coordinator in its process: none of a coordinator's histograms.
        #expect(families["intern_report_commit_seconds"] == nil && families["intern_decision_seconds"] == nil
                && families["intern_request_wait_seconds"] == nil && families["intern_dispatch_seconds"] == nil, "\(families.keys.sorted())")

        // SIGTERM stops the server gracefully, quickly, with status 0.
        serve.signal(SIGTERM)
        let stopped = try await serve.finish(timeout: .seconds(10))
        #expect(stopped.status == 0, "\(stopped.stderr)")
    }

    /// `intern run --http`: `/metrics` also has the coordinator's own histograms, read by
    /// `prometheus_client`'s parser while the campaign runs: reports stored and how long each
    /// took to commit, and how long slots waited for their next attempt.
    @Test func runWithHTTPShowsTheCoordinatorsHistogramsOnMetrics() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: MCPEndToEndTests.python), "no prometheus_client at \(MCPEndToEndTests.python): run `make test`")
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let (run, url) = try await Self.runWithHTTP(in: dir, trials: 10)
        defer { run.signal(SIGKILL) }
        // Scraped until both histograms counted something (the run ends, and its dashboard with
        // it, a few seconds later).
        let scrape = """
            import json, sys, time, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            deadline, last = time.time() + 60, {}
            while time.time() < deadline:
                text = urllib.request.urlopen(sys.argv[1] + "metrics", timeout=10).read().decode()
                last = {f.name: [[s.name, s.labels, s.value] for s in f.samples] for f in text_string_to_metric_families(text)}
                counts = [s[2] for name in ("intern_report_commit_seconds", "intern_decision_seconds", "intern_request_wait_seconds", "intern_dispatch_seconds")
                          for s in last.get(name, []) if s[0] == name + "_count"]
                if len(counts) == 4 and min(counts) > 0:
                    break
                time.sleep(0.1)
            print(json.dumps(last))
            """
        let scraped = try await ProcessRunner.run([MCPEndToEndTests.python, "-c", scrape, url], timeout: .seconds(90))
        #expect(scraped.status == 0, "\(scraped.stderr)")
        let families = try #require(try JSONSerialization.jsonObject(with: Data(scraped.stdout.utf8)) as? [String: [[Any]]], "\(scraped.stdout)")
        for name in ["intern_report_commit_seconds", "intern_decision_seconds", "intern_request_wait_seconds", "intern_dispatch_seconds"] {
            let samples = families[name] ?? []
            let count = samples.first { $0[0] as? String == name + "_count" }?[2] as? Double ?? 0
            #expect(count > 0, "\(name): \(samples)")
            #expect(samples.allSatisfy { ($0[1] as? [String: String])?["campaign"] == "dash" }, "\(samples)")
            let buckets = samples.filter { $0[0] as? String == name + "_bucket" }
            #expect(buckets.last.map { ($0[1] as? [String: String])?["le"] == "+Inf" && $0[2] as? Double == count } == true, "\(buckets)")
        }
        let finished = try await run.finish(timeout: .seconds(90))
        #expect(finished.status == 0, "\(finished.stderr)")
    }

    /// `intern run --http` of a campaign with credentials (here `$INTERN_SECRET`) and no token
    /// file: `intern token` prints the token that steers it; another token is refused.
    @Test func runWithHTTPAndCredentials_steersWithInternTokensToken() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let environment = ["INTERN_SECRET": String(repeating: "5a", count: 32)]
        let (run, url) = try await Self.runWithHTTP(in: dir, trials: 16, environment: environment)
        defer { run.signal(SIGKILL) }
        #expect(run.stdoutSoFar.contains("steers dash with `intern token`'s token"), "\(run.stdoutSoFar)")
        let printed = try await InternBinary.run(["token"], in: dir.path, environment: environment)
        #expect(printed.status == 0, "\(printed.stderr)")
        let token = printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.count == 64 && token.allSatisfy(\.isHexDigit), "\(printed.stdout)")
        let other = try await InternBinary.run(["token"], in: dir.path, environment: ["INTERN_SECRET": String(repeating: "a5", count: 32)])
        let steer = """
            import json, sys, urllib.request, urllib.error
            def post(path, token):
                request = urllib.request.Request(sys.argv[1] + path, method="POST", headers={"Authorization": "Bearer " + token})
                try:
                    with urllib.request.urlopen(request, timeout=20) as response:
                        return [response.status, json.loads(response.read())]
                except urllib.error.HTTPError as error:
                    return [error.code, error.read().decode()]
            print(json.dumps([post("c/dash/pause", sys.argv[3]), post("c/dash/pause", sys.argv[2]), post("c/dash/resume", sys.argv[2])]))
            """
        let steered = try await ProcessRunner.run(
            ["/usr/bin/python3", "-c", steer, url, token, other.stdout.trimmingCharacters(in: .whitespacesAndNewlines)], timeout: .seconds(90))
        #expect(steered.status == 0, "\(steered.stderr)")
        let answers = try #require(try JSONSerialization.jsonObject(with: Data(steered.stdout.utf8)) as? [[Any]], "\(steered.stdout)")
        #expect(answers.count == 3 && answers[0][0] as? Int == 403, "another campaign's token: \(answers)")
        let paused = answers[1][1] as? [String: Any], resumed = answers[2][1] as? [String: Any]
        #expect(answers[1][0] as? Int == 200 && (paused?["outcome"] as? String ?? "").hasPrefix("paused"), "\(answers)")
        #expect(answers[2][0] as? Int == 200 && resumed?["outcome"] as? String == "resumed", "\(answers)")
        let finished = try await run.finish(timeout: .seconds(90))
        #expect(finished.status == 0, "\(finished.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/dash"), create: false, readOnly: true)
        let steeredEvents = try store.events(limit: 1_000).filter { $0.actor == "dashboard" }.map(\.kind)
        #expect(steeredEvents.contains("campaign.paused") && steeredEvents.contains("campaign.resumed"), "\(steeredEvents)")
        // Without credentials, `intern token` says what it needs.
        let none = try await InternBinary.run(["token"], in: dir.path)
        #expect(none.status == 64 && none.stderr.contains("init-auth"), "\(none.stderr)")
    }

    @Test func serveRefusesANonLoopbackAddressWithoutAToken() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let refused = try await InternBinary.run(["serve", "--listen", "0.0.0.0:0"], in: dir.path, timeout: .seconds(20))
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.contains("not a loopback address"), "\(refused.stderr)")
        let bad = try await InternBinary.run(["serve", "--listen", "8080"], in: dir.path, timeout: .seconds(20))
        #expect(bad.status == 64 && bad.stderr.contains("HOST:PORT"), "\(bad.stderr)")
    }

    /// `intern run --http`: the dashboard in the run's own process, its feed ending with the
    /// campaign, and the run still exits by itself when the campaign is over.
    @Test func runWithHTTPServesItsCampaignUntilItEnds() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let (run, url) = try await Self.runWithHTTP(in: dir, trials: 6)
        defer { run.signal(SIGKILL) }
        let client = """
            import sys, urllib.request
            base = sys.argv[1]
            page = urllib.request.urlopen(base + "c/dash", timeout=10).read().decode()
            assert "<h1>Campaign dash</h1>" in page, page[:500]
            text = ""
            with urllib.request.urlopen(base + "c/dash/events?after=0", timeout=60) as response:
                for line in response:
                    text += line.decode()
                    if "event: end\\n" in text and text.endswith("\\n\\n"):
                        break
            print(text)
            """
        let fed = try await ProcessRunner.run(["/usr/bin/python3", "-c", client, url], timeout: .seconds(90))
        #expect(fed.status == 0, "\(fed.stderr)")
        #expect(fed.stdout.contains("event: progress") && fed.stdout.contains("event: end\ndata: finished"), "\(fed.stdout)")
        let finished = try await run.finish(timeout: .seconds(60))
        #expect(finished.status == 0, "\(finished.stderr)")
    }
}
