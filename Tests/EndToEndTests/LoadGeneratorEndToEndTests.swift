import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// `intern-load` against a real coordinator over sealed TCP: simulated workers that speak the
/// real protocol run a campaign to its end, and the store holds every trial completed once,
/// with exactly one succeeded attempt each and the logs and metrics the simulated jobs sent.
@Suite(.serialized) struct LoadGeneratorEndToEndTests {
    /// `intern-load`, built beside `intern`.
    static var loadBinary: String {
        URL(fileURLWithPath: InternBinary.path).deletingLastPathComponent().appendingPathComponent("intern-load").path
    }

    @Test func simulatedWorkers_overSealedTCP_completeEveryTrialOnce() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-load-e2e")
        defer { dir.remove() }
        let auth = try await InternBinary.run(["init-auth", dir.file("auth")], in: dir.path)
        #expect(auth.status == 0, "\(auth.stderr)")
        let spec = try dir.write("load.yaml", """
            name: load
            command: [/bin/true]
            space:
              x: {type: choice, values: [0]}
            sampler: {type: random, seed: 1}
            trials: 200
            parallel: 80
            objective: {metric: eval_loss, direction: minimize}
            retry: {infra: 5, per_trial: 20, backoff: 0}
            failures: {circuit_breaker: 0, quarantine_after: 0}
            """)
        let port = try NetworkCutEndToEndTests.freePort()
        let coordinator = try InternBinary.start(
            ["coordinator", spec, "--listen", "tcp://127.0.0.1:\(port)", "--auth", dir.file("auth"), "--root", dir.file(".intern"),
             "--max-unauthenticated-per-address", "100"], in: dir.path)
        // 20 workers x 2 slots, attempts of 0.05-0.3 s, 5 % of them failing (retried).
        let load = try InternBinary.startProgram(
            [Self.loadBinary, "--connect", "tcp://127.0.0.1:\(port)", "--auth", dir.file("auth"), "--workers", "20", "--slots", "2",
             "--min-seconds", "5", "--max-seconds", "30", "--time-scale", "0.01", "--log-rate", "2000", "--failure-rate", "0.05",
             "--coordinator-pid", "\(coordinator.pid)", "--json", dir.file("load.json"), "--time-limit", "60"], in: dir.path)
        let loadResult = try await load.finish(timeout: .seconds(90))
        let result = try await coordinator.finish(timeout: .seconds(30))
        #expect(loadResult.status == 0, "\(loadResult.stdout)\n\(loadResult.stderr)")
        #expect(result.status == 0, "\(result.stderr)")

        let store = try CampaignStore(directory: dir.file(".intern/load"), create: false, readOnly: true)
        let trials = try store.trials()
        #expect(trials.count == 200 && trials.allSatisfy { $0.status == .completed }, "\(trials.map(\.status))")
        for trial in trials {
            let attempts = try store.attempts(trial: trial.id)
            #expect(attempts.filter { $0.status == .succeeded }.count == 1, "trial \(trial.id): \(attempts.map(\.status))")
            #expect(trial.objective != nil, "trial \(trial.id) has no eval_loss")
        }
        // What the generator says it had acknowledged is what the store holds.
        let figures = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("load.json")))) as? [String: Any]
        let counts = figures?["counts"] as? [String: Any]
        #expect(counts?["succeeded"] as? Int == 200, "\(loadResult.stdout)")
        #expect(loadResult.stdout.contains("dispatch (work request -> assignment): p50"))
        let oneTrial = trials[0]
        let attempt = try store.attempts(trial: oneTrial.id).first { $0.status == .succeeded }!
        let stderr = String(decoding: try store.readLog(trial: oneTrial.id, attempt: attempt.id, stream: .stderr), as: UTF8.self)
        #expect(stderr.contains("it/s]"), "the stored stderr is the simulated tqdm output")
    }
}
