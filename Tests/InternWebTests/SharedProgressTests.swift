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
        // Fifty feeds asking while one read is under way all get its versions, not the defaults.
        let marks = try await withThrowingTaskGroup(of: SharedProgress.Mark.self) { group in
            for _ in 0..<50 { group.addTask { try await shared.snapshot(now: 3_000, fresh: true).mark } }
            return try await group.reduce(into: [SharedProgress.Mark]()) { $0.append($1) }
        }
        #expect(marks.allSatisfy { $0.analysis == 1 && $0.table == 1 }, "\(marks.map { ($0.analysis, $0.table) })")
        let next = try await shared.snapshot(now: 3_000, fresh: true)
        #expect(next.progress.count(.completed) == 1 && next.readAt > first.readAt)
        #expect(next.progress(after: first.progress.lastEventID).events.map { $0.hasSuffix("trial 2 completed") } == [true])
        #expect(next.progress(after: nil).events.isEmpty)
        // The event a feed sends, encoded once per mark and `after`, the same as encoding it there.
        let sent = await shared.event(next, after: first.progress.lastEventID)
        #expect(sent.text == ServerSentEvent(event: "progress", id: "\(next.progress.lastEventID)", data: next.progress(after: first.progress.lastEventID).json).text)
        #expect(sent.lastEventID == next.progress.lastEventID && sent.text.contains("trial 2 completed"))
        #expect(await shared.event(next, after: nil).text.contains("trial 2 completed") == false)
        #expect(SharedProgress.defaultMaxAge < LiveFeed<Int>.pollInterval, "every feed's poll sees a new read")
        // The analysis: a change a window after the first look is drawn at once; the next one,
        // within the window, waits for its end.
        #expect(first.analysis == 0 && next.analysis == 1 && next.progress(after: nil).analysis == 1)
        #expect(first.table == 0 && next.table == 1 && next.progress(after: nil).table == 1, "the tables are paced the same way, apart")
        try store.apply([.event(CampaignEvent(kind: "note", message: "a change", at: 3_050))])
        let soon = try await shared.snapshot(now: 3_100, fresh: true)
        #expect(soon.analysis == 1 && soon.mark != next.mark, "the events changed; the analysis waits")
        let later = try await shared.snapshot(now: 3_000 + RedrawPacer<Int>.minimumWindowMillis, fresh: true)
        #expect(later.analysis == 2 && later.fingerprint == soon.fingerprint && later.mark != soon.mark, "the feed sends the new version")
        #expect(soon.table == 1 && later.table == 2)
    }

    @Test func eachPartIsKeptApart_andTheLeastRecentlyAskedForGoesBeyondTheCapacity() async throws {
        let made = Mutex<[String]>([])
        let cache = StoreShelf.RenderCache<String>()
        let fingerprint = CampaignProgress.Fingerprint(lastEventID: 1, counts: [:], state: "running", workers: 2)
        func part(_ key: String) async throws -> String {
            try await cache.value(key, for: fingerprint) {
                made.withLock { $0.append(key) }
                return "<table>\(key)</table>"
            }
        }
        #expect(try await part("trials?") == "<table>trials?</table>")
        #expect(try await part("workers") == "<table>workers</table>")
        #expect(try await part("trials?") == "<table>trials?</table>", "kept: not made again")
        #expect(made.withLock { $0 } == ["trials?", "workers"])
        // Fill the cache past its capacity with other queries; `trials?`, asked for again
        // meanwhile, stays; `workers`, not asked for since, goes.
        for query in 0..<StoreShelf.RenderCache<String>.capacity - 1 {
            _ = try await part("trials?sort=\(query)")
            _ = try await part("trials?")
        }
        made.withLock { $0.removeAll() }
        _ = try await part("trials?")
        _ = try await part("workers")
        #expect(made.withLock { $0 } == ["workers"])
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
        let cache = StoreShelf.RenderCache<StoreShelf.DrawnReport>()
        let (fingerprint, _) = try CampaignProgress.fingerprint(store: store, now: 2_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 { group.addTask { _ = try await cache.value(for: fingerprint, make: build) } }
            try await group.waitForAll()
        }
        #expect(builds.withLock { $0 } == 1)
        #expect(await cache.lastBuildMillis >= 50)
        _ = try await cache.value(for: fingerprint, make: build)
        #expect(builds.withLock { $0 } == 1, "the same campaign: the kept report")
        var changed = fingerprint
        changed.lastEventID += 1
        _ = try await cache.value(for: changed, make: build)
        #expect(builds.withLock { $0 } == 2)
    }

    @Test func aPartIsDrawnAgainAtMostOncePerWindow_andAlwaysAtTheEnd() {
        let window = RedrawPacer<Int>.minimumWindowMillis
        var pacer = RedrawPacer<Int>()
        #expect(pacer.poll(1, final: false, now: 0, buildMillis: 0) == 0, "the first look is what a page loaded then shows")
        #expect(pacer.poll(2, final: false, now: 100, buildMillis: 0) == 0, "within the window")
        #expect(pacer.poll(2, final: false, now: window - 1, buildMillis: 0) == 0)
        #expect(pacer.poll(2, final: false, now: window, buildMillis: 0) == 1, "once the window passed, though nothing changed since")
        #expect(pacer.poll(2, final: false, now: 10 * window, buildMillis: 0) == 1, "nothing new: no drawing")
        // After a quiet spell, a change is drawn at once.
        #expect(pacer.poll(3, final: false, now: 12 * window, buildMillis: 0) == 2)
        // A costly drawing (a window's worth) widens the window to four times it.
        #expect(pacer.poll(4, final: false, now: 13 * window, buildMillis: window) == 2)
        #expect(pacer.poll(4, final: false, now: 16 * window - 1, buildMillis: window) == 2)
        #expect(pacer.poll(4, final: false, now: 16 * window, buildMillis: window) == 3)
        // The campaign's last state is drawn whatever the window.
        #expect(pacer.poll(5, final: true, now: 16 * window + 1, buildMillis: window) == 4)
        #expect(RedrawPacer<Int>.windowMillis(buildMillis: 10) == window && RedrawPacer<Int>.windowMillis(buildMillis: window) == 4 * window)
    }
}
