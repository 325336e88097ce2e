import InternCore
import InternReport
import InternStore
import InternWeb
import Testing

/// The dashboard's pure parts, without a server or a store: the table's query, the event-stream
/// encoding, when a live feed sends, the listen address, campaign names from URLs.
struct DashboardLogicTests {
    static func trial(_ id: Int, _ status: TrialStatus, objective: Double? = nil, ended: Int64? = nil, stage: Int = 0) -> TrialRecord {
        var trial = TrialRecord(id: id, parameters: ["x": .double(Double(id))], status: status, objective: objective, createdAt: 0, endedAt: ended)
        trial.stage = stage
        return trial
    }

    @Test func theTableQueryFiltersAndSorts_objectiveless_trialsLastBothWays() throws {
        let trials = [
            Self.trial(1, .completed, objective: 0.5, ended: 30), Self.trial(2, .failed, ended: 10), Self.trial(3, .completed, objective: 0.2, ended: 20),
            Self.trial(4, .running), Self.trial(5, .completed, objective: 0.9, ended: 40, stage: 1),
        ]
        let stages = ["train", "eval"]
        #expect(try TrialQuery(parameters: [:], stages: stages).apply(trials, stageNames: stages).map(\.id) == [1, 2, 3, 4, 5])
        let best = try TrialQuery(parameters: ["sort": "objective"], stages: stages)
        #expect(best.apply(trials, stageNames: stages).map(\.id) == [3, 1, 5, 2, 4])
        let worst = try TrialQuery(parameters: ["sort": "objective", "order": "desc"], stages: stages)
        #expect(worst.apply(trials, stageNames: stages).map(\.id) == [5, 1, 3, 4, 2])
        let completedTrain = try TrialQuery(parameters: ["status": "completed", "stage": "train"], stages: stages)
        #expect(completedTrain.apply(trials, stageNames: stages).map(\.id) == [1, 3])
        #expect(try TrialQuery(parameters: ["status": "all", "stage": "all"], stages: stages) == TrialQuery())
        #expect(try TrialQuery(parameters: ["sort": "ended"], stages: stages).apply(trials, stageNames: stages).map(\.id) == [2, 3, 1, 5, 4])
        // Links: clicking the sorted column again reverses it; the query string round-trips.
        #expect(best.sorted(by: .objective).descending && !best.sorted(by: .id).descending)
        #expect(best.queryString == "sort=objective")
        #expect(completedTrain.queryString == "status=completed&stage=train")
    }

    @Test func theTableQueryRefusesValuesItDoesNotKnow_with400() {
        for parameters in [["status": "done"], ["stage": "nope"], ["sort": "parameters"], ["order": "up"], ["status": "<script>"]] {
            #expect(throws: WebError.self) { try TrialQuery(parameters: parameters, stages: ["train"]) }
            do {
                _ = try TrialQuery(parameters: parameters, stages: ["train"])
            } catch {
                #expect(error.status == .badRequest)
            }
        }
    }

    @Test func anEventsDataLinesCannotEndItEarly() {
        let event = ServerSentEvent(event: "log", id: "7", data: "one\n\ntwo\r\nthree\rfour\n")
        #expect(event.text == "event: log\nid: 7\ndata: one\ndata: \ndata: two\ndata: three\ndata: four\ndata: \n\n")
        #expect(ServerSentEvent(event: "a\nb", data: "x").text == "event: a b\ndata: x\n\n")
        #expect(ServerSentEvent.keepAlive.hasPrefix(":") && ServerSentEvent.keepAlive.hasSuffix("\n\n"))
    }

    @Test func aLiveFeedSendsOnChange_keepsAliveWhenQuiet_andEndsWhenFinal() {
        var feed = LiveFeed<Int>(now: 0)
        #expect(feed.poll(1, final: false, now: 0) == .send)
        #expect(feed.poll(1, final: false, now: 250) == .wait)
        #expect(feed.poll(2, final: false, now: 500) == .send)
        #expect(feed.poll(2, final: false, now: 500 + LiveFeed<Int>.keepAliveMillis - 1) == .wait)
        #expect(feed.poll(2, final: false, now: 500 + LiveFeed<Int>.keepAliveMillis) == .keepAlive)
        #expect(feed.poll(2, final: false, now: 600 + LiveFeed<Int>.keepAliveMillis) == .wait)
        #expect(feed.poll(2, final: true, now: 700 + LiveFeed<Int>.keepAliveMillis) == .sendAndEnd)
        #expect(LiveFeed<Int>.pollInterval < .seconds(1))
    }

    @Test func progressCountsTheTrialsNotDrawnYetAsPending() {
        let tally = [
            CampaignStore.TrialCount(stage: 0, status: .completed, feasible: true, count: 3),
            CampaignStore.TrialCount(stage: 0, status: .running, feasible: nil, count: 2),
            CampaignStore.TrialCount(stage: 1, status: .pending, feasible: nil, count: 1),
        ]
        let (counts, total) = CampaignProgress.counts(tally, trialsInAll: 10)
        #expect(counts == ["completed": 3, "running": 2, "pending": 6])
        #expect(total == 11)
    }

    @Test func theListenAddressIsParsed_andOnlyLoopbackCountsAsLocal() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress(parsing: "[::1]:0") == ListenAddress(host: "::1", port: 0))
        #expect(try ListenAddress(parsing: "[::1]:9").description == "[::1]:9")
        for local in ["127.0.0.1:1", "127.1.2.3:1", "localhost:1", "[::1]:1"] { #expect(try ListenAddress(parsing: local).isLoopback, "\(local)") }
        for remote in ["0.0.0.0:1", "10.0.0.1:1", "[::]:1", "example.org:1", "127.0.0.1.evil.com:1", "127.0.0.256:1"] {
            #expect(try !ListenAddress(parsing: remote).isLoopback, "\(remote)")
        }
        for bad in ["8080", "127.0.0.1", "127.0.0.1:99999", "::1:80", ":80", "a b:80", "host:-1"] {
            #expect(throws: WebError.self, "\(bad)") { try ListenAddress(parsing: bad) }
        }
    }

    @Test func campaignNamesFromURLsNeverLeaveTheRoot() throws {
        let root = CampaignRoot(path: "/tmp")
        for name in ["..", ".", "../etc", "a/b", "", "%2e%2e", "x\0y", String(repeating: "a", count: 65)] {
            #expect(throws: WebError.self, "\(name)") { try root.directory(of: name) }
        }
    }

    @Test func aDataCampaignsAnalysisShowsItsTotals_andTheShardsStillToRun() {
        let shards = [
            ShardTotals.Shard(trial: 1, item: "a.jsonl", status: .completed, values: ["rows_in": 100, "dropped/<dup>": 7], startedAt: 0, endedAt: 2_000),
            ShardTotals.Shard(trial: 2, item: "b.jsonl", status: .completed, values: ["rows_in": 50, "dropped/<dup>": 3], startedAt: 1_000, endedAt: 4_000),
        ]
        let totals = CampaignReport.Totals(ShardTotals(patterns: ["rows_in", "dropped/*"], items: ["a.jsonl", "b.jsonl", "c.jsonl"], shards: shards))
        let html = Pages.analysis(campaign: "data", Pages.Analysis(
            goal: [], cost: CostBreakdown(usage: [], stageNames: ["main"], now: 0), failures: [], charts: [:], totals: totals))
        #expect(html.contains("<h2>Totals</h2>") && html.contains("<td>rows_in</td><td>150</td>") && html.contains("<td>dropped/&lt;dup&gt;</td><td>10</td>"), "\(html)")
        #expect(html.contains("still to run (1): c.jsonl"))
        var plain = Pages.Analysis(goal: [], cost: CostBreakdown(usage: [], stageNames: ["main"], now: 0), failures: [], charts: [:])
        let none = Pages.analysis(campaign: "sweep", plain)
        #expect(!none.contains("Totals") && !none.contains("seen in earlier"))
        // The lab's word on failures an earlier campaign had, escaped.
        plain.seenBefore = ["`abcd1234` ModuleNotFoundError: <x>", "↳ seen in campaign sft-1 (12 trials, 2026-11-30)"]
        let seen = Pages.analysis(campaign: "sweep", plain)
        #expect(seen.contains("<h2>Failures seen in earlier campaigns</h2>") && seen.contains("<li>`abcd1234` ModuleNotFoundError: &lt;x&gt;</li>"), "\(seen)")
    }

    @Test func pagesEscapeWhatCampaignsWrite() {
        let hostile = "<script>alert(1)</script>\"'&"
        var progress = CampaignProgress(
            campaign: hostile, state: "running", final: false, counts: [:], total: 1, ended: 0, improved: 0, best: hostile, workers: 0, lastEventID: 0,
            events: [])
        progress.events = []
        let trial = TrialRecord(id: 1, parameters: [hostile: .string(hostile)], createdAt: 0)
        let model = Pages.CampaignModel(
            name: "c", progress: progress, stageNames: ["train"], query: TrialQuery(), trials: [trial], workers: [], running: [:],
            events: [CampaignEvent(kind: "k", message: hostile, at: 0)], goal: [hostile], cost: CostBreakdown(usage: [], stageNames: ["train"], now: 0),
            failures: [], charts: [:])
        let page = Pages.campaign(model)
        #expect(!page.contains("<script>alert"))
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"))
        let table = Pages.campaigns([Pages.CampaignRow(name: "c", progress: progress, cost: hostile, lastActivity: nil)], root: hostile)
        #expect(!table.contains("<script>alert"))
    }

    @Test func onlyTheServersBearerTokenMaySteer() {
        let access = ControlAccess(token: "s3cret-token-0123")
        #expect(access.check(authorization: "Bearer s3cret-token-0123") == .allowed)
        #expect(access.check(authorization: nil) == .missing)
        #expect(access.check(authorization: "s3cret-token-0123") == .missing)
        #expect(access.check(authorization: "Basic s3cret-token-0123") == .missing)
        for wrong in ["Bearer ", "Bearer s3cret-token-012", "Bearer s3cret-token-01234", "Bearer S3cret-token-0123"] {
            #expect(access.check(authorization: wrong) == .wrong, "\(wrong)")
        }
        #expect(ControlAccess(token: nil).check(authorization: "Bearer anything") == .off)
        #expect(ControlAccess(token: "").check(authorization: "Bearer ") == .off)
        #expect(ControlAccess.refusal(.missing)?.status == .unauthorized && ControlAccess.refusal(.wrong)?.status == .forbidden)
        #expect(ControlAccess.refusal(.allowed) == nil)
        // A token for one campaign (a coordinator's own) steers that one only; one from a file, all.
        let own = ControlAccess(token: "s3cret-token-0123", only: "sweep")
        #expect(own.steers("sweep") && !own.steers("other") && own.outOfReach("sweep") == nil)
        #expect(own.outOfReach("other")?.status == .forbidden)
        #expect(access.steers("sweep") && access.steers("other") && access.outOfReach("other") == nil)
        #expect(!ControlAccess(token: nil, only: "sweep").steers("sweep"))
    }
}
