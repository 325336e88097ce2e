import Foundation
import InternStore
import InternTestKit
import Testing

/// Early stopping with real processes: trials print a per-epoch eval_loss; ASHA stops the ones
/// that lag at a rung. A pruned trial's process is gone soon after (its process group
/// terminated), its trial is `pruned`, not retried, and the campaign finishes.
@Suite(.serialized) struct PruningEndToEndTests {
    @Test func ashaStopsLaggingTrials_andTheirProcessesAreGone() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("pids"), withIntermediateDirectories: true)
        let script = try dir.write("train.py", """
            import os, sys, time
            trial = int(sys.argv[1])
            open(os.path.join(sys.argv[2], str(trial)), "w").write(str(os.getpid()))
            base = (trial * 0.37) % 1
            for epoch in range(1, 12):
                time.sleep(0.25)
                print("METRIC step=%d eval_loss=%.4f" % (epoch, base + 1.0 / epoch), flush=True)
            """)
        let spec = try dir.write("prune.yaml", """
            name: prune
            command: [python3, \(script), "{trial}", \(dir.file("pids"))]
            trials: 8
            metrics: {prefix: METRIC}
            objective: {metric: eval_loss, direction: minimize}
            pruning: {rule: asha, min_step: 1, reduction: 2}
            """)
        let result = try await InternBinary.run(
            ["run", spec, "--workers", "2", "--quiet", "--heartbeat-ms", "200", "--root", dir.file(".intern")], in: dir.path, timeout: .seconds(120))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")

        let store = try CampaignStore(directory: dir.file(".intern/prune"), create: false, readOnly: true)
        let trials = try store.trials()
        let pruned = trials.filter { $0.status == .pruned }
        #expect(!pruned.isEmpty && trials.contains { $0.status == .completed }, "\(trials.map(\.status))")
        #expect(trials.allSatisfy { $0.status == .pruned || $0.status == .completed })
        let events = try store.events(limit: 1_000)
        for trial in pruned {
            let attempts = try store.attempts(trial: trial.id)
            #expect(attempts.count == 1 && attempts[0].status == .cancelled, "trial \(trial.id): \(attempts.map(\.status))")
            // Stopped well before its 11 epochs (2.75 s) would have ended. (The last rung is at
            // step 8, three epochs before the end: a trial pruned there is still running when the
            // cancel arrives; one pruned at its very last line would have ended by itself.)
            let prunedAt = try #require(events.first { $0.kind == "trial.pruned" && $0.trial == trial.id }?.at)
            let endedAt = try #require(attempts[0].endedAt)
            #expect(endedAt - prunedAt < 1_500, "trial \(trial.id) ran \(endedAt - prunedAt) ms after it was pruned")
            let pid = try #require(Int32(String(contentsOfFile: dir.file("pids/\(trial.id)"), encoding: .utf8)))
            #expect(!processIsAlive(pid), "trial \(trial.id)'s process \(pid) is still alive")
            #expect(trial.note?.hasPrefix("pruned: ASHA") == true)
        }
        let status = try await InternBinary.run(["status", "--dir", dir.file(".intern/prune")], in: dir.path)
        #expect(status.stdout.contains("\(pruned.count) pruned"), "\(status.stdout)")
    }
}
