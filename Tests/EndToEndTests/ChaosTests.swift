import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// Chaos: a campaign runs while workers and the coordinator are killed with SIGKILL at random
/// moments and started again. Whatever happens, every trial ends exactly once, no result counts
/// twice, and every attempt that ended has, in the store, exactly the bytes its job wrote.
///
/// `make test` runs 150 trials (under a minute); `make chaos` sets `INTERN_CHAOS_TRIALS=1000`
/// and prints the figures.
@Suite(.serialized) struct ChaosTests {
    @Test func randomKills_ofWorkersAndTheCoordinator_loseNothing_andCountNothingTwice() async throws {
        let environment = ProcessInfo.processInfo.environment
        let trials = Int(environment["INTERN_CHAOS_TRIALS"] ?? "") ?? 150
        let seed = UInt64(environment["INTERN_CHAOS_SEED"] ?? "") ?? 20261127
        var random = SeededGenerator(seed: seed)  // the same seed gives the same kills
        let dir = try TemporaryDirectory(prefix: "intern-chaos")
        defer { dir.remove() }
        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let spec = try dir.write("c.yaml", CampaignEndToEndTests.campaign(
            name: "chaos", trials: trials, out: out, size: 30_000, sleep: 0.5, extra: "parallel: 3\nretries: 0"))
        let url = "ipc://\(dir.file("c.sock"))"
        let coordinatorArguments = ["coordinator", spec, "--listen", url, "--root", dir.file(".intern"),
                                    "--heartbeat-ms", "200", "--lease-ms", "2000"]
        var coordinator = try InternBinary.start(coordinatorArguments, in: dir.path)
        let ids = ["w1", "w2", "w3"]
        var workers = try ids.map { try InternBinary.start(["worker", "--connect", url, "--id", $0], in: dir.path) }
        let store = try await waitForStore(dir.file(".intern/chaos"))

        let started = ContinuousClock.now
        var coordinatorKills = 0
        var workerKills = 0
        var finished = false
        // Kill something every 0.7 to 2.5 s; the coordinator at least twice, early on.
        while !finished {
            try await Task.sleep(for: .milliseconds(Int.random(in: 700...2_500, using: &random)))
            if !coordinator.process.isRunning {
                finished = true
                break
            }
            let done = (try? store.trials().filter { $0.status.isTerminal }.count) ?? 0
            let killCoordinator = (coordinatorKills < 2 && done >= trials * (coordinatorKills + 1) / 4)
                || (coordinatorKills >= 2 && Int.random(in: 0..<6, using: &random) == 0 && done < trials * 9 / 10)
            if killCoordinator {
                coordinator.signal(SIGKILL)
                _ = try? await coordinator.finish(timeout: .seconds(5))
                coordinatorKills += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 100...1_000, using: &random)))
                coordinator = try InternBinary.start(coordinatorArguments, in: dir.path)
            } else if done < trials * 9 / 10 {
                let index = Int.random(in: 0..<ids.count, using: &random)
                workers[index].signal(SIGKILL)
                _ = try? await workers[index].finish(timeout: .seconds(5))
                workerKills += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 50...800, using: &random)))
                workers[index] = try InternBinary.start(["worker", "--connect", url, "--id", ids[index]], in: dir.path)
            }
            #expect(ContinuousClock.now - started < .seconds(Double(trials) * 3 + 60), "the campaign does not finish")
            if ContinuousClock.now - started > .seconds(Double(trials) * 3 + 60) { break }
        }
        let result = try await coordinator.finish(timeout: .seconds(Double(trials) + 60))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        for worker in workers { _ = try? await worker.finish(timeout: .seconds(20)) }
        let elapsed = ContinuousClock.now - started

        // Every trial ended exactly once, completed, with the one result its job reported.
        let records = try store.trials()
        #expect(records.count == trials)
        #expect(records.allSatisfy { $0.status == .completed })
        let attempts = try store.attempts()
        var verified = 0
        var verifiedBytes = 0
        for trial in records {
            let succeeded = attempts.filter { $0.trial == trial.id && $0.status == .succeeded }
            #expect(succeeded.count == 1, "trial \(trial.id): \(succeeded.count) succeeded attempts")
            // The fixture's eval_accuracy for the last epoch: 0.8 + (trial % 7) / 100.
            #expect(trial.objective.map { abs($0 - (0.8 + Double(trial.id % 7) / 100)) < 1e-9 } == true,
                    "trial \(trial.id): objective \(String(describing: trial.objective))")
        }
        #expect(attempts.allSatisfy { [.succeeded, .lost, .preempted].contains($0.status) },
                "\(Set(attempts.map(\.status.rawValue)))")
        // Every attempt that ended (its end was reported) has exactly the bytes its job wrote.
        for attempt in attempts where attempt.status == .succeeded {
            for stream in StoredStream.allCases {
                let written = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(attempt.trial).\(stream)"))
                let stored = try store.readLog(trial: attempt.trial, attempt: attempt.id, stream: stream)
                let copy = "\(out)/stored-\(attempt.id).\(stream)"
                try Data(stored).write(to: URL(fileURLWithPath: copy))
                #expect(try CampaignEndToEndTests.sha256(copy) == CampaignEndToEndTests.sha256("\(out)/\(attempt.trial).\(stream)"),
                        "trial \(attempt.trial) attempt \(attempt.id) \(stream): stored log differs from what the job wrote")
                #expect(Data(stored) == written)
                verifiedBytes += written.count
            }
            verified += 1
        }
        #expect(coordinatorKills >= 2)
        let lost = attempts.filter { $0.status == .lost }.count
        let events = try store.events(limit: 100_000)
        let reattached = events.filter { $0.kind == "attempt.reattached" }.count
        // "coordinator resumed: N attempts in flight on …": attempts that survived a coordinator kill.
        let resumed = events.filter { $0.kind == "coordinator.resumed" }.compactMap {
            Int($0.message.split(separator: " ").dropFirst(2).first ?? "")
        }.reduce(0, +)
        print("""
            chaos: \(trials) trials in \(elapsed), seed \(seed): \(coordinatorKills) coordinator kills, \(workerKills) worker kills; \
            \(attempts.count) attempts (\(lost) lost and rerun, \(resumed) kept running across coordinator restarts, \(reattached) re-attached after a lease expiry); \
            \(verified) ended attempts' logs verified by sha256 (\(verifiedBytes) bytes), all equal
            """)
    }
}
