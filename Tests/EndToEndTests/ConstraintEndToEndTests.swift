import Foundation
import InternStore
import InternTestKit
import Testing

/// Guardrails with real processes: trials report the objective and a guarded metric; the best
/// trial is the best feasible one, infeasible trials are marked and counted.
@Suite(.serialized) struct ConstraintEndToEndTests {
    @Test func theBestTrialIsTheBestFeasibleOne() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        // Trial t: accuracy 0.t, worst-class accuracy 0.9 for odd trials, 0.5 for even ones.
        let spec = try dir.write("guard.yaml", """
            name: guard
            command: [python3, -c, "import sys; t = int(sys.argv[1]); print('METRIC acc=0.%d worst=%d' % (t, 9 if t % 2 else 5))", "{trial}"]
            trials: 6
            metrics: {prefix: METRIC}
            objective: {metric: acc, direction: maximize}
            constraints: ["worst >= 8"]
            """)
        let result = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet", "--root", dir.file(".intern")], in: dir.path, timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/guard"), create: false, readOnly: true)
        let trials = try store.trials()
        #expect(trials.map(\.feasible) == [true, false, true, false, true, false])
        #expect(trials[1].note == "infeasible: worst = 5.0 (needs worst >= 8.0)")
        let best = try await InternBinary.run(["best", "--dir", dir.file(".intern/guard")], in: dir.path)
        #expect(best.stdout.hasPrefix("trial      5\n"), "the best feasible is trial 5 (0.5), not trial 6 (0.6): \(best.stdout)")
        let status = try await InternBinary.run(["status", "--dir", dir.file(".intern/guard")], in: dir.path)
        #expect(status.stdout.contains("6 completed (3 infeasible)"), "\(status.stdout)")
        let table = try await InternBinary.run(["trials", "--dir", dir.file(".intern/guard")], in: dir.path)
        #expect(table.stdout.contains("infeasible"), "\(table.stdout)")
    }
}
