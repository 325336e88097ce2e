import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// The coordinator dies without warning (SIGKILL) and is started again on the same campaign
/// directory: attempts that workers were running continue, nothing runs twice, no log byte is lost.
@Suite(.serialized) struct ResumeEndToEndTests {
    @Test func coordinatorKilledMidCampaign_resumes_andAttemptsInFlightAreKeptNotRerun() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: resumed
            shell: "echo start {x}; sleep 2; echo done {x}; echo err {x} >&2"
            space: {x: {type: choice, values: [a, b, c, d, e]}}
            sampler: grid
            parallel: 2
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let arguments = ["coordinator", spec, "--listen", url, "--root", dir.file(".intern"), "--heartbeat-ms", "200", "--lease-ms", "4000"]
        let first = try InternBinary.start(arguments, in: dir.path)
        let w1 = try InternBinary.start(["worker", "--connect", url, "--id", "w1"], in: dir.path)
        let w2 = try InternBinary.start(["worker", "--connect", url, "--id", "w2"], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/resumed"))
        try await eventually("two attempts run", timeout: .seconds(20)) {
            try store.attempts().filter({ $0.status == .running }).count >= 2
        }
        let running = try await InternBinary.run(["status", "--dir", dir.file(".intern/resumed")], in: dir.path)
        #expect(running.stdout.contains("state      running (coordinator pid \(first.pid)"), "\(running.stdout)")
        first.signal(SIGKILL)
        _ = try? await first.finish(timeout: .seconds(5))
        // The workers keep running their jobs while the coordinator is away.
        try await Task.sleep(for: .milliseconds(800))

        let second = try InternBinary.start(arguments, in: dir.path)
        let result = try await second.finish(timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(try await w1.finish(timeout: .seconds(20)).status == 0)
        #expect(try await w2.finish(timeout: .seconds(20)).status == 0)

        #expect(try store.trials().map(\.status) == Array(repeating: .completed, count: 5))
        let finished = try await InternBinary.run(["status", "--dir", dir.file(".intern/resumed")], in: dir.path)
        #expect(finished.stdout.contains("state      finished"), "\(finished.stdout)")
        let attempts = try store.attempts()
        // One attempt per trial: the two in flight at the kill re-attached instead of running again.
        #expect(attempts.count == 5, "\(attempts.map { ($0.trial, $0.status) })")
        #expect(attempts.allSatisfy { $0.status == .succeeded })
        for attempt in attempts {
            let x = ["a", "b", "c", "d", "e"][attempt.trial - 1]
            let out = try store.readLog(trial: attempt.trial, attempt: attempt.id, stream: .stdout)
            #expect(String(decoding: out, as: UTF8.self) == "start \(x)\ndone \(x)\n")
            let err = try store.readLog(trial: attempt.trial, attempt: attempt.id, stream: .stderr)
            #expect(String(decoding: err, as: UTF8.self) == "err \(x)\n")
        }
    }

    @Test func aWorkerWhoseCoordinatorNeverComesBack_givesUpOnceIdle() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: gone
            shell: "sleep 1; echo done"
            trials: 3
            """)
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinator = try InternBinary.start(["coordinator", spec, "--listen", url, "--root", dir.file(".intern"), "--heartbeat-ms", "200"], in: dir.path)
        let worker = try InternBinary.start(["worker", "--connect", url, "--id", "w", "--give-up-after", "2"], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/gone"))
        try await eventually("an attempt runs", timeout: .seconds(60)) { try store.attempts().contains(where: { $0.status == .running }) }
        coordinator.signal(SIGKILL)
        _ = try? await coordinator.finish(timeout: .seconds(5))
        let killed = ContinuousClock.now
        // The running job ends (1 s), then 2 s without an answer: the worker gives up.
        let result = try await worker.finish(timeout: .seconds(20))
        #expect(result.status == 1)
        #expect(result.stderr.contains("has not answered"), "\(result.stderr)")
        #expect(ContinuousClock.now - killed >= .seconds(2))
    }

    @Test func internRunKilled_thenInternResume_reattachesTheOrphanedWorkers_andRunsNothingTwice() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: rerun
            shell: "sleep 2; echo trial {trial}"
            trials: 4
            """)
        let run = try InternBinary.start(["run", spec, "--workers", "2", "--quiet"], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/rerun"))
        try await eventually("two attempts run", timeout: .seconds(60)) { try store.attempts().filter({ $0.status == .running }).count >= 2 }
        run.signal(SIGKILL)
        _ = try? await run.finish(timeout: .seconds(5))
        // Its workers (local-1, local-2) live on; the resumed campaign starts local-3 and local-4.
        let resumed = try await InternBinary.run(["resume", dir.file(".intern/rerun"), "--workers", "2", "--quiet"], in: dir.path)
        #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        #expect(resumed.stdout.contains("4 completed"), "\(resumed.stdout)")
        let attempts = try store.attempts()
        // What the workers said (their logs go with the directory when the test ends).
        let logs = (1...4).map { index in
            let path = dir.file(".intern/rerun/workers/local-\(index).log")
            return "local-\(index): " + ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log)").suffix(3_000)
        }.joined(separator: "\n")
        let events = try store.events(limit: 200).map { "\($0.at) \($0.kind) \($0.message)" }.joined(separator: "\n")
        #expect(attempts.count == 4, "\(attempts.map { ($0.trial, $0.worker, $0.status) })\n\(events)\n\(logs)\n\(resumed.stderr)")
        #expect(attempts.allSatisfy { $0.status == .succeeded })
        #expect(Set(try store.workers().map(\.id.rawValue)).isSuperset(of: ["local-1", "local-2", "local-3"]))
    }

    @Test func aWorkerThatNeverReachesACoordinator_givesUp() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let started = ContinuousClock.now
        let result = try await InternBinary.run(
            ["worker", "--connect", "ipc://\(dir.file("nobody.sock"))", "--id", "w", "--give-up-after", "1"], in: dir.path,
            timeout: .seconds(20))
        #expect(result.status == 1)
        #expect(result.stderr.contains("has not answered"), "\(result.stderr)")
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
