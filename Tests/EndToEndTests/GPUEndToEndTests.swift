import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// GPUs end to end, with ids given to the worker (CI has no GPU): each attempt sees exactly its
/// own GPUs in CUDA_VISIBLE_DEVICES, attempts running together never share one, and no more run
/// than the GPUs allow.
@Suite(.serialized) struct GPUEndToEndTests {
    @Test func attemptsRunningTogether_getDisjointGPUs_andOnlyAsManyRunAsFit() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: gpus
            shell: "echo start $(date +%s%N) $CUDA_VISIBLE_DEVICES; sleep 0.4; echo end $(date +%s%N)"
            trials: 6
            gpus: 2
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern")], in: dir.path)
        // Four slots but four GPUs: at most two 2-GPU attempts at once.
        let worker = try InternBinary.start(["worker", "--connect", url, "--id", "g", "--slots", "4", "--gpus", "0,1,2,3"], in: dir.path)
        let result = try await coordinator.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let left = try await worker.finish(timeout: .seconds(20))
        #expect(left.status == 0)
        #expect(left.stderr.contains("offering GPUs 0, 1, 2, 3"), "\(left.stderr)")

        let store = try CampaignStore(directory: dir.file(".intern/gpus"), create: false, readOnly: true)
        // GPU-seconds per trial: wall time times the GPUs held.
        let trials = try await InternBinary.run(["trials", "--json", "--dir", dir.file(".intern/gpus")], in: dir.path)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(trials.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 6 && rows.allSatisfy { ($0["gpu_seconds"] as? Double ?? 0) >= 0.7 && ($0["gpus"] as? [String])?.count == 2 })
        var spans: [(start: Int, end: Int, gpus: Set<String>)] = []
        for attempt in try store.attempts() {
            #expect(attempt.status == .succeeded)
            #expect(attempt.gpus.count == 2)
            let lines = String(decoding: try store.readLog(trial: attempt.trial, attempt: attempt.id, stream: .stdout), as: UTF8.self)
                .split(separator: "\n").map { $0.split(separator: " ") }
            // Its two lines (start, end), or a failure recorded without crashing the test run.
            guard lines.count >= 2, lines[0].count >= 2, lines[1].count >= 2 else {
                Issue.record("attempt \(attempt.id) (\(attempt.status)) printed \(lines), not its start and end")
                continue
            }
            // The job saw exactly the GPUs the store says it held.
            #expect(lines[0].count == 3 && String(lines[0][2]) == attempt.gpus.joined(separator: ","), "\(lines)")
            spans.append((Int(lines[0][1])!, Int(lines[1][1])!, Set(attempt.gpus)))
        }
        for (i, a) in spans.enumerated() {
            for b in spans[(i + 1)...] where a.start < b.end && b.start < a.end {
                #expect(a.gpus.isDisjoint(with: b.gpus), "attempts overlapping in time share a GPU")
            }
            #expect(spans.filter { $0.start <= a.start && a.start < $0.end }.count <= 2)
        }
    }
}
