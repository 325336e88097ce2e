import Foundation
import InternStore
import InternTestKit
import Testing

/// A wall-clock budget with real processes: at the limit nothing new starts, the running attempt
/// finishes, and the campaign ends cleanly (exit 0) with the trials it ran.
@Suite(.serialized) struct BudgetEndToEndTests {
    @Test func aSpentBudgetEndsTheCampaignCleanly() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("budget.yaml", """
            name: budget
            shell: "sleep 0.4; echo METRIC loss=0.{trial}"
            trials: 40
            metrics: {prefix: METRIC}
            objective: {metric: loss, direction: minimize}
            budget: {hours: 0.0006}
            """)
        let started = ContinuousClock.now
        let result = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet", "--root", dir.file(".intern")], in: dir.path, timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(ContinuousClock.now - started < .seconds(15))
        let store = try CampaignStore(directory: dir.file(".intern/budget"), create: false, readOnly: true)
        let trials = try store.trials()
        let completed = trials.filter { $0.status == .completed }
        #expect(completed.count >= 1 && completed.count < 40, "\(completed.count) completed")
        #expect(trials.allSatisfy { $0.status == .completed || $0.status == .pending }, "\(trials.map(\.status))")
        #expect(try store.info()?.finishedAt != nil)
        #expect(try store.events(limit: 1_000).contains { $0.kind == "campaign.budget" && $0.message.contains("0.0006 hours") })
        #expect(result.stdout.contains("campaign finished"), "\(result.stdout)")
    }
}
