import Foundation
import InternCore
import InternSpec
import Testing

/// `stages:` and `objectives:` in a spec file.
@Suite struct PipelineSpecTests {
    static let pipeline = """
        name: digits-pipeline
        workdir: .
        timeout: 10m
        gpus: 1
        stages:
          - name: train
            command: [python3, train.py, --lr, "{lr}", --out, "ckpt/{trial}"]
            space:
              lr: {type: loguniform, low: 0.001, high: 0.5}
            sampler: {type: tpe, seed: 3, startup: 4}
            trials: 12
            objective: {metric: eval_loss, direction: minimize}
            pruning: {rule: asha, metric: eval_loss, min_step: 1}
            outputs: [checkpoint]
          - name: eval
            from: train
            command: [python3, eval.py, --checkpoint, "{train.checkpoint}"]
            objective: {metric: test_accuracy, direction: maximize}
            constraints: ["worst_class_accuracy >= 0.85"]
            gpus: 0
          - name: select
            from: {stage: eval, top: 1}
            command: [python3, select.py, "{train.checkpoint}", "{train.lr}"]
        """

    @Test func aPipelineParsesIntoStagesThatInheritTheTopLevel() throws {
        let spec = try CampaignSpecParserTests.parse(Self.pipeline)
        #expect(spec.isPipeline)
        let stages = spec.stages
        #expect(stages.map(\.name) == ["train", "eval", "select"])
        #expect(stages[0].trials == 12 && stages[0].outputs == ["checkpoint"] && stages[0].pruning?.metric == "eval_loss")
        #expect(stages[1].input == StageInput(stage: "train"))
        #expect(stages[1].constraints.map(\.metric) == ["worst_class_accuracy"])
        #expect(stages[2].input == StageInput(stage: "eval", top: 1))
        #expect(stages[2].trials == 1)
        // timeout and gpus come from the top level unless a stage says otherwise.
        #expect(stages.map(\.timeoutSeconds) == [600, 600, 600])
        #expect(stages.map(\.gpus) == [1, 0, 1])
        #expect(spec.selectionStage == 1)
        #expect(spec.inputNames(ofStage: 2).sorted() == ["train.checkpoint", "train.lr"])
    }

    @Test func mistakesAreReportedAtTheirStageKey() {
        let cases: [(yaml: String, path: String, fragment: String)] = [
            (Self.pipeline.replacingOccurrences(of: "from: train\n", with: "from: trian\n"), "stages[1].from", "not an earlier stage"),
            (Self.pipeline.replacingOccurrences(of: "{train.checkpoint}\"]\n    objective", with: "{train.ckpt}\"]\n    objective"),
             "stages[1].command[3]", "unknown placeholder {train.ckpt}"),
            (Self.pipeline.replacingOccurrences(of: "    from: {stage: eval, top: 1}\n", with: ""), "stages[2].from", "needs 'from:'"),
            (Self.pipeline.replacingOccurrences(of: "trials: 12", with: "trials: 0"), "stages[0].trials", "trials must be >= 1"),
            (Self.pipeline.replacingOccurrences(of: "workdir: .", with: "workdir: .\ncommand: [x]"), "command", "belongs in a stage"),
            (Self.pipeline.replacingOccurrences(of: "    outputs: [checkpoint]", with: "    outputs: [checkpoint]\n    form: x"), "stages[0].form", "unknown key 'form'"),
        ]
        for (yaml, path, fragment) in cases {
            let error = CampaignSpecParserTests.failure(yaml)
            #expect(error?.keyPath == path && error?.message.contains(fragment) == true, "\(path): \(String(describing: error))")
        }
    }

    @Test func severalObjectivesMakeAParetoCampaign() throws {
        let spec = try CampaignSpecParserTests.parse(CampaignSpecParserTests.minimal("""
            objectives:
              - {metric: accuracy, direction: maximize}
              - {metric: latency_ms, direction: minimize, summary: best}
            """))
        #expect(spec.objective?.metric == "accuracy")
        #expect(spec.extraObjectives == [Objective(metric: "latency_ms", direction: .minimize, summary: .best)])
        let tpe = CampaignSpecParserTests.failure(CampaignSpecParserTests.minimal("""
            sampler: tpe
            objectives: [{metric: a, direction: max}, {metric: b, direction: min}]
            """))
        #expect(tpe?.keyPath == "sampler" && tpe?.message.contains("one objective") == true)
        let both = CampaignSpecParserTests.failure(CampaignSpecParserTests.minimal("""
            objective: {metric: a, direction: max}
            objectives: [{metric: b, direction: min}]
            """))
        #expect(both?.keyPath == "objectives")
    }

    /// The examples `make demo` runs are valid specs (and the pipeline is the three stages it says).
    @Test(arguments: ["digits-pipeline", "digits-sweep"])
    func theExamplesParse(_ example: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("examples/\(example)").path
        let yaml = try String(contentsOfFile: directory + "/campaign.yaml", encoding: .utf8)
        let spec = try CampaignSpecParser.parse(yaml: yaml, file: "campaign.yaml", baseDirectory: directory)
        #expect(spec.name == example)
        if example == "digits-pipeline" {
            #expect(spec.stages.map(\.name) == ["train", "eval", "select"])
            #expect(spec.stages[2].input == StageInput(stage: "eval", top: 1))
        }
    }
}
