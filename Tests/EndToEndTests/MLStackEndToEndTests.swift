import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// What the real ML stack prints, through a real campaign: every capture of
/// Fixtures/ml-stack (transformers 4 and 5, TRL, accelerate, Lightning, Keras; streams apart and
/// merged) replayed by a job, parsed on a real worker, stored by a real coordinator, must give the
/// exact points its expected.json lists; a run that diverged while exiting 0 is `diverged`, an
/// API change is a `user` error; and an objective no trial reports is said, and fails the run.
@Suite(.serialized) struct MLStackEndToEndTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/ml-stack").path
    static var captures: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(fixtures)/captures")) ?? []).sorted()
    }

    struct Expected: Decodable {
        struct Metric: Decodable { var count: Int; var last: String? }
        struct Run: Decodable { var exit_code: Int; var metrics: [String: Metric] }
        var separate: Run
        var merged: Run
    }

    static func spec(name: String, captures: [String], objective: String, extra: String = "") -> String {
        """
        name: \(name)
        command: [/usr/bin/python3, \(fixtures)/replay.py, "\(fixtures)/captures/{capture}", "{mode}"]
        space:
          capture: {type: choice, values: [\(captures.joined(separator: ", "))]}
          mode: {type: choice, values: [separate, merged]}
        sampler: grid
        parallel: 2
        objective: {metric: \(objective), direction: minimize}
        timeout: 60s
        \(extra)
        """
    }

    @Test func everyCaptureGivesItsPointsThroughACampaign() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-mlstack")
        defer { dir.remove() }
        let spec = try dir.write("ml.yaml", Self.spec(name: "ml-stack", captures: Self.captures, objective: "eval_loss"))
        let run = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(180))
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/ml-stack"), create: false, readOnly: true)
        let trials = try store.trials()
        #expect(trials.count == Self.captures.count * 2)
        for trial in trials {
            guard case .string(let capture)? = trial.parameters["capture"], case .string(let mode)? = trial.parameters["mode"] else {
                Issue.record("trial \(trial.id) has no capture")
                continue
            }
            let file = URL(fileURLWithPath: "\(Self.fixtures)/captures/\(capture)/expected.json")
            let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: file))
            let want = mode == "separate" ? expected.separate : expected.merged
            let attempt = try #require(try store.attempts(trial: trial.id).last)
            let stored = Dictionary(uniqueKeysWithValues: try store.metricSeries(attempt: attempt.id).map { ($0.name, $0) })
            #expect(Set(stored.keys) == Set(want.metrics.keys), "\(capture) \(mode): names")
            for (name, metric) in want.metrics {
                #expect(stored[name]?.count == metric.count, "\(capture) \(mode): \(name) count")
                guard let last = metric.last, let value = Double(last) else { continue }
                // The store keeps a NaN as NULL.
                let got = stored[name]?.lastValue ?? .nan
                #expect(got == value || (got.isNaN && value.isNaN), "\(capture) \(mode): \(name) last \(got), log \(last)")
            }
            switch capture {
            case "transformers5-diverging":
                // Exited 0 with eval_loss and loss ending 'nan': not a success, never the best.
                #expect(trial.status == .failed, "\(capture) \(mode)")
                #expect(attempt.failureClass == .diverged, "\(capture) \(mode)")
                #expect(attempt.exitCode == 0)
            case "transformers5-api-change":
                #expect(trial.status == .failed)
                #expect(attempt.failureClass == .user)
            default:
                #expect(trial.status == .completed, "\(capture) \(mode): \(trial.status) \(attempt.failureClass.map { "\($0)" } ?? "")")
            }
        }
        // The best is a finite eval_loss of a Trainer run; the diverged trials are listed as failures.
        let best = try await InternBinary.run(["best", "--dir", dir.file(".intern/ml-stack")], in: dir.path)
        #expect(!best.stdout.contains("diverging"), "\(best.stdout)")
        let failures = try await InternBinary.run(["failures", "--dir", dir.file(".intern/ml-stack")], in: dir.path)
        #expect(failures.stdout.contains("diverged"), "\(failures.stdout)")
        #expect(failures.stdout.contains("eval_loss = nan"), "\(failures.stdout)")
        #expect(failures.stdout.contains("TypeError: Trainer.__init__() got an unexpected keyword argument 'tokenizer'"), "\(failures.stdout)")
    }

    @Test func anObjectiveNoTrialReportsIsSaidEverywhere_andTheRunExitsNonZero() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-mlstack")
        defer { dir.remove() }
        let spec = try dir.write("ml.yaml", Self.spec(
            name: "misspelt", captures: ["transformers5-trainer"], objective: "eval_los",
            extra: "pruning: {rule: asha, metric: eval_los, min_step: 1}"))
        let run = try await InternBinary.run(["run", spec, "--workers", "1"], in: dir.path, timeout: .seconds(120))
        #expect(run.status == 4, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("warning: no trial has reported eval_los, its objective and pruning metric, after "), "\(run.stdout)")
        #expect(run.stdout.contains("did you mean eval_loss?"), "\(run.stdout)")
        #expect(run.stdout.contains("no trial reported the objective"), "\(run.stdout)")
        let directory = dir.file(".intern/misspelt")
        let status = try await InternBinary.run(["status", "--dir", directory], in: dir.path)
        #expect(status.stdout.contains("warning    no trial has reported eval_los"), "\(status.stdout)")
        #expect(status.stdout.contains("seen: epoch, eval_loss"), "\(status.stdout)")
        #expect(status.stdout.contains("metric.missing"), "\(status.stdout)")
        let digest = try await InternBinary.run(["digest", "--dir", directory, "--tokens", "300"], in: dir.path)
        #expect(digest.stdout.contains("warning: no trial has reported eval_los"), "\(digest.stdout)")
        let report = try await InternBinary.run(["report", "--dir", directory], in: dir.path)
        #expect(report.stdout.contains("## Metrics never reported"), "\(report.stdout)")
        #expect(report.stdout.contains("did you mean eval_loss?"), "\(report.stdout)")
        let store = try CampaignStore(directory: directory, create: false, readOnly: true)
        #expect(try store.events(limit: 100).filter { $0.kind == "metric.missing" }.count == 1)
    }

    /// A run whose output goes to a file (SLURM's output file, `> run.log`) shows where it stands
    /// while it runs, warnings included, not only when it ends.
    @Test func aRunWrittenToAFileShowsItsProgressAndWarningsWhileItRuns() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-mlstack")
        defer { dir.remove() }
        let spec = try dir.write("slow.yaml", """
            name: slow
            shell: "python3 -c \\"print({{'eval_loss': '1.5'}})\\"; sleep {s}"
            space: {s: {type: choice, values: ["0", "8"]}}
            sampler: grid
            parallel: 1
            objective: {metric: eval_los, direction: minimize}
            """)
        let run = try InternBinary.start(["run", spec, "--workers", "1"], in: dir.path)
        try await eventually("the warning and [1/2] are in the output while it runs: \(run.stdoutSoFar)", timeout: .seconds(20),
                             every: .milliseconds(100)) {
            run.stdoutSoFar.contains("warning: no trial has reported eval_los") && run.stdoutSoFar.contains("[1/2]")
        }
        #expect(run.process.isRunning, "the second trial sleeps 8 s")
        #expect(run.stdoutSoFar.hasPrefix("running slow: 2 trials"), "\(run.stdoutSoFar)")
        let result = try await run.finish(timeout: .seconds(60))
        #expect(result.status == 4, "\(result.stdout)")
    }
}
