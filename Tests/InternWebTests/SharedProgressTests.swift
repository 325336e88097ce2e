import InternCore
import InternReport
import InternStore
import InternTestKit
@testable import InternWeb
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
    }
}
