import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// Pipelines with real processes: train writes a checkpoint file and declares it; eval reads the
/// file the placeholder names; select runs on the best feasible eval. Lineage is stored and shown;
/// a coordinator killed mid-pipeline resumes without running or feeding anything twice.
@Suite(.serialized) struct PipelineEndToEndTests {
    /// One script for the three stages (it reads `INTERN_STAGE`). Train x=2 declares its output in
    /// the file `INTERN_OUTPUT_FILE` names, x=3 forgets it; eval of x=4 misses the guardrail.
    static let job = """
        import json, os, sys, time
        stage = os.environ["INTERN_STAGE"]
        if stage == "train":
            x = int(sys.argv[1])
            time.sleep(float(os.environ.get("TRAIN_SLEEP", "0")))
            path = os.path.join(os.getcwd(), "ckpt-%s.txt" % os.environ["INTERN_TRIAL"])
            with open(path, "w") as f:
                f.write("weights-%d\\n" % x)
            print("METRIC loss=%d" % x)
            if x == 2:
                with open(os.environ["INTERN_OUTPUT_FILE"], "w") as f:
                    json.dump({"checkpoint": path, "by": "file"}, f, indent=2)
            elif x != 3:
                print(json.dumps({"intern_output": {"checkpoint": path}}))
        elif stage == "eval":
            content = open(sys.argv[1]).read().strip()
            x = int(content.split("-")[1])
            time.sleep(float(os.environ.get("EVAL_SLEEP", "0")))
            print("eval read", content, "lr", os.environ["INTERN_INPUT_TRAIN_X"])
            print("METRIC acc=%s worst=%s" % (x / 10, 0.1 if x == 4 else 0.9))
        else:
            print("selected", sys.argv[1], "from eval trial", os.environ["INTERN_PARENT_TRIAL"])
        """

    static func spec(name: String, env: String = "{}") -> String {
        """
        name: \(name)
        env: \(env)
        metrics: {prefix: METRIC}
        stages:
          - name: train
            command: [python3, job.py, "{x}"]
            space: {x: {type: choice, values: [1, 2, 3, 4, 5]}}
            sampler: grid
            objective: {metric: loss, direction: minimize}
            outputs: [checkpoint]
          - name: eval
            from: train
            command: [python3, job.py, "{train.checkpoint}"]
            objective: {metric: acc, direction: maximize}
            constraints: ["worst >= 0.5"]
          - name: select
            from: {stage: eval, top: 1}
            command: [python3, job.py, "{train.checkpoint}"]
        """
    }

    @Test func threeStagesRunWithInputsFlowingAndLineageShown() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        _ = try dir.write("job.py", Self.job)
        let spec = try dir.write("pipe.yaml", Self.spec(name: "pipe"))
        let result = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(90))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/pipe"), create: false, readOnly: true)
        let trials = try store.trials()
        let train = trials.filter { $0.stage == 0 }, eval = trials.filter { $0.stage == 1 }, select = trials.filter { $0.stage == 2 }
        #expect(train.count == 5 && eval.count == 4 && select.count == 1, "\(trials.map { ($0.id, $0.stage, $0.parent) })")
        // x=3 exited 0 without its declared checkpoint: a user failure that feeds nothing.
        let forgot = try #require(train.first { $0.parameters["x"] == .int(3) })
        #expect(forgot.status == .failed && forgot.note?.contains("declared output checkpoint") == true, "\(forgot.note ?? "")")
        #expect(!eval.contains { $0.parent == forgot.id })
        let byFile = try #require(train.first { $0.parameters["x"] == .int(2) })
        #expect(byFile.outputs == ["checkpoint": dir.file("ckpt-\(byFile.id).txt"), "by": "file"])
        // Each eval read the very file its train trial wrote, named by {train.checkpoint}.
        for trial in eval {
            let parent = try #require(train.first { $0.id == trial.parent })
            #expect(trial.inputs["train.checkpoint"] == dir.file("ckpt-\(parent.id).txt"))
            let attempt = try #require(try store.attempts(trial: trial.id).last)
            let out = String(decoding: try store.readLog(trial: trial.id, attempt: attempt.id, stream: .stdout), as: UTF8.self)
            #expect(out.hasPrefix("eval read weights-\(parent.parameters["x"]!.text) lr \(parent.parameters["x"]!.text)\n"), "\(out)")
        }
        #expect(eval.filter { $0.feasible == false }.count == 1)
        // select ran once, on the best feasible eval: x=5 (x=4 misses the guardrail).
        let best = try #require(eval.first { $0.id == select.first?.parent })
        let bestTrain = try #require(train.first { $0.id == best.parent })
        #expect(bestTrain.parameters["x"] == .int(5))
        #expect(select.first?.inputs["train.checkpoint"] == dir.file("ckpt-\(bestTrain.id).txt"))
        #expect(select.first?.inputs["eval.x"] == nil && select.first?.inputs["train.x"] == "5")
        let shown = try await InternBinary.run(["best", "--dir", dir.file(".intern/pipe")], in: dir.path)
        #expect(shown.stdout.contains("stage      eval"), "\(shown.stdout)")
        #expect(shown.stdout.contains("lineage    eval trial \(best.id) <- train trial \(bestTrain.id)"), "\(shown.stdout)")
        let table = try await InternBinary.run(["trials", "--dir", dir.file(".intern/pipe")], in: dir.path)
        #expect(table.stdout.hasPrefix("trial  stage   from"), "\(table.stdout)")
        let json = try await InternBinary.run(["trials", "--json", "--dir", dir.file(".intern/pipe")], in: dir.path)
        #expect(json.stdout.contains("\"stage\" : \"select\""), "\(json.stdout)")
    }

    @Test func aCoordinatorKilledMidPipelineResumesWithoutRunningOrFeedingTwice() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        _ = try dir.write("job.py", Self.job)
        let spec = try dir.write("pipe.yaml", Self.spec(name: "resumed", env: #"{TRAIN_SLEEP: "0.6", EVAL_SLEEP: "0.6"}"#))
        let run = try InternBinary.start(["run", spec, "--workers", "2", "--quiet"], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/resumed"))
        // Killed once an eval has completed and others are still to come.
        try await eventually("an eval has completed", timeout: .seconds(60)) {
            try store.trials().contains(where: { $0.stage == 1 && $0.status == .completed })
        }
        run.signal(SIGKILL)
        _ = try? await run.finish(timeout: .seconds(5))
        let before = try store.trials()
        #expect(before.count < 10, "the kill came before the pipeline ended: \(before.map { ($0.id, $0.stage, $0.status) })")
        let resumed = try await InternBinary.run(["resume", dir.file(".intern/resumed"), "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(90))
        #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        let trials = try store.trials()
        #expect(trials.count { $0.stage == 0 } == 5 && trials.count { $0.stage == 1 } == 4 && trials.count { $0.stage == 2 } == 1,
                "\(trials.map { ($0.id, $0.stage, $0.parent, $0.status) })")
        // Every completed, declared train trial fed exactly one eval; nothing ran twice.
        let parents = trials.filter { $0.stage == 1 }.compactMap(\.parent)
        #expect(Set(parents).count == parents.count)
        let attempts = try store.attempts()
        let succeeded = Dictionary(grouping: attempts.filter { $0.status == .succeeded }, by: \.trial)
        #expect(succeeded.values.allSatisfy { $0.count == 1 }, "\(attempts.map { ($0.trial, $0.id, $0.status) })")
        #expect(trials.filter { $0.stage == 2 }.allSatisfy { $0.status == .completed })
    }

    @Test func severalObjectivesReportTheParetoFront() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        // Trial t: accuracy and latency both grow with t, except trial 3 (worse in both than trial 4)
        // and trial 5 (infeasible): the front is trials 1, 2, 4, 6.
        let spec = try dir.write("pareto.yaml", """
            name: pareto
            command: [python3, -c, "import sys; t = int(sys.argv[1]); acc = 0.3 if t == 3 else t / 10; print('METRIC acc=%s latency=%s ok=%d' % (acc, 50 if t == 3 else t * 10, t != 5))", "{trial}"]
            trials: 6
            metrics: {prefix: METRIC}
            objectives:
              - {metric: acc, direction: maximize}
              - {metric: latency, direction: minimize}
            constraints: ["ok >= 1"]
            """)
        let result = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let best = try await InternBinary.run(["best", "--dir", dir.file(".intern/pareto")], in: dir.path)
        #expect(best.status == 0, "\(best.stdout)\(best.stderr)")
        #expect(best.stdout.hasPrefix("pareto front: 4 of 5 feasible trials (acc maximize, latency minimize)\n"), "\(best.stdout)")
        let shown = best.stdout.split(separator: "\n").dropFirst(2).compactMap { Int($0.split(separator: " ").first ?? "") }
        #expect(shown == [1, 2, 4, 6], "\(best.stdout)")
    }
}
