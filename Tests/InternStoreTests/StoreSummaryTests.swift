import InternCore
import InternStore
import InternTestKit
import Testing

/// `intern status`'s aggregate queries agree with what the trials and attempts, loaded whole, say.
@Suite struct StoreSummaryTests {
    @Test func countsBestAndFailures_matchTheRecords() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try CampaignStore(directory: dir.file("c"))
        try store.register(spec: CampaignStoreTests.spec, specPath: "/x.yaml", specYAML: "name: store-test", now: 1)
        func trial(_ id: Int, _ status: TrialStatus, _ objective: Double?, feasible: Bool? = nil, stage: Int = 0) -> StoreChange {
            var record = TrialRecord(id: id, parameters: ["lr": .double(Double(id) / 10)], status: status, objective: objective, createdAt: 1)
            record.feasible = feasible
            record.stage = stage
            return .trial(record)
        }
        try store.apply([
            trial(1, .completed, 0.5), trial(2, .completed, 0.2, feasible: false), trial(3, .completed, 0.3, feasible: true),
            trial(4, .completed, 0.3), trial(5, .running, nil), trial(6, .failed, nil), trial(7, .completed, nil),
            trial(8, .completed, 0.9, stage: 1),
        ])
        // The lowest feasible objective of stage 0, the lower id among equals (an infeasible 0.2 does not count).
        #expect(try store.bestTrial(stage: 0, maximize: false)?.id == 3)
        #expect(try store.bestTrial(stage: 0, maximize: true)?.id == 1)
        #expect(try store.bestTrial(stage: 1, maximize: false)?.id == 8)
        #expect(try store.bestTrial(stage: 2, maximize: false) == nil)
        #expect(try store.trial(4)?.objective == 0.3 && store.trial(99) == nil)

        let counts = try store.trialCounts()
        #expect(counts.reduce(0) { $0 + $1.count } == 8)
        #expect(counts.filter { $0.status == .completed && $0.stage == 0 }.reduce(0) { $0 + $1.count } == 5)
        #expect(counts.filter { $0.feasible == false }.map(\.count) == [1])

        var failed = AttemptRecord(id: 1, trial: 6, number: 1, worker: "w", incarnation: 1, status: .failed, argv: [], assignedAt: 1)
        failed.failureClass = .oom
        failed.failureSignature = "a"
        var again = failed
        again.id = 2
        again.failureClass = .user
        again.failureSignature = "b"
        var third = failed
        third.id = 3
        try store.apply([.attempt(failed), .attempt(again), .attempt(third)])
        let failures = try store.failureCounts()
        #expect(failures.byClass == [.oom: 2, .user: 1] && failures.signatures == 2)
    }
}
