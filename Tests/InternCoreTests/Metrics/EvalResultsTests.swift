import InternCore
import Testing

/// lm-evaluation-harness output and results files, as the harness prints and writes them.
@Suite struct EvalResultsTests {
    func parse(_ text: String) -> [String: Double] {
        var parser = LMEvalTableParser()
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            for point in parser.parse(String(line)) { out[point.name] = point.value }
        }
        return out
    }

    @Test func theTasksTableWithSeveralFiltersPerTaskAndMissingStderr() {
        let text = """
            hf (pretrained=Qwen/Qwen2.5-0.5B), gen_kwargs: (None), limit: None, num_fewshot: 5, batch_size: 8
            |  Tasks  |Version|     Filter     |n-shot|  Metric   |   |Value |   |Stderr|
            |---------|------:|----------------|-----:|-----------|---|-----:|---|-----:|
            |gsm8k    |      3|flexible-extract|     5|exact_match|↑  |0.3412|±  |0.0131|
            |         |       |strict-match    |     5|exact_match|↑  |0.2987|±  |0.0126|
            |hellaswag|      1|none            |     0|acc        |↑  |0.5012|±  |0.0050|
            |         |       |none            |     0|acc_norm   |↑  |0.6701|±  |0.0047|
            |truthfulqa_gen|3|none            |     0|bleu_max   |↑  |21.4  |±  |   N/A|

            done
            """
        #expect(parse(text) == [
            "gsm8k/flexible-extract/exact_match": 0.3412, "gsm8k/flexible-extract/exact_match_stderr": 0.0131,
            "gsm8k/strict-match/exact_match": 0.2987, "gsm8k/strict-match/exact_match_stderr": 0.0126,
            "hellaswag/none/acc": 0.5012, "hellaswag/none/acc_stderr": 0.0050,
            "hellaswag/none/acc_norm": 0.6701, "hellaswag/none/acc_norm_stderr": 0.0047,
            "truthfulqa_gen/none/bleu_max": 21.4,
        ])
    }

    @Test func groupRowsAndTheirMembers() {
        let text = """
            |      Groups      |Version|Filter|n-shot|Metric|   |Value |   |Stderr|
            |------------------|------:|------|------|------|---|-----:|---|-----:|
            |mmlu              |      2|none  |      |acc   |↑  |0.6137|±  |0.0039|
            | - humanities     |      2|none  |      |acc   |↑  |0.5543|±  |0.0068|
            | - stem           |      2|none  |      |acc   |↑  |   N/A|±  |   N/A|
            """
        #expect(parse(text) == ["mmlu/none/acc": 0.6137, "mmlu/none/acc_stderr": 0.0039, "humanities/none/acc": 0.5543, "humanities/none/acc_stderr": 0.0068])
    }

    @Test func tablesThatAreNotResultsGiveNothing() {
        #expect(parse("| a | b |\n|---|---|\n| 1 | 2 |\n").isEmpty)
        #expect(parse("|Tasks|Version|Filter|n-shot|Metric| |Value| |Stderr|\nplain text\n|gsm8k|3|none|5|acc|↑|0.5|±|0.1|").isEmpty)
    }

    @Test func lmEvalResultsJSONByTaskFilterAndMetric() throws {
        let json = #"""
            {"results": {"gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.2987, "exact_match_stderr,strict-match": 0.0126,
                                   "exact_match,flexible-extract": 0.3412, "exact_match_stderr,flexible-extract": 0.0131},
                         "mmlu": {"acc,none": 0.6137, "acc_stderr,none": 0.0039, "alias": "mmlu"}},
             "configs": {"gsm8k": {"num_fewshot": 5}}, "n-samples": {"gsm8k": {"original": 1319}}}
            """#
        let points = try #require(EvalResultsFile.points(json: Array(json.utf8)))
        #expect(Dictionary(uniqueKeysWithValues: points.map { ($0.name, $0.value) }) == [
            "gsm8k/strict-match/exact_match": 0.2987, "gsm8k/strict-match/exact_match_stderr": 0.0126,
            "gsm8k/flexible-extract/exact_match": 0.3412, "gsm8k/flexible-extract/exact_match_stderr": 0.0131,
            "mmlu/none/acc": 0.6137, "mmlu/none/acc_stderr": 0.0039,
        ])
    }

    @Test func anyOtherJSONIsFlattened() throws {
        let json = #"{"eval": {"acc": 0.91, "per_class": [0.9, 0.8], "passed": true, "name": "x", "nothing": null}, "toxicity": 0.05}"#
        let points = try #require(EvalResultsFile.points(json: Array(json.utf8)))
        #expect(points.map(\.name) == ["eval/acc", "eval/per_class/0", "eval/per_class/1", "eval/passed", "toxicity"])
        #expect(points.map(\.value) == [0.91, 0.9, 0.8, 1, 0.05])
        #expect(EvalResultsFile.points(json: Array("{not json".utf8)) == nil)
        #expect(EvalResultsFile.points(json: Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)) == nil)
    }
}
