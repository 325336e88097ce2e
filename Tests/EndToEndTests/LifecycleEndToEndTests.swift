import Foundation
import InternStore
import InternTestKit
import Testing

/// What a person's signals do to intern's processes (their services run in one ServiceGroup):
/// the first one stops them gracefully and in order, a second one at once.
@Suite(.serialized) struct LifecycleEndToEndTests {
    @Test func interruptedRun_itsWorkersLeaveFirst_soTheCoordinatorRecordsTheirAttemptsPreempted() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let markers = dir.file("markers")
        try FileManager.default.createDirectory(atPath: markers, withIntermediateDirectories: true)
        let spec = try dir.write("c.yaml", """
            name: interrupted
            shell: "echo $$ > \(markers)/{x}; exec sleep 60"
            space: {x: {type: choice, values: [a, b, c]}}
            sampler: grid
            parallel: 2
            """)
        let run = try InternBinary.start(["run", spec, "--workers", "2", "--root", dir.file(".intern")], in: dir.path)
        let deadline = ContinuousClock.now + .seconds(30)
        var pids: [Int32] = []
        while pids.count < 2 {
            guard ContinuousClock.now < deadline else { Issue.record("the jobs did not start: \(run.stdoutSoFar)"); return }
            try await Task.sleep(for: .milliseconds(50))
            let names = (try? FileManager.default.contentsOfDirectory(atPath: markers)) ?? []
            pids = names.compactMap { try? String(contentsOfFile: "\(markers)/\($0)", encoding: .utf8) }
                .compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        let signalled = ContinuousClock.now
        run.signal(SIGINT)
        let result = try await run.finish(timeout: .seconds(30))
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(ContinuousClock.now - signalled < .seconds(15))
        #expect(result.stdout.contains("campaign stopped: 0 completed, 0 failed, 0 cancelled"), "\(result.stdout)")
        for pid in pids { #expect(!processIsAlive(pid), "job \(pid) outlived intern run") }
        // The coordinator was still there when the workers stopped their jobs: it recorded them.
        let store = try CampaignStore(directory: dir.file(".intern/interrupted"), create: false, readOnly: true)
        #expect(try store.attempts().map(\.status) == [.preempted, .preempted])
    }

    @Test func aSecondSigterm_stopsAWorkerAtOnce_withoutWaitingOutItsDrainGrace() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let marker = dir.file("pid")
        let spec = try dir.write("c.yaml", """
            name: impatient
            shell: "echo $$ > \(marker); exec sleep 60"
            trials: 1
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern")], in: dir.path)
        defer { coordinator.signal(SIGKILL) }
        let worker = try InternBinary.start(["worker", "--connect", url, "--id", "w", "--drain-grace", "60", "--kill-grace", "1"], in: dir.path)
        let deadline = ContinuousClock.now + .seconds(20)
        while (try? String(contentsOfFile: marker, encoding: .utf8))?.hasSuffix("\n") != true {
            guard ContinuousClock.now < deadline else { Issue.record("job did not start"); return }
            try await Task.sleep(for: .milliseconds(50))
        }
        let pid = try #require(Int32(String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))

        let signalled = ContinuousClock.now
        worker.signal(SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        // Still leaving: its job has 60 s of drain grace.
        #expect(processIsAlive(pid))
        worker.signal(SIGTERM)
        let result = try await worker.finish(timeout: .seconds(30))
        #expect(ContinuousClock.now - signalled < .seconds(10))
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("stopped at once"), "\(result.stderr)")
        #expect(!processIsAlive(pid))
    }
}
