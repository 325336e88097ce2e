import InternCore
import Testing

@Suite struct MetricLineParserTests {
    let parser = MetricLineParser(keyValuePrefix: "METRIC")

    private func points(_ line: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for p in parser.parse(line) { result[p.name] = p.value }
        return result
    }

    // MARK: Hugging Face Trainer and TRL

    @Test func trainerTrainingLogLine() {
        let got = parser.parse("{'loss': 0.6931, 'learning_rate': 2e-05, 'epoch': 0.12}")
        #expect(got == [
            MetricPoint(name: "loss", value: 0.6931),
            MetricPoint(name: "learning_rate", value: 2e-05),
            MetricPoint(name: "epoch", value: 0.12),
        ])
    }

    @Test func trainerLineWithGradNorm() {
        let got = parser.parse("{'loss': 1.2345, 'grad_norm': 3.456, 'learning_rate': 4.9e-05, 'epoch': 0.01}")
        #expect(got.map(\.name) == ["loss", "grad_norm", "learning_rate", "epoch"])
        #expect(got.map(\.value) == [1.2345, 3.456, 4.9e-05, 0.01])
        #expect(got.allSatisfy { $0.step == nil })
    }

    @Test func trainerEvalLine() {
        let got = points("{'eval_loss': 0.41, 'eval_accuracy': 0.87, 'eval_runtime': 1.2, 'eval_samples_per_second': 100.3, 'epoch': 1.0}")
        #expect(got == ["eval_loss": 0.41, "eval_accuracy": 0.87, "eval_runtime": 1.2, "eval_samples_per_second": 100.3, "epoch": 1.0])
    }

    @Test func trainerEvalLineWithStepsPerSecond() {
        let got = points("{'eval_loss': 0.3517, 'eval_runtime': 12.0455, 'eval_samples_per_second': 83.019, 'eval_steps_per_second': 10.377, 'epoch': 2.0}")
        #expect(got.count == 5)
        #expect(got["eval_steps_per_second"] == 10.377)
    }

    @Test func trainerSummaryLine() {
        let got = points("{'train_runtime': 12.3, 'train_samples_per_second': 5.1, 'train_loss': 0.5, 'epoch': 3.0}")
        #expect(got == ["train_runtime": 12.3, "train_samples_per_second": 5.1, "train_loss": 0.5, "epoch": 3.0])
        let full = points("{'train_runtime': 125.0721, 'train_samples_per_second': 47.972, 'train_steps_per_second': 6.0, 'total_flos': 1589352153600000.0, 'train_loss': 0.4132, 'epoch': 3.0}")
        #expect(full["total_flos"] == 1589352153600000.0)
        #expect(full.count == 6)
    }

    @Test func trlDPOLineKeepsSlashedNames() {
        let line = "{'loss': 0.6931, 'grad_norm': 12.25, 'learning_rate': 5e-07, 'rewards/chosen': -0.12, 'rewards/rejected': -0.3, 'rewards/accuracies': 0.625, 'rewards/margins': 0.18, 'logps/chosen': -110.2, 'logps/rejected': -120.5, 'logits/chosen': -2.7, 'logits/rejected': -2.68, 'epoch': 0.05}"
        let got = points(line)
        #expect(got.count == 12)
        #expect(got["rewards/chosen"] == -0.12)
        #expect(got["logps/rejected"] == -120.5)
        #expect(got["logits/rejected"] == -2.68)
        #expect(got["epoch"] == 0.05)
    }

    @Test func trlSFTLine() {
        let got = points("{'loss': 1.8437, 'grad_norm': 1.046875, 'learning_rate': 1.8e-05, 'num_tokens': 524288.0, 'mean_token_accuracy': 0.5879, 'epoch': 0.09}")
        #expect(got["num_tokens"] == 524288)
        #expect(got["mean_token_accuracy"] == 0.5879)
    }

    @Test func numpyAndTensorWrappedNumbers() {
        let got = points("{'loss': np.float64(0.5), 'grad_norm': tensor(2.25, device='cuda:0'), 'lr': np.float32(nan), 'x': Decimal('1.5'), 'epoch': 1.0}")
        #expect(got["loss"] == 0.5)
        #expect(got["grad_norm"] == 2.25)
        #expect(got["lr"]?.isNaN == true)
        #expect(got["x"] == nil)
        #expect(got["epoch"] == 1.0)
    }

    @Test func pythonSpecialValuesAndNonNumbers() {
        let got = parser.parse("{'loss': nan, 'a': inf, 'b': -inf, 't': True, 'f': False, 'n': None, 's': 'text', 'd': \"it's\", 'tuple': (1, 2), 'list': [1, {'x': 2}], 'nested': {'loss': 9}, 'bytes': b'xy', 'ok': 2}")
        #expect(got.map(\.name) == ["loss", "a", "b", "ok"])
        #expect(got[0].value.isNaN)
        #expect(got[1].value == .infinity)
        #expect(got[2].value == -.infinity)
        #expect(got[3].value == 2)
    }

    @Test func pythonIntegerKeysAreIgnored() {
        #expect(points("{1: 0.5, 'loss': 0.25}") == ["loss": 0.25])
    }

    // MARK: JSON

    @Test func jsonWithStep() {
        #expect(parser.parse(#"{"loss": 0.42, "step": 100}"#) == [MetricPoint(name: "loss", value: 0.42, step: 100)])
    }

    @Test func jsonStepAnywhereOnTheLineAppliesToAllPoints() {
        let got = parser.parse(#"{"step": 7, "loss": 1.5, "acc": 0.5}"#)
        #expect(got == [MetricPoint(name: "loss", value: 1.5, step: 7), MetricPoint(name: "acc", value: 0.5, step: 7)])
    }

    @Test func jsonGlobalStepAndPrecedence() {
        #expect(parser.parse(#"{"global_step": 12, "loss": 1}"#) == [MetricPoint(name: "loss", value: 1, step: 12)])
        #expect(parser.parse(#"{"global_step": 12, "step": 3, "loss": 1}"#) == [MetricPoint(name: "loss", value: 1, step: 3)])
        #expect(parser.parse(#"{"step": 2.0, "loss": 1}"#) == [MetricPoint(name: "loss", value: 1, step: 2)])
        #expect(parser.parse(#"{"step": 2.5, "loss": 1}"#) == [MetricPoint(name: "loss", value: 1, step: nil)])
        #expect(parser.parse(#"{"step": "x", "loss": 1}"#) == [MetricPoint(name: "loss", value: 1, step: nil)])
        #expect(parser.parse(#"{"step": 5}"#) == [])
        #expect(parser.parse(#"{"step": -3, "loss": 1}"#) == [MetricPoint(name: "loss", value: 1, step: -3)])
        #expect(parser.parse(#"{"step": 123456789012, "loss": 1}"#).first?.step == 123_456_789_012)
    }

    @Test func jsonNumbersAndSpecials() {
        let got = parser.parse(#"{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e-5, "e": -2.5E+3, "f": 0, "g": -0.0, "h": 12345678901234567890123, "i": 1e400, "j": 5e-324}"#)
        #expect(got.map(\.name) == ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
        #expect(got[0].value.isNaN)
        #expect(got[1].value == .infinity)
        #expect(got[2].value == -.infinity)
        #expect(got[3].value == 1e-5)
        #expect(got[4].value == -2500)
        #expect(got[5].value == 0)
        #expect(got[6].value == 0 && got[6].value.sign == .minus)
        #expect(got[7].value == 12345678901234567890123.0)
        #expect(got[8].value == .infinity)
        #expect(got[9].value == .leastNonzeroMagnitude)
    }

    @Test func jsonSkipsNonNumbers() {
        let got = points(#"{"name": "run-1", "ok": true, "bad": false, "x": null, "cfg": {"lr": 0.1}, "hist": [1, 2, 3], "loss": 0.25}"#)
        #expect(got == ["loss": 0.25])
    }

    @Test func jsonEscapedKeys() {
        let got = parser.parse(#"{"r\u00e9sum\u00e9": 1, "a\"b": 2, "emoji\ud83d\ude00": 3, "sl\/ash": 4, "tab\tx": 5, "bad\ud83d": 6}"#)
        #expect(got.map(\.name) == ["résumé", "a\"b", "emoji😀", "sl/ash"])
    }

    @Test func unicodeKeysKept() {
        #expect(points("{'точность': 0.5}") == ["точность": 0.5])
    }

    @Test func numbersMatchTheStandardLibrary() {
        var rng = MetricsSplitMix64(seed: 42)
        for _ in 0..<20_000 {
            let text: String
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                text = "\(Double(bitPattern: rng.next()))"
            case 1:
                text = "\(Double.random(in: -1000...1000, using: &rng))"
            case 2:
                let digits = (0..<Int.random(in: 1...25, using: &rng)).map { _ in String(Int.random(in: 0...9, using: &rng)) }.joined()
                text = digits + "e" + String(Int.random(in: -330...330, using: &rng))
            default:
                let a = Int.random(in: 0...999_999, using: &rng)
                let b = Int.random(in: 0...99_999_999, using: &rng)
                text = "-\(a).\(b)e-\(Int.random(in: 0...30, using: &rng))"
            }
            guard let expected = Double(text), !expected.isNaN else { continue }
            let got = parser.parse("{\"x\": \(text)}")
            #expect(got == [MetricPoint(name: "x", value: expected)], "\(text)")
        }
    }

    // MARK: key=value

    @Test func keyValueLines() {
        #expect(parser.parse("METRIC loss=0.3 acc=0.9 step=5") == [
            MetricPoint(name: "loss", value: 0.3, step: 5), MetricPoint(name: "acc", value: 0.9, step: 5),
        ])
        #expect(parser.parse("METRIC: loss=0.3, acc=0.9") == [
            MetricPoint(name: "loss", value: 0.3), MetricPoint(name: "acc", value: 0.9),
        ])
        #expect(points("  METRIC loss=nan acc=-inf lr=1e-3\r") .count == 3)
        #expect(points("METRIC phase=train loss=0.5 note=x=1 bare words val_loss=0.25") == ["loss": 0.5, "val_loss": 0.25])
        #expect(points("METRIC loss=0.5abc loss2=1.2.3 ok=1") == ["ok": 1])
        #expect(parser.parse("METRIC") == [])
        #expect(parser.parse("METRICS loss=1") == [])
        #expect(parser.parse("loss=1") == [])
        #expect(parser.parse("xMETRIC loss=1") == [])
        #expect(parser.parse(#"METRIC {"loss": 0.5, "step": 3}"#) == [MetricPoint(name: "loss", value: 0.5, step: 3)])
    }

    @Test func keyValueNeedsAPrefix() {
        #expect(MetricLineParser(keyValuePrefix: nil).parse("METRIC loss=1") == [])
        #expect(MetricLineParser(keyValuePrefix: "").parse("loss=1") == [])
        #expect(MetricLineParser(keyValuePrefix: nil).parse("{'loss': 1}") == [MetricPoint(name: "loss", value: 1)])
        #expect(MetricLineParser(keyValuePrefix: "@@m").parse("@@m a=1") == [MetricPoint(name: "a", value: 1)])
    }

    // MARK: Whitespace, malformed lines, names

    @Test func whitespaceAroundTheLine() {
        #expect(points("   \t{'loss': 0.5}  \r") == ["loss": 0.5])
        #expect(points("{ 'loss' : 0.5 , 'acc':1 }\r\n") == ["loss": 0.5, "acc": 1])
        #expect(points("{'loss': 0.5,}") == ["loss": 0.5])
        #expect(parser.parse("{}") == [])
    }

    @Test(arguments: [
        "", "   ", "\r", "Epoch 1/3", "loss: 0.5", "  3%|▎         | 10/300 [00:01<00:30,  9.50it/s]",
        "{'loss': 0.5", "{'loss': 0.5} trailing", "{'loss': 0.5}{'acc': 1}", "{'loss': 0.5,, 'acc': 1}",
        "{'loss' 0.5}", "{'loss': 1.2.3}", "{'loss': -foo}", "{'loss': 0.5 'acc': 1}", "{'loss': }",
        "{'loss': 1e}", "{'loss': 0x10}", "{'loss': .}", "{'loss': 'unterminated}", "{loss: 0.5}",
        "{'loss': <object at 0x7f>}", "{'a': [1, 2}", "{", "{{{{", "}",
    ])
    func linesWithoutPoints(line: String) {
        #expect(parser.parse(line) == [])
    }

    @Test func nameLengthCap() {
        let ok = String(repeating: "n", count: 200)
        let long = String(repeating: "n", count: 201)
        #expect(points("{'\(ok)': 1, 'x': 2}") == [ok: 1, "x": 2])
        #expect(points("{'\(long)': 1, 'x': 2}") == ["x": 2])
        #expect(points("METRIC \(long)=1 x=2") == ["x": 2])
        #expect(MetricLineParser(keyValuePrefix: nil, maxNameLength: 3).parse("{'abcd': 1, 'abc': 2}").map(\.name) == ["abc"])
    }

    @Test func invalidUTF8AndControlCharactersInNames() {
        var bytes = Array("{'a".utf8) + [0xFF, 0xFE] + Array("': 1, 'b': 2, 'c".utf8) + [0x00] + Array("d': 3, '".utf8)
            + [0xC3, 0xA9] + Array("': 4}".utf8)
        #expect(metricsParse(parser, bytes).map(\.name) == ["b", "é"])
        bytes = Array("METRIC a".utf8) + [0xC3] + Array("=1 b=2".utf8)
        #expect(metricsParse(parser, bytes).map(\.name) == ["b"])
    }

    @Test func emptyAndNilBuffers() {
        #expect(parser.parse(UnsafeRawBufferPointer(start: nil, count: 0)) == [])
    }

    /// Correctness only (not timed): 100,000 lines that are not metrics give nothing.
    @Test func manyNonMetricLinesGiveNoPoints() {
        let samples: [[UInt8]] = [
            "  3%|▎         | 10/300 [00:01<00:30,  9.50it/s]", "Epoch 1/10", "", "    ",
            "Traceback (most recent call last):", "METRICAL thinking", "[INFO] step 5 loss=0.3",
            "  File \"train.py\", line 3, in <module>", "x{'loss': 1}",
        ].map { Array($0.utf8) }
        var found = 0
        for k in 0..<100_000 {
            found += metricsParse(parser, samples[k % samples.count]).count
        }
        #expect(found == 0)
    }
}

@Suite struct MetricLineParserEscapeCapTests {
    @Test func escapedNamesAreCappedAfterDecoding() {
        let parser = MetricLineParser(keyValuePrefix: nil, maxNameLength: 4)
        #expect(parser.parse(#"{"\u0061\u0062\u0063\u0064": 1}"#).map(\.name) == ["abcd"])
        #expect(parser.parse(#"{"\u0061\u0062\u0063\u0064\u0065": 1}"#) == [])
        #expect(parser.parse(#"{"\x41\U0001F600": 1}"#).map(\.name) == [])  // 5 bytes decoded
        #expect(MetricLineParser(keyValuePrefix: nil).parse(#"{'\x41\U0001F600': 1}"#).map(\.name) == ["A😀"])
    }
}
