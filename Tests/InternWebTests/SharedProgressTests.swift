import Foundation
import InternCore
import InternReport
import InternStore
import InternTestKit
@testable import InternWeb
import Synchronization
import Testing

/// A campaign's feeds share their reads of the store.
struct SharedProgressTests {
    @Test func feedsAskingWithinAPollShareOneRead_andAFreshReadSeesTheChange() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-web")
        defer { dir.remove() }
        let store = try DashboardRouterTests.liveCampaign(in: dir)
        let view = StageView(spec: try CampaignReport.spec(of: store).1)
        // An age no test run outlasts, so that "at once" does not depend on the machine's load.
        let shared = SharedProgress(store: store, view: view, maxAge: .seconds(600))
        let first = try await shared.snapshot(now: 2_000)
        // Fifty feeds at once: one read between them.
        let readAts = try await withThrowingTaskGroup(of: ContinuousClock.Instant.self) { group in
            for _ in 0..<50 { group.addTask { try await shared.snapshot(now: 2_000).readAt } }
            return try await group.reduce(into: Set<ContinuousClock.Instant>()) { $0.insert($1) }
        }
        #expect(readAts == [first.readAt])
        try store.apply([
            .trial(TrialRecord(id: 2, parameters: ["x": .double(0.2)], status: .completed, objective: 0.5, attemptCount: 1, createdAt: 1_000, endedAt: 2_500)),
            .event(CampaignEvent(kind: "trial.completed", message: "trial 2 completed", trial: 2, at: 2_500)),
        ])
        #expect(try await shared.snapshot(now: 3_000).readAt == first.readAt, "within its age, the poll is not repeated")
        let next = try await shared.snapshot(now: 3_000, fresh: true)
        #expect(next.progress.count(.completed) == 1 && next.readAt > first.readAt)
        #expect(next.progress(after: first.progress.lastEventID).events.map { $0.hasSuffix("trial 2 completed") } == [true])
        #expect(next.progress(after: nil).events.isEmpty)
        #expect(SharedProgress.defaultMaxAge < LiveFeed<Int>.pollInterval, "every feed's poll sees a new read")
        // The analysis: a change a window after the first look is drawn at once; the next one,
        // within the window, waits for its end.
        #expect(first.analysis == 0 && next.analysis == 1 && next.progress(after: nil).analysis == 1)
        try store.apply([.event(CampaignEvent(kind: "note", message: "a change", at: 3_050))])
        let soon = try await shared.snapshot(now: 3_100, fresh: true)
        #expect(soon.analysis == 1 && soon.mark != next.mark, "the events changed; the analysis waits")
        let later = try await shared.snapshot(now: 3_000 + AnalysisPacer<Int>.minimumWindowMillis, fresh: true)
        #expect(later.analysis == 2 && later.fingerprint == soon.fingerprint && later.mark != soon.mark, "the feed sends the new version")
    }

    @Test func pagesAskingForTheReportTogetherShareOneBuild_andItIsBuiltAgainOnlyForAChange() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-web")
        defer { dir.remove() }
        let store = try DashboardRouterTests.liveCampaign(in: dir)
        let report = try CampaignReport.build(store: store, now: 2_000)
        let drawn = StoreShelf.DrawnReport(report: report, charts: [:], html: "")
        let builds = Mutex(0)
        let build: @Sendable () throws -> StoreShelf.DrawnReport = {
            builds.withLock { $0 += 1 }
            Thread.sleep(forTimeInterval: 0.05)
            return drawn
        }
        let cache = StoreShelf.ReportCache()
        let (fingerprint, _) = try CampaignProgress.fingerprint(store: store, now: 2_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 { group.addTask { _ = try await cache.report(for: fingerprint, build: build) } }
            try await group.waitForAll()
        }
        #expect(builds.withLock { $0 } == 1)
        #expect(await cache.lastBuildMillis >= 50)
        _ = try await cache.report(for: fingerprint, build: build)
        #expect(builds.withLock { $0 } == 1, "the same campaign: the kept report")
        var changed = fingerprint
        changed.lastEventID += 1
        _ = try await cache.report(for: changed, build: build)
        #expect(builds.withLock { $0 } == 2)
    }

    @Test func theAnalysisIsDrawnAgainAtMostOncePerWindow_andAlwaysAtTheEnd() {
        var pacer = AnalysisPacer<Int>()
        #expect(pacer.poll(1, final: false, now: 0, buildMillis: 0) == 0, "the first look is what a page loaded then shows")
        #expect(pacer.poll(2, final: false, now: 100, buildMillis: 0) == 0, "within the window")
        #expect(pacer.poll(2, final: false, now: 499, buildMillis: 0) == 0)
        #expect(pacer.poll(2, final: false, now: 500, buildMillis: 0) == 1, "once the window passed, though nothing changed since")
        #expect(pacer.poll(2, final: false, now: 5_000, buildMillis: 0) == 1, "nothing new: no drawing")
        // After a quiet spell, a change is drawn at once.
        #expect(pacer.poll(3, final: false, now: 6_000, buildMillis: 0) == 2)
        // A costly drawing (400 ms) widens the window to four times it.
        #expect(pacer.poll(4, final: false, now: 7_000, buildMillis: 400) == 2)
        #expect(pacer.poll(4, final: false, now: 7_599, buildMillis: 400) == 2)
        #expect(pacer.poll(4, final: false, now: 7_600, buildMillis: 400) == 3)
        // The campaign's last state is drawn whatever the window.
        #expect(pacer.poll(5, final: true, now: 7_601, buildMillis: 400) == 4)
        #expect(AnalysisPacer<Int>.windowMillis(buildMillis: 10) == 500 && AnalysisPacer<Int>.windowMillis(buildMillis: 450) == 1_800)
    }
}
