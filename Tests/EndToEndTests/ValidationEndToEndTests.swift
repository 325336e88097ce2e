import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// Validation with real processes, on a job whose objective is a true value plus seeded noise:
/// the configuration that was lucky on its first run is not validated, a truly better one is.
@Suite(.serialized) struct ValidationEndToEndTests {
    /// score = the configuration's true value + noise from `INTERN_SEED` (sd 0.01). Without a seed
    /// (the first run of every trial) there is no noise, except that `lucky` gets +0.15: its
    /// first result is the campaign's best by far, and luck.
    static let job = """
        import os, random, sys
        x = sys.argv[1]
        if x == "slow":
            import time
            while not os.path.exists("go"):
                time.sleep(0.05)
        true = {"lucky": 0.80, "twin": 0.80, "better": 0.90, "plain": 0.70, "slow": 0.5}[x]
        seed = os.environ.get("INTERN_SEED")
        noise = (0.15 if x == "lucky" else 0.0) if seed is None else random.Random(int(seed)).gauss(0, 0.01)
        print("METRIC score=%.6f" % (true + noise))
        """

    static func spec(name: String, values: [String], baseline: String? = nil) -> String {
        """
        name: \(name)
        command: [python3, job.py, "{x}"]
        space: {x: [\(values.joined(separator: ", "))]}
        sampler: grid
        objective: {metric: score, direction: maximize}
        metrics: {prefix: METRIC}
        validate: {top: 2, repeats: 3}
        \(baseline.map { "baseline: {x: \($0)}" } ?? "")
        """
    }

    /// Runs the campaign to its end and returns its trials by configuration.
    static func run(_ name: String, values: [String], baseline: String? = nil, in dir: TemporaryDirectory) async throws -> (CampaignStore, [TrialRecord]) {
        _ = try dir.write("job.py", job)
        let spec = try dir.write("\(name).yaml", Self.spec(name: name, values: values, baseline: baseline))
        let result = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(90))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/\(name)"), create: false, readOnly: true)
        return (store, try store.trials())
    }

    @Test func aTrulyBetterConfigurationIsValidated_overTheLuckyFirstResultAndTheBaseline() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let (store, trials) = try await Self.run("better", values: ["lucky", "better", "plain"], baseline: "plain", in: dir)
        let originals = trials.filter { !$0.isRepeat }
        let lucky = try #require(originals.first { $0.parameters["x"] == .string("lucky") })
        let better = try #require(originals.first { $0.parameters["x"] == .string("better") })
        #expect(lucky.objective == 0.95 && better.objective == 0.9)
        // The top 2 and the baseline, 3 repeats each, with INTERN_SEED, lineage to the originals.
        let repeats = trials.filter(\.isRepeat)
        #expect(repeats.count == 9 && repeats.allSatisfy { $0.status == .completed })
        #expect(Set(repeats.compactMap(\.repeatOf)) == [lucky.id, better.id])
        #expect(repeats.filter(\.isBaseline).allSatisfy { $0.parameters["x"] == .string("plain") })
        let attempts = try store.attempts()
        for trial in repeats {
            let attempt = try #require(attempts.first { $0.trial == trial.id })
            #expect(attempt.environment["INTERN_SEED"] == trial.seed.map(String.init))
        }

        let best = try await InternBinary.run(["best", "--dir", dir.file(".intern/better")], in: dir.path)
        #expect(best.status == 0)
        #expect(best.stdout.contains("trial      \(better.id)\n"), "\(best.stdout)")
        #expect(best.stdout.contains("validated  yes: trial \(better.id) validated: score "), "\(best.stdout)")
        #expect(best.stdout.contains("Welch one-sided p ="))

        let json = try await InternBinary.run(["trials", "--json", "--dir", dir.file(".intern/better")], in: dir.path)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        func validation(_ id: TrialID) -> [String: Any]? { objects.first { $0["trial"] as? Int == Int(id) }?["validation"] as? [String: Any] }
        #expect(validation(better.id)?["validated"] as? Bool == true)
        #expect(validation(lucky.id)?["validated"] as? Bool == false)
        #expect(abs((validation(lucky.id)?["mean"] as? Double ?? 0) - 0.80) < 0.03)

        let digest = try await InternBinary.run(["digest", "--dir", dir.file(".intern/better")], in: dir.path)
        #expect(digest.stdout.contains("best trial \(better.id): score"), "\(digest.stdout)")
        #expect(digest.stdout.contains("trial \(better.id) validated"), "\(digest.stdout)")
        #expect(digest.stdout.contains("ended trials improved the best; 1 validated"), "\(digest.stdout)")
        let report = try await InternBinary.run(["report", "--format", "md", "--dir", dir.file(".intern/better")], in: dir.path)
        #expect(report.stdout.contains("validation: trial \(better.id) validated"), "\(report.stdout)")
        #expect(report.stdout.contains("Welch's t-test, one-sided, alpha 0.05"))
    }

    @Test func aLuckyConfigurationIsNotValidated() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        // twin is truly as good as lucky: lucky's first result (0.95) was luck, and its repeats show it.
        let (_, trials) = try await Self.run("lucky", values: ["lucky", "twin"], in: dir)
        let lucky = try #require(trials.first { !$0.isRepeat && $0.parameters["x"] == .string("lucky") })
        #expect(trials.count(where: \.isRepeat) == 6)
        let best = try await InternBinary.run(["best", "--dir", dir.file(".intern/lucky")], in: dir.path)
        #expect(best.status == 0)
        #expect(best.stdout.contains("validated  no: trial \(lucky.id) not validated"), "\(best.stdout)")
        let text = try await InternBinary.run(["trials", "--dir", dir.file(".intern/lucky")], in: dir.path)
        #expect(text.stdout.contains("not validated"), "\(text.stdout)")
        let digest = try await InternBinary.run(["digest", "--dir", dir.file(".intern/lucky")], in: dir.path)
        #expect(digest.stdout.contains("not validated") && digest.stdout.contains("; 0 validated"), "\(digest.stdout)")
    }

    /// `intern validate --results` on a running campaign whose spec has no `validate:`: the
    /// request goes through the store to the coordinator like `intern add`'s, and the repeats run;
    /// on a finished one it waits, and `intern resume` runs the repeats before the campaign ends again.
    @Test func validationOnDemandRepeatsTheBestOfARunningCampaign_orOfAFinishedOneWhenItRunsAgain() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        _ = try dir.write("job.py", Self.job)
        // The slow trial holds the campaign open until the file `go` exists.
        let spec = try dir.write("demand.yaml", Self.spec(name: "demand", values: ["lucky", "better", "plain", "slow"])
            .replacingOccurrences(of: "validate: {top: 2, repeats: 3}\n", with: ""))
        let coordinator = try InternBinary.start(["coordinator", spec, "--root", dir.file(".intern")], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/demand"))
        let url = try #require(try store.info()?.coordinatorURL)
        let worker = try InternBinary.start(["worker", "--connect", url, "--id", "w", "--slots", "2"], in: dir.path)
        try await eventually("the three fast trials completed", timeout: .seconds(60)) {
            try store.trials().count { $0.status == .completed } == 3
        }
        let campaign = ["--dir", dir.file(".intern/demand")]
        let asked = try await InternBinary.run(["validate", "--results", "--top", "2", "--repeats", "3"] + campaign, in: dir.path)
        #expect(asked.status == 0 && asked.stdout.contains("6 repeat trials queued to validate the best 2 of stage main"), "\(asked.stdout)\(asked.stderr)")
        try await eventually("the repeats completed", timeout: .seconds(60)) {
            try store.trials().count { $0.isRepeat && $0.status == .completed } == 6
        }
        _ = try dir.write("go", "")
        #expect(try await coordinator.finish(timeout: .seconds(60)).status == 0)
        _ = try await worker.finish(timeout: .seconds(30))
        let better = try #require(try store.trials().first { !$0.isRepeat && $0.parameters["x"] == .string("better") })
        let best = try await InternBinary.run(["best"] + campaign, in: dir.path)
        #expect(best.stdout.contains("validated  yes: trial \(better.id) validated"), "\(best.stdout)")
        // Finished: the request waits for the campaign to run again, which takes it first.
        let queued = try await InternBinary.run(["validate", "--results", "--top", "2", "--repeats", "2"] + campaign, in: dir.path)
        #expect(queued.status == 0 && queued.stdout.contains("queued: the campaign has finished"), "\(queued.stdout)\(queued.stderr)")
        let resumed = try await InternBinary.run(["resume", dir.file(".intern/demand"), "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        let repeats = try store.trials().filter(\.isRepeat)
        #expect(repeats.count == 10 && repeats.allSatisfy { $0.status == .completed })
        #expect(repeats.filter { $0.repeatOf == better.id }.compactMap(\.repeatNumber).sorted() == [1, 2, 3, 4, 5])
        #expect(try store.info()?.finishedAt != nil)
        let again = try await InternBinary.run(["best"] + campaign, in: dir.path)
        #expect(again.stdout.contains("(n=5)") && again.stdout.contains("validated  yes"), "\(again.stdout)")
    }
}
