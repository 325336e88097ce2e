import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// Evaluation results as metrics, with no change to the job: lm-eval's printed table and a
/// declared JSON results file become metrics that objectives and constraints use.
@Suite(.serialized) struct EvalResultsEndToEndTests {
    static let job = """
        import json, sys
        t = int(sys.argv[1])
        print("hf (pretrained=checkpoint-%d), limit: None, num_fewshot: 5" % t)
        print("|  Tasks  |Version|     Filter     |n-shot|  Metric   |   |Value |   |Stderr|")
        print("|---------|------:|----------------|-----:|-----------|---|-----:|---|-----:|")
        print("|gsm8k    |      3|flexible-extract|     5|exact_match|↑  |%.4f|±  |0.0131|" % (0.1 * t))
        print("|         |       |strict-match    |     5|exact_match|↑  |%.4f|±  |   N/A|" % (0.05 * t))
        print()
        with open("safety-%d.json" % t, "w") as f:
            json.dump({"toxicity": 0.3 if t == 4 else 0.02 * t, "refusals": {"rate": 0.1}}, f)
        """

    @Test func aPrintedTableAndADeclaredResultsFileBecomeMetricsForObjectivesAndConstraints() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        _ = try dir.write("evaljob.py", Self.job)
        let spec = try dir.write("eval.yaml", """
            name: evals
            command: [python3, evaljob.py, "{trial}"]
            trials: 4
            objective: {metric: gsm8k/flexible-extract/exact_match, direction: maximize}
            constraints: ["toxicity <= 0.1"]
            outputs: {safety: "safety-{trial}.json"}
            """)
        let run = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/evals"), create: false, readOnly: true)
        let trials = try store.trials()
        #expect(trials.map(\.objective) == [0.1, 0.2, 0.3, 0.4])
        // Trial 4 won on the objective but its results file broke the guardrail.
        #expect(trials.map(\.feasible) == [true, true, true, false])
        #expect(trials[0].outputs["safety"] == dir.file("safety-1.json"))
        let attempt = try #require(try store.attempts(trial: 2).first)
        let names = Set(try store.metricSeries(attempt: attempt.id).map(\.name))
        #expect(names == ["gsm8k/flexible-extract/exact_match", "gsm8k/flexible-extract/exact_match_stderr",
                          "gsm8k/strict-match/exact_match", "toxicity", "refusals/rate"], "\(names)")
        let best = try await InternBinary.run(["best", "--dir", dir.file(".intern/evals")], in: dir.path)
        #expect(best.stdout.hasPrefix("trial      3\n"), "\(best.stdout)")
        let report = try await InternBinary.run(["report", "--dir", dir.file(".intern/evals")], in: dir.path)
        #expect(report.stdout.contains("## Guardrails"), "\(report.stdout)")
    }

    @Test func aDeclaredResultsFileTheJobDidNotWriteFailsTheAttempt() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("eval.yaml", """
            name: missing
            command: [/bin/true]
            trials: 1
            outputs: {results: "out/results_*.json"}
            """)
        let run = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(run.status == 3, "\(run.stdout)\(run.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/missing"), create: false, readOnly: true)
        #expect(try store.trials().first?.note?.contains("declared output results") == true)
    }

    /// A results file with thousands of numbers (per-sample scores) whose names sort before the
    /// objective's: the objective is still seen (no false "never reported", exit 0), and a NaN
    /// loss among them still makes the run diverged.
    @Test func thousandsOfMetricNames_neverHideTheObjectiveOrALoss() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        _ = try dir.write("many.py", """
            import json, sys
            t = int(sys.argv[1])
            json.dump({"per_sample": [i / 1500 for i in range(1500)], "score": 0.5 + t / 10,
                       "val_loss": float("nan") if t == 2 else 0.25}, open("out-%d.json" % t, "w"))
            """)
        let spec = try dir.write("many.yaml", """
            name: many
            command: [python3, many.py, "{trial}"]
            trials: 2
            objective: {metric: score, direction: maximize}
            outputs: {results: "out-{trial}.json"}
            """)
        let run = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(!run.stdout.contains("warning"), "\(run.stdout)")
        let store = try CampaignStore(directory: dir.file(".intern/many"), create: false, readOnly: true)
        let trials = try store.trials()
        #expect(trials.map(\.status) == [.completed, .failed])
        #expect(trials.first?.objective == 0.6)
        #expect(try store.attempts(trial: 2).first?.failureClass == .diverged)
        #expect(try store.events(limit: 100).allSatisfy { $0.kind != "metric.missing" })
    }
}
