import Foundation
import InternCore
import InternSpec
import Testing

/// `validate:` and `baseline:` on a stage, and `from: {validated: true}`.
@Suite struct ValidationSpecTests {
    static let sweep = """
        name: noisy
        command: [python3, job.py, --x, "{x}", --seed, "{seed}"]
        space:
          x: [a, b, c]
          seed: {type: int, low: 0, high: 1000000}
        trials: 6
        objective: {metric: score, direction: maximize}
        validate: {top: 2, repeats: 4, seed: seed}
        baseline: {x: a, seed: 0}
        """

    @Test func validateAndBaselineParseOntoTheFirstStage() throws {
        let spec = try CampaignSpecParserTests.parse(Self.sweep)
        #expect(spec.validation == ValidationPolicy(top: 2, repeats: 4, seedParameter: "seed"))
        #expect(spec.stages[0].validation == spec.validation)
        #expect(spec.stages[0].baseline == ["x": .string("a"), "seed": .int(0)])
        // Defaults: top 3, repeats 3, INTERN_SEED.
        let plain = try CampaignSpecParserTests.parse(CampaignSpecParserTests.minimal("objective: {metric: m, direction: min}\nvalidate: {}"))
        #expect(plain.validation == ValidationPolicy(top: 3, repeats: 3, seedParameter: nil))
    }

    @Test func mistakesNameTheirFileLineAndKey() {
        let cases: [(yaml: String, path: String, line: Int, fragment: String)] = [
            (Self.sweep.replacingOccurrences(of: "repeats: 4", with: "repeat: 4"), "validate.repeat", 8, "did you mean 'repeats'"),
            (Self.sweep.replacingOccurrences(of: "seed: seed}", with: "seed: sed}"), "validate.seed", 8, "did you mean 'seed'"),
            (Self.sweep.replacingOccurrences(of: "repeats: 4", with: "repeats: 1"), "validate.repeats", 8, "a spread needs two values"),
            (Self.sweep.replacingOccurrences(of: "top: 2", with: "top: 1").replacingOccurrences(of: "baseline: {x: a, seed: 0}", with: ""),
             "validate.top", 8, "nothing to be compared with"),
            (Self.sweep.replacingOccurrences(of: "seed: seed}", with: "seed: x}"), "validate.seed", 8, "unconditional int parameter"),
            (Self.sweep.replacingOccurrences(of: "{x: a, seed: 0}", with: "{x: z, seed: 0}"), "baseline", 9, "not a configuration of the stage's space"),
            (Self.sweep.replacingOccurrences(of: "validate: {top: 2, repeats: 4, seed: seed}\n", with: ""), "baseline", 8, "add validate:"),
            (Self.sweep.replacingOccurrences(of: "objective: {metric: score, direction: maximize}\n", with: ""), "validate", 7, "give the stage one objective"),
        ]
        for (yaml, path, line, fragment) in cases {
            let error = CampaignSpecParserTests.failure(yaml)
            #expect(error?.keyPath == path && error?.line == line && error?.message.contains(fragment) == true, "\(path): \(String(describing: error))")
            #expect(error?.description.hasPrefix("campaign.yaml:\(line):") == true)
        }
    }

    @Test func aLaterStageCanTakeTheValidatedBestOnly() throws {
        let yaml = """
            name: p
            stages:
              - name: train
                command: [t, "{lr}"]
                space: {lr: [0.1, 0.2, 0.3]}
                sampler: grid
                objective: {metric: loss, direction: minimize}
                validate: {top: 2, repeats: 3}
              - name: export
                from: {stage: train, validated: true}
                command: [e, "{train.lr}"]
            """
        let spec = try CampaignSpecParserTests.parse(yaml)
        #expect(spec.stages[1].input == StageInput(stage: "train", validated: true))
        #expect(spec.stages[1].input?.waits == true)
        let unvalidated = CampaignSpecParserTests.failure(yaml.replacingOccurrences(of: "    validate: {top: 2, repeats: 3}\n", with: ""))
        #expect(unvalidated?.keyPath == "stages[1].from.validated" && unvalidated?.message.contains("does not validate its best") == true)
        let atTop = CampaignSpecParserTests.failure(yaml.replacingOccurrences(of: "name: p\n", with: "name: p\nvalidate: {top: 2}\n"))
        #expect(atTop?.keyPath == "validate" && atTop?.message.contains("belongs in a stage") == true)
    }
}
