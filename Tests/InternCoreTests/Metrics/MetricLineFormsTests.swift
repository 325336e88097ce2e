import InternCore
import Testing

/// The forms added for what current tools print (docs/campaign.md, "Metrics from the job's
/// output"): quoted numbers, escape sequences, a dict after progress-bar text, a tqdm postfix,
/// Keras' ` - name: value` pairs. The lines are shaped as the real captures show them
/// (Tests/EndToEndTests/Fixtures/ml-stack); CapturedOutputTests replays the captures themselves.
@Suite struct MetricLineFormsTests {
    let parser = MetricLineParser(keyValuePrefix: "METRIC")

    /// Both paths (the reference and the worker's byte path) must agree; returns the points.
    private func parse(_ line: String) -> [MetricPoint] {
        let reference = parser.parse(line)
        var buffer = MetricLineParser.Buffer()
        var fast: [MetricPoint] = []
        Array(line.utf8).withUnsafeBytes { bytes in
            parser.parse(bytes, using: &buffer) { name, value, step in
                fast.append(MetricPoint(name: String(decoding: name, as: UTF8.self), value: value, step: step))
            }
        }
        #expect(metricsSame(reference, fast), "the byte path differs on \(line.debugDescription)")
        return reference
    }

    private func names(_ line: String) -> [String] { parse(line).map(\.name) }

    // MARK: Quoted numbers (transformers 5, TRL 1.x)

    @Test func transformers5QuotedValuesAreNumbers() {
        #expect(parse("{'loss': '3.653', 'grad_norm': '1.301', 'learning_rate': '0.004', 'epoch': '0.1'}") == [
            MetricPoint(name: "loss", value: 3.653), MetricPoint(name: "grad_norm", value: 1.301),
            MetricPoint(name: "learning_rate", value: 0.004), MetricPoint(name: "epoch", value: 0.1),
        ])
        let diverged = parse("{'loss': 'nan', 'grad_norm': 'inf', 'x': '-inf', 'learning_rate': '9.111e+04', 'epoch': '0.2'}")
        #expect(diverged.map(\.name) == ["loss", "grad_norm", "x", "learning_rate", "epoch"])
        #expect(diverged[0].value.isNaN)
        #expect(diverged[1].value == .infinity)
        #expect(diverged[2].value == -.infinity)
        #expect(diverged[3].value == 9.111e+04)
        #expect(parse("{'logps/rejected': '-122', 'num_tokens': '500', 'lr': '5e-05'}").map(\.value) == [-122, 500, 5e-05])
    }

    @Test func quotedNumbersInJSONToo() {
        #expect(parse(#"{"loss": "0.25", "note": "fine", "step": "7"}"#) == [MetricPoint(name: "loss", value: 0.25, step: 7)])
    }

    @Test func stringsThatAreNotWholeNumbersAreSkipped() {
        for value in ["'abc'", "' 1.5'", "'1.5 '", "'1,5'", "'1_000'", "'0x10'", "''", "'1.5e'", "'nan!'", "'\\x31'", "'e5'", "b'1.5'"] {
            #expect(names("{'v': \(value), 'ok': 1}") == ["ok"], "\(value)")
        }
    }

    // MARK: Escape sequences

    @Test func escapesAreRemovedFirst() {
        #expect(names("\u{1B}[A{'eval_loss': '2.661', 'eval_runtime': '0.0335'}") == ["eval_loss", "eval_runtime"])
        #expect(names("\u{1B}[1m{\"loss\": 1}\u{1B}[0m") == ["loss"])
        #expect(names("{\"lo\u{1B}[31mss\": 1}") == ["loss"])
        #expect(names("MET\u{1B}[0mRIC loss=1") == ["loss"])
        #expect(names("\u{1B}]8;;http://x\u{07}{\"a\": 1}") == ["a"])
        // Without escapes, the same bytes give nothing.
        #expect(names("[A{'eval_loss': 1}") == [])
    }

    @Test func anEscapeAfterABackslashInAString_isRemovedFirstToo() {
        // Removed first, the escape leaves the backslash escaping the closing quote: malformed.
        #expect(names("{'x\\\u{1B}(B': 1, 'loss': 2}") == [])
        #expect(names("{'a': '1\\\u{1B}[m', 'b': 2}") == [])
        #expect(names("{\"k\": \"v\\\u{1B}]0;t\u{07}\", \"loss\": 3}") == [])
    }

    @Test func terminalEscapeGrammar() {
        func strip(_ s: String) -> String {
            var out: [UInt8] = []
            Array(s.utf8).withUnsafeBytes { TerminalEscapes.strip($0, into: &out) }
            return String(decoding: out, as: UTF8.self)
        }
        #expect(strip("a\u{1B}[1;32mb\u{1B}[0mc") == "abc")
        #expect(strip("a\u{1B}[12") == "a")                 // unterminated CSI: to the end
        #expect(strip("a\u{1B}[1\u{07}b") == "a\u{07}b")    // a CSI cut short by another byte
        #expect(strip("a\u{1B}]0;title\u{07}b") == "ab")    // OSC to BEL
        #expect(strip("a\u{1B}]8;;x\u{1B}\\b") == "ab")     // OSC to ESC backslash
        #expect(strip("a\u{1B}]x") == "ax")                 // OSC without terminator: only ESC ]
        #expect(strip("a\u{1B}(Bb\u{1B}7c\u{1B}") == "abc")
        #expect(strip("\u{1B}\u{1B}[Ax") == "x")
    }

    // MARK: A dict after progress-bar text (2>&1, SLURM output files)

    @Test func dictAfterATqdmFragment() {
        let line = " 20%|\u{2588}\u{2588}        | 10/50 [00:00<00:00, 47.32it/s]{'loss': 3.653, 'grad_norm': 1.3012689352035522, 'learning_rate': 0.004, 'epoch': 0.1}"
        #expect(names(line) == ["loss", "grad_norm", "learning_rate", "epoch"])
        #expect(names("  3%|\u{258E}| 4/120 [00:01<00:35, 3.30it/s]{\"loss\": 4.6}") == ["loss"])
        #expect(names("100%|##| 50/50 [1:02:03<00:00, 31.62it/s]  {'eval_loss': '1.849'}") == ["eval_loss"])
    }

    @Test func dictAfterOtherTextIsNotAMetricLine() {
        #expect(names("INFO config {'hidden_size': 64, 'n_layer': 2}") == [])
        #expect(names("model [gpt2] {'a': 1}") == [])
        #expect(names("step [10] {'a': 1}") == [])
        #expect(names(" 20%|##| 10/50 [00:00<00:00, 47.32it/s]{'loss': 1} trailing") == [])
    }

    // MARK: tqdm postfix (Lightning)

    @Test func lightningProgressBarPostfix() {
        let line = "Epoch 3: 100%|\u{2588}\u{2588}| 20/20 [00:00<00:00, 589.33it/s, v_num=0, train_loss=0.207, val_loss=0.177, val_acc=0.906]"
        #expect(parse(line) == [
            MetricPoint(name: "v_num", value: 0), MetricPoint(name: "train_loss", value: 0.207),
            MetricPoint(name: "val_loss", value: 0.177), MetricPoint(name: "val_acc", value: 0.906),
        ])
        #expect(names("Epoch 2:   0%|          | 0/20 [00:00<?, ?it/s, v_num=0, train_loss=1.230]") == ["v_num", "train_loss"])
        #expect(names("Epoch 0: 5%| | 1/20 [00:00<00:00, 4.1it/s, loss=nan, lr=1e-3, step=4]") == ["loss", "lr"])
        #expect(parse("x [00:01, 2it/s, step=4, loss=0.5]").first?.step == 4)
    }

    @Test func escapesAroundABarsGroup() {
        #expect(names("\u{1B}[32mEpoch 0:\u{1B}[0m [00:01, a=1]") == ["a"])
        #expect(names("x [00:01, \u{1B}[1ma=1\u{1B}[0m]") == ["a"])
        #expect(names("x [00:01, a=\u{1B}[1m1]") == ["a"])
        #expect(names("x [00:01, a=1]\u{1B}[A") == ["a"])
        // `ESC [ 1 [` is one sequence whose final byte is the `[`: no group is left.
        #expect(names("x \u{1B}[1[00:01, a=1]") == [])
        // An OSC without its terminator loses only `ESC ]`.
        #expect(names("x \u{1B}]0;t[00:01, a=1]") == ["a"])
        #expect(names("x \u{1B}]0;t[00:01, a=1\u{07}b=2]") == [])
    }

    @Test func bracketsThatAreNotABarGiveNothing() {
        #expect(names("100%|##| 50/50 [00:05<00:00, 11.2it/s]") == [])
        #expect(names("values [a=1, b=2]") == [])
        #expect(names("at [12:3, x=1]") == [])
        #expect(names("[00:01, name=abc, =5, k=1.5.5]") == [])
    }

    // MARK: Keras ` - name: value`

    @Test func kerasProgressLines() {
        let line = "\u{1B}[1m32/32\u{1B}[0m \u{1B}[32m\u{2501}\u{2501}\u{2501}\u{1B}[0m\u{1B}[37m\u{1B}[0m \u{1B}[1m0s\u{1B}[0m 3ms/step - accuracy: 0.9434 - loss: 0.1582 - val_accuracy: 0.9141 - val_loss: 0.1938"
        #expect(parse(line) == [
            MetricPoint(name: "accuracy", value: 0.9434), MetricPoint(name: "loss", value: 0.1582),
            MetricPoint(name: "val_accuracy", value: 0.9141), MetricPoint(name: "val_loss", value: 0.1938),
        ])
        // A redraw ends with backspaces (and sometimes spaces before them).
        #expect(names(" 1/32 \u{2501}\u{2501} 3s 104ms/step - accuracy: 0.2500 - loss: 1.1750  \u{8}\u{8}\u{8}\u{8}") == ["accuracy", "loss"])
        // Keras 2.
        #expect(names("32/32 [==============================] - 0s 2ms/step - loss: 2.3026 - accuracy: 0.1234") == ["loss", "accuracy"])
        #expect(parse("x - loss: nan").first?.value.isNaN == true)
        #expect(names("x - loss: 2.3026e+00 - lr: 1.0000e-03") == ["loss", "lr"])
    }

    @Test func onlyPairsThatRunToTheEndCount() {
        #expect(names("x - loss: 1.5 - note: fine") == [])
        #expect(names("x - note: fine - loss: 1.5") == ["loss"])
        #expect(names("- loss: 1.5") == [])
        #expect(names("Epoch 3/10 took 12.5") == [])
        #expect(names("x -  loss: 1.5") == [])
        #expect(names("x - loss:1.5") == [])
        #expect(names("x - a b: 1.5") == [])
        #expect(names("ETA: 0:01:02 - loss: 0.5") == ["loss"])
    }

    @Test func pairsNeverReachIntoTheLeadingBlanksOrEscapes() {
        #expect(names("  - loss: 0.1234") == [])               // an indented bullet
        #expect(names("\u{1B}[1m - loss: 0.5") == [])
        #expect(names("\u{8} - acc: 0.5 - loss: 2") == ["loss"])
        #expect(names("\u{1B} - a: 1") == [])                  // ESC, space: one sequence
        #expect(names("x - loss: 0.5") == ["loss"])
    }

    @Test func backspacesAreBlankAtTheEnds() {
        #expect(names("\u{8}{'loss': 1}\u{8}\u{8}") == ["loss"])
    }
}
