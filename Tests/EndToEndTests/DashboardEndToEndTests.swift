import Foundation
import InternStore
import InternTestKit
import Testing

/// `intern serve` beside a running campaign, in headless Chromium: the campaign page's completed
/// count rises as trials end, pushed over Server-Sent Events into the same document (no reload);
/// its pause and resume buttons steer the campaign with the token; the screenshot is not blank. Fixtures/dashboard_browser.py drives Chromium through the
/// DevTools protocol.
@Suite(.serialized) struct DashboardEndToEndTests {
    /// 16 trials of about 0.7 s on 2 workers: about 6 s of a running campaign to watch.
    static let spec = """
        name: dash
        command: [python3, -c, "import sys, time; x = float(sys.argv[1]); time.sleep(0.7); print('METRIC step=1 loss=%.4f' % ((x - 0.3) ** 2))", "{x}"]
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
        let shot = dir.file("campaign.png")
        let browser = try await ProcessRunner.run(
            ["/usr/bin/python3", script, "--chromium", chromium, "--url", url + "c/dash", "--screenshot", shot, "--timeout", "60", "--token", token],
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
        let screenshot = try #require(result["screenshot"] as? [String: Any])
        #expect((screenshot["colors"] as? Int ?? 0) >= 8 && (screenshot["inked"] as? Double ?? 0) > 0.01, "the screenshot looks blank: \(screenshot)")
        #expect(FileManager.default.fileExists(atPath: shot))
        if let keep = ProcessInfo.processInfo.environment["INTERN_DASHBOARD_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: shot, toPath: keep)
        }

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

        // SIGTERM stops the server gracefully, quickly, with status 0.
        serve.signal(SIGTERM)
        let stopped = try await serve.finish(timeout: .seconds(10))
        #expect(stopped.status == 0, "\(stopped.stderr)")
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
        let spec = try dir.write("dash.yaml", Self.spec.replacingOccurrences(of: "trials: 16", with: "trials: 6"))
        let run = try InternBinary.start(["run", spec, "--workers", "2", "--quiet", "--http", "127.0.0.1:0"], in: dir.path)
        defer { run.signal(SIGKILL) }
        let url = try await Self.dashboardURL(of: run)
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
