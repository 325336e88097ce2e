import Foundation
import Hummingbird
import HummingbirdTesting
import InternCore
import InternReport
import InternSpec
import InternStore
import InternTestKit
import InternWeb
import Testing
import Zstd

/// The dashboard's routes through Hummingbird's test client, on real stores under a temporary
/// root: a finished synthetic campaign (trials, logs, metrics, failures) and a small one that the
/// test changes while a page follows it.
@Suite(.serialized) struct DashboardRouterTests {
    /// A root with the synthetic campaign `synth` (finished: 40 trials, 3 failing).
    static func synthRoot() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory(prefix: "intern-web")
        try SyntheticCampaign.create(directory: dir.file("synth"), trials: 40, failures: 3, logBytes: 40_000)
        return dir
    }

    static let liveSpec = """
        name: live
        command: [python3, -c, "print(1)"]
        space: {x: {type: uniform, low: 0.0, high: 1.0}}
        trials: 4
        objective: {metric: loss, direction: minimize}
        """

    /// A running campaign `live` of 4 trials, none ended yet (its store, writable).
    static func liveCampaign(in dir: TemporaryDirectory) throws -> CampaignStore {
        let store = try CampaignStore(directory: dir.file("live"))
        let spec = try CampaignSpecParser.parse(yaml: liveSpec, file: dir.file("live.yaml"), baseDirectory: dir.path)
        _ = try store.register(spec: spec, specPath: dir.file("live.yaml"), specYAML: liveSpec, now: 1_000)
        try store.apply((1...4).map { .trial(TrialRecord(id: $0, parameters: ["x": .double(Double($0) / 10)], status: $0 == 1 ? .running : .pending, createdAt: 1_000)) })
        return store
    }

    static func body(_ response: TestResponse) -> String { String(buffer: response.body) }

    /// A coordinator stand-in: answers what is queued for `store`, as the real one does from its poll.
    static func standInCoordinator(_ store: CampaignStore) -> Task<Void, any Error> {
        Task {
            while !Task.isCancelled {
                for request in try store.pendingControlRequests() {
                    try store.take(request.id, now: 5_000)
                    try store.markHandled(request.id, outcome: "\(request.kind.rawValue) \(request.target) by \(request.actor ?? "-")", now: 5_000)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    @Test func theCampaignsPageListsEveryCampaignUnderTheRoot() async throws {
        let dir = try Self.synthRoot()
        defer { dir.remove() }
        _ = try Self.liveCampaign(in: dir)
        try FileManager.default.createDirectory(atPath: dir.file("not-a-campaign"), withIntermediateDirectories: true)
        let app = Application(router: Dashboard(root: dir.path).router())
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/", method: .get)
            #expect(response.status == .ok)
            let page = Self.body(response)
            #expect(page.contains("href=\"/c/synth\"") && page.contains("href=\"/c/live\""), "\(page)")
            #expect(!page.contains("not-a-campaign"))
            #expect(page.contains("finished") && page.contains("running") == false || page.contains("not running"))
        }
    }

    @Test func aCampaignMadeAnewIsReadAnew_notFromTheStoreOpenedBefore() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-web")
        defer { dir.remove() }
        _ = try Self.liveCampaign(in: dir)
        let app = Application(router: Dashboard(root: dir.path).router())
        try await app.test(.router) { client in
            #expect(Self.body(try await client.execute(uri: "/c/live", method: .get)).contains("data-field=\"total\">4<"))
            try FileManager.default.removeItem(atPath: dir.file("live"))
            #expect(try await client.execute(uri: "/c/live", method: .get).status == .notFound)
            let store = try Self.liveCampaign(in: dir)
            try store.apply([.trial(TrialRecord(id: 5, parameters: ["x": .double(0.5)], createdAt: 1_000))])
            let page = Self.body(try await client.execute(uri: "/c/live", method: .get))
            #expect(page.contains("href=\"/c/live/t/5\""), "\(page.prefix(300))")
        }
    }

    @Test func theCampaignPageShowsTheStoreSortedAndFiltered() async throws {
        let dir = try Self.synthRoot()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("synth"), create: false, readOnly: true)
        let trials = try store.trials()
        let app = Application(router: Dashboard(root: dir.path).router())
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/c/synth", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self';") == true, "nothing inline runs")
            let page = Self.body(response)
            let completed = trials.filter { $0.status == .completed }.count
            #expect(page.contains("data-field=\"completed\">\(completed)<"), "counts come from the store")
            #expect(page.contains("data-live=\"/c/synth/events?after="))
            #expect(page.contains("<svg class=\"chart\""), "the report's charts")
            #expect(page.contains("<h2>Failures</h2>") && page.contains("<h2>Workers</h2>") && page.contains("<h2>Events</h2>"))
            #expect(page.contains("/c/synth/report"))
            // Sorted by objective, best first: the first row is the store's best completed trial.
            let sorted = Self.body(try await client.execute(uri: "/c/synth/trials?sort=objective&status=completed", method: .get))
            let best = trials.filter { $0.status == .completed && $0.objective != nil }.min { ($0.objective!, $0.id) < ($1.objective!, $1.id) }!
            let firstRow = try #require(sorted.range(of: "<tr data-status="))
            #expect(sorted[firstRow.upperBound...].hasPrefix("\"completed\"><td><a href=\"/c/synth/t/\(best.id)\">"), "\(sorted.prefix(600))")
            #expect(!sorted.contains("data-status=\"failed\""))
            #expect(page.contains("data-fragment=\"/c/synth/trials\" data-version=\"table\"") && page.contains("data-fragment=\"/c/synth/workers\" data-version=\"table\""),
                    "the tables are fetched again when their version moves")
            #expect(try await client.execute(uri: "/c/synth/trials?sort=sideways", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/c/synth?status=bogus", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/c/synth?order=sideways", method: .get).status == .badRequest)
            let report = try await client.execute(uri: "/c/synth/report", method: .get)
            #expect(report.status == .ok && Self.body(report).contains("<h1>Campaign synth</h1>"))
        }
    }

    @Test func theTrialPageShowsParametersMetricsAndTheLog_andTheZstdFileDownloads() async throws {
        let dir = try Self.synthRoot()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("synth"), create: false, readOnly: true)
        let trial = try #require(try store.trials().first { $0.status == .completed })
        let attempt = try #require(try store.attempts(trial: trial.id).last)
        let log = try store.readLog(trial: trial.id, attempt: attempt.id, stream: .stdout)
        #expect(!log.isEmpty)
        let app = Application(router: Dashboard(root: dir.path).router())
        try await app.test(.router) { client in
            let page = Self.body(try await client.execute(uri: "/c/synth/t/\(trial.id)", method: .get))
            #expect(page.contains("<h1>Trial \(trial.id) "))
            for (name, _) in trial.parameters.sortedPairs { #expect(page.contains("<td>\(name)</td>")) }
            #expect(page.contains("<table id=\"metrics\">") && page.contains("data-chart=\"metric-eval_loss\""))
            #expect(page.contains("<pre id=\"log-stdout\">"))
            let lastLine = try #require(String(decoding: log, as: UTF8.self).split(separator: "\n").last)
            #expect(page.contains(HTMLText.escape(String(lastLine))))
            // Condensed: what `intern logs --condensed` prints, shorter than the output.
            let condensed = Self.body(try await client.execute(uri: "/c/synth/t/\(trial.id)?log=condensed", method: .get))
            #expect(condensed.contains("<h2>stdout (condensed)</h2>") && condensed.count < page.count, "\(condensed.count) vs \(page.count)")
            #expect(try await client.execute(uri: "/c/synth/t/\(trial.id)?log=pretty", method: .get).status == .badRequest)
            let download = try await client.execute(uri: "/c/synth/t/\(trial.id)/a/\(attempt.id)/stdout.zst", method: .get)
            #expect(download.status == .ok && download.headers[.contentType] == "application/zstd")
            #expect(try Zstd.decompressAll(Array(buffer: download.body)) == log, "the download is the stored zstd stream")
            let raw = try await client.execute(uri: "/c/synth/t/\(trial.id)/a/\(attempt.id)/stdout.txt", method: .get)
            #expect(Array(buffer: raw.body) == log)
        }
    }

    @Test func metricsSayWhatTheStoreHolds_inPrometheusTextFormat() async throws {
        let dir = try Self.synthRoot()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("synth"), create: false, readOnly: true)
        let trials = try store.trials()
        try await Application(router: Dashboard(root: dir.path).router()).test(.router) { client in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = Self.body(response)
            for status in TrialStatus.allCases {
                let count = trials.filter { $0.status == status }.count
                guard count > 0 else { continue }
                #expect(text.contains("intern_trials{campaign=\"synth\",stage=\"main\",status=\"\(status.rawValue)\"} \(count).0\n"), "\(status): \(text)")
            }
            #expect(text.contains("# TYPE intern_trials gauge") && text.contains("# HELP intern_trials "))
            #expect(text.contains("intern_campaign_finished{campaign=\"synth\"} 1.0\n"))
            #expect(text.contains("intern_failed_attempts{campaign=\"synth\",class=\"oom\"} 3.0\n"), "\(text)")
            #expect(text.contains("intern_log_raw_bytes{campaign=\"synth\"} ") && text.contains("intern_spent_gpu_hours{campaign=\"synth\"} "))
        }
    }

    @Test func metricsShowTheCoordinatorsHistograms_onlyWhenItSharesTheProcess() async throws {
        let dir = try Self.synthRoot()
        defer { dir.remove() }
        let measurements = CoordinatorMeasurements(campaign: "sy\"nth")
        measurements.reportCommitted(nanoseconds: 300_000)  // 0.3 ms: le 0.0005
        measurements.reportCommitted(nanoseconds: 4_000_000_000)  // 4 s: only +Inf
        measurements.decided(nanoseconds: 2_000_000)  // 2 ms: le 0.0025
        measurements.requestTakenUp(waited: 40_000_000)  // 40 ms: le 0.05
        measurements.dispatched(nanoseconds: 3_000_000)  // 3 ms: le 0.005
        try await Application(router: Dashboard(root: dir.path, measurements: measurements).router()).test(.router) { client in
            let text = Self.body(try await client.execute(uri: "/metrics", method: .get))
            #expect(text.contains("# TYPE intern_report_commit_seconds histogram\n"), "\(text)")
            #expect(text.contains("intern_report_commit_seconds_bucket{campaign=\"sy\\\"nth\",le=\"0.00025\"} 0\n"), "\(text)")
            #expect(text.contains("intern_report_commit_seconds_bucket{campaign=\"sy\\\"nth\",le=\"0.0005\"} 1\n"))
            #expect(text.contains("intern_report_commit_seconds_bucket{campaign=\"sy\\\"nth\",le=\"2.5\"} 1\n"))
            #expect(text.contains("intern_report_commit_seconds_bucket{campaign=\"sy\\\"nth\",le=\"+Inf\"} 2\n"))
            #expect(text.contains("intern_report_commit_seconds_count{campaign=\"sy\\\"nth\"} 2\n"))
            #expect(text.contains("intern_report_commit_seconds_sum{campaign=\"sy\\\"nth\"} 4.0003"))
            #expect(text.contains("intern_decision_seconds_bucket{campaign=\"sy\\\"nth\",le=\"0.001\"} 0\n"))
            #expect(text.contains("intern_decision_seconds_bucket{campaign=\"sy\\\"nth\",le=\"0.0025\"} 1\n"))
            #expect(text.contains("intern_decision_seconds_count{campaign=\"sy\\\"nth\"} 1\n"))
            #expect(text.contains("intern_request_wait_seconds_bucket{campaign=\"sy\\\"nth\",le=\"0.025\"} 0\n"), "\(text)")
            #expect(text.contains("intern_request_wait_seconds_bucket{campaign=\"sy\\\"nth\",le=\"0.05\"} 1\n"))
            #expect(text.contains("intern_dispatch_seconds_bucket{campaign=\"sy\\\"nth\",le=\"0.0025\"} 0\n"), "\(text)")
            #expect(text.contains("intern_dispatch_seconds_bucket{campaign=\"sy\\\"nth\",le=\"0.005\"} 1\n"))
            // The stores' gauges are still there.
            #expect(text.contains("intern_campaign_finished{campaign=\"synth\"} 1.0\n"))
        }
        // `intern serve`: no coordinator in the process, no histograms.
        try await Application(router: Dashboard(root: dir.path).router()).test(.router) { client in
            let text = Self.body(try await client.execute(uri: "/metrics", method: .get))
            #expect(!text.contains("intern_report_commit_seconds") && !text.contains("intern_decision_seconds") && !text.contains("intern_request_wait")
                    && !text.contains("intern_dispatch"))
            #expect(text.contains("intern_campaign_finished{campaign=\"synth\"} 1.0\n"))
        }
    }

    @Test func badInputGetsAClearErrorAndChangesNothing() async throws {
        let dir = try Self.synthRoot()
        defer { dir.remove() }
        try "secret".write(toFile: dir.file("secret.txt"), atomically: true, encoding: .utf8)
        let store = try CampaignStore(directory: dir.file("synth"), create: false, readOnly: true)
        let before = try store.lastEventID()
        let trials = try store.trials()
        let other = try #require(try store.attempts(trial: trials[1].id).last)
        let app = Application(router: Dashboard(root: dir.path).router())
        try await app.test(.router) { client in
            let cases: [(String, HTTPResponse.Status)] = [
                ("/c/nope", .notFound), ("/c/nope/events", .notFound), ("/c/nope/t/1", .notFound),
                ("/c/..%2F..%2Fetc", .notFound), ("/c/%2e%2e", .notFound), ("/c/..", .notFound), ("/c/secret.txt", .notFound),
                ("/c/synth/t/\(trials.count + 1)", .notFound), ("/c/synth/t/99999999999999999999", .badRequest),
                ("/c/synth/t/0", .badRequest), ("/c/synth/t/-1", .badRequest), ("/c/synth/t/abc", .badRequest), ("/c/synth/t/1?attempt=9", .notFound),
                ("/c/synth/t/1?attempt=x", .badRequest),
                ("/c/synth/t/\(trials[0].id)/a/\(other.id)/stdout.zst", .notFound),  // another trial's attempt
                ("/c/synth/t/1/a/1/passwd", .badRequest), ("/c/synth/t/1/a/1/stdout.gz", .badRequest), ("/c/synth/t/1/a/x/stdout.zst", .badRequest),
                ("/c/synth/t/1/a/1/stdin/follow", .badRequest), ("/c/synth/events?after=-3", .badRequest),
                ("/c/synth/../secret.txt", .notFound), ("/static/../secret.txt", .notFound),
            ]
            for (uri, status) in cases {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == status, "\(uri): \(response.status)")
                if response.status == .notFound || response.status == .badRequest, uri.hasPrefix("/c/") {
                    let page = Self.body(response)
                    #expect(!page.contains("secret\n") && !page.contains("<script>"), "\(uri): \(page)")
                }
            }
            // A POST is no way to change anything here (control is not routed without a token).
            #expect(try await client.execute(uri: "/c/synth", method: .post).status != .ok)
        }
        #expect(try store.lastEventID() == before)
    }

    @Test func theProgressFeedPushesAChangeWithinASecond_andEndsWhenTheCampaignFinishes() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-web")
        defer { dir.remove() }
        let store = try Self.liveCampaign(in: dir)
        let app = Application(router: Dashboard(root: dir.path).router())
        try await app.test(.router) { client in
            async let response = client.execute(uri: "/c/live/events?after=0", method: .get)
            // The feed has sent its first state; then a trial completes, then the campaign ends.
            try await Task.sleep(for: .milliseconds(600))
            var trial = TrialRecord(id: 1, parameters: ["x": .double(0.1)], status: .completed, objective: 0.25, attemptCount: 1, createdAt: 1_000, endedAt: 2_000)
            trial.feasible = true
            try store.apply([.trial(trial), .event(CampaignEvent(kind: "trial.completed", message: "trial 1 <completed>", trial: 1, at: 2_000))])
            let changed = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(600))
            try store.apply([.campaignFinished(at: 3_000)])
            let text = Self.body(try await response)
            let ended = ContinuousClock.now
            #expect(ended - changed < .seconds(2), "the feed noticed the end within a poll or two")
            let events = text.components(separatedBy: "\n\n").filter { $0.contains("event: progress") }
            #expect(events.count >= 3, "\(text)")
            let completed = events.compactMap { event -> Int? in
                guard let data = event.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }) else { return nil }
                let object = try? JSONSerialization.jsonObject(with: Data(data.dropFirst(6).utf8)) as? [String: Any]
                return (object?["counts"] as? [String: Int])?["completed"] ?? 0
            }
            #expect(completed.first == 0 && completed.last == 1, "\(completed)")
            #expect(text.contains("trial 1 <completed>"), "the new event rides along (JSON, escaped by the page's script as text)")
            #expect(text.hasSuffix("event: end\ndata: finished\n\n"), "\(text.suffix(200))")
            #expect(text.hasPrefix("retry: 3000\n\n"))
        }
    }

    @Test func aRunningAttemptsLogIsFollowedAsItGrows() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-web")
        defer { dir.remove() }
        let store = try Self.liveCampaign(in: dir)
        let attempt = AttemptRecord(id: 11, trial: 1, number: 1, worker: "w1", incarnation: 1, status: .running, argv: ["python3"], assignedAt: 1_000)
        try store.apply([
            .worker(WorkerRecord(id: "w1", incarnation: 1, hostname: "node-1", pid: 100, slots: 1, gpus: [], joinedAt: 1_000, lastSeen: 1_000)),
            .attempt(attempt),
        ])
        let finished = { var ended = attempt; ended.status = .succeeded; ended.endedAt = 2_000; return ended }()
        let output = try WorkerStream(store: store, attempt: 11, trial: 1)
        try output.write("epoch 1 <ok>\n")
        let app = Application(router: Dashboard(root: dir.path).router())
        try await app.test(.router) { client in
            let page = Self.body(try await client.execute(uri: "/c/live/t/1", method: .get))
            #expect(page.contains("epoch 1 &lt;ok&gt;"))
            // The workers' fragment (what the campaign page swaps in) names what each runs.
            let workers = Self.body(try await client.execute(uri: "/c/live/workers", method: .get))
            #expect(workers.contains("<td>w1</td>") && workers.contains("<a href=\"/c/live/t/1\">1</a>"), "\(workers)")
            let follow = try #require(page.range(of: "data-follow=\""))
            let url = String(page[follow.upperBound...].prefix { $0 != "\"" })
            #expect(url.hasPrefix("/c/live/t/1/a/11/stdout/follow?from="), "\(url)")
            async let response = client.execute(uri: url, method: .get)
            try await Task.sleep(for: .milliseconds(400))
            try output.write("epoch 2\nepoch 3\n")
            try await Task.sleep(for: .milliseconds(600))
            try store.apply([.attempt(finished)])
            let text = Self.body(try await response)
            #expect(text.contains("event: log\nid: ") && text.contains("data: epoch 2\ndata: epoch 3\ndata: \n\n"), "\(text)")
            #expect(!text.contains("epoch 1"), "only what came after the page")
            #expect(text.hasSuffix("event: end\ndata: ended\n\n"))
        }
    }

    @Test func steeringNeedsTheToken_isCheckedFirst_andIsQueuedForTheCoordinator() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-web")
        defer { dir.remove() }
        let store = try Self.liveCampaign(in: dir)
        let token = "0123456789abcdef-token"
        let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
        // Started without a token, the dashboard steers nothing.
        try await Application(router: Dashboard(root: dir.path).router()).test(.router) { client in
            #expect(try await client.execute(uri: "/c/live/pause", method: .post, headers: bearer).status == .forbidden)
            let page = Self.body(try await client.execute(uri: "/c/live", method: .get))
            #expect(!page.contains("id=\"control\""))
        }
        let app = Application(router: Dashboard(root: dir.path, access: ControlAccess(token: token)).router())
        try await app.test(.router) { client in
            let page = Self.body(try await client.execute(uri: "/c/live", method: .get))
            // Not a form: Enter in the token's field must not send it in a GET's URL.
            #expect(page.contains("<div id=\"control\"") && !page.contains(" name=\"token\""))
            let refused: [(String, HTTPFields, String, HTTPResponse.Status)] = [
                ("/c/live/pause", [:], "", .unauthorized), ("/c/live/pause", [.authorization: "Bearer wrong"], "", .forbidden),
                ("/c/live/pause", [.authorization: "Bearer \(token)x"], "", .forbidden), ("/c/live/pause", [.authorization: token], "", .unauthorized),
                ("/c/nope/pause", [:], "", .unauthorized), ("/c/nope/pause", bearer, "", .notFound), ("/c/../pause", bearer, "", .notFound),
                ("/c/live/cancel?trial=abc", bearer, "", .badRequest), ("/c/live/cancel?trial=99", bearer, "", .notFound),
                ("/c/live/add", bearer, "{not json", .badRequest),
                ("/c/live/add", bearer, #"{"configurations": [], "trials": -1, "hours": 0, "gpuHours": 0}"#, .badRequest),
                ("/c/live/add", bearer, #"{"configurations": [{"x": 5}], "trials": 0, "hours": 0, "gpuHours": 0}"#, .badRequest),
                ("/c/live/add", bearer, #"{"configurations": [], "trials": 0, "hours": 0, "gpuHours": 0}"#, .badRequest),
            ]
            for (uri, headers, body, status) in refused {
                let response = try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
                #expect(response.status == status, "\(uri) \(headers): \(response.status) \(Self.body(response))")
            }
            #expect(try store.pendingControlRequests().isEmpty, "nothing refused was queued")

            let coordinator = Self.standInCoordinator(store)
            defer { coordinator.cancel() }
            let pause = try await client.execute(uri: "/c/live/pause", method: .post, headers: bearer)
            #expect(pause.status == .ok, "\(Self.body(pause))")
            #expect(Self.body(pause).contains(#""outcome":"pause  by dashboard""#), "\(Self.body(pause))")
            let cancel = try await client.execute(uri: "/c/live/cancel?trial=3", method: .post, headers: bearer)
            #expect(Self.body(cancel).contains(#""outcome":"cancel_trial 3 by dashboard""#), "\(Self.body(cancel))")
            let add = try await client.execute(
                uri: "/c/live/add", method: .post, headers: bearer, body: ByteBuffer(string: #"{"configurations": [{"x": 0.5}], "trials": 2, "hours": 0, "gpuHours": 0}"#))
            #expect(add.status == .ok && Self.body(add).contains("add {"), "\(Self.body(add))")
        }
    }

    /// `--http` with the campaign's credentials: its token steers that campaign, not the others
    /// the dashboard shows, and only that campaign's page shows the controls.
    @Test func aCampaignsOwnTokenSteersThatCampaignOnly() async throws {
        let dir = try Self.synthRoot()
        defer { dir.remove() }
        let store = try Self.liveCampaign(in: dir)
        let token = String(repeating: "ab", count: 32)
        let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
        let app = Application(router: Dashboard(root: dir.path, access: ControlAccess(token: token, only: "live")).router())
        let coordinator = Self.standInCoordinator(store)
        defer { coordinator.cancel() }
        try await app.test(.router) { client in
            #expect(Self.body(try await client.execute(uri: "/c/live", method: .get)).contains("<div id=\"control\""))
            #expect(!Self.body(try await client.execute(uri: "/c/synth", method: .get)).contains("<div id=\"control\""))
            let elsewhere = try await client.execute(uri: "/c/synth/pause", method: .post, headers: bearer)
            #expect(elsewhere.status == .forbidden && Self.body(elsewhere).contains("steers campaign &#39;live&#39; only"), "\(Self.body(elsewhere))")
            // The token is still checked first: without it, nothing is said of the scope.
            let anonymous = try await client.execute(uri: "/c/synth/pause", method: .post)
            #expect(anonymous.status == .unauthorized && !Self.body(anonymous).contains("steers campaign"))
            #expect(try await client.execute(uri: "/c/live/pause", method: .post, headers: [.authorization: "Bearer \(token.dropLast())"]).status == .forbidden)
            let pause = try await client.execute(uri: "/c/live/pause", method: .post, headers: bearer)
            #expect(pause.status == .ok && Self.body(pause).contains(#""outcome":"pause  by dashboard""#), "\(Self.body(pause))")
        }
        let synth = try CampaignStore(directory: dir.file("synth"), create: false, readOnly: true)
        #expect(try synth.pendingControlRequests().isEmpty, "nothing was queued for the campaign out of reach")
    }
}

/// An attempt's stdout stored as a worker writes it: one zstd frame, flushed at each report (a
/// flush alone does not decode without what came before it).
///
/// `@unchecked Sendable`: the test writes from one task at a time, each write awaited.
final class WorkerStream: @unchecked Sendable {
    let ingestor: ReportIngestor
    let compressor: ZstdCompressor
    let attempt: AttemptID
    let trial: TrialID
    var seq: UInt64 = 1

    init(store: CampaignStore, attempt: AttemptID, trial: TrialID) throws {
        ingestor = ReportIngestor(store: store)
        compressor = try ZstdCompressor()
        self.attempt = attempt
        self.trial = trial
    }

    func write(_ text: String) throws {
        var out: [UInt8] = []
        try compressor.compress(Array(text.utf8), into: &out)
        try compressor.flush(into: &out)
        let trial = trial
        _ = try ingestor.ingest(frames: [IncomingFrame(attempt: attempt, stream: .stdout, seq: seq, rawLength: UInt64(text.utf8.count), data: out)],
                                metrics: [], trialOf: { _ in trial }, now: 1_500)
        seq += 1
    }
}
