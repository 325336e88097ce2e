import InternCore
import Testing

@Suite struct LogCondenserTests {
    let condenser = LogCondenser(metricPrefix: "METRIC")

    func condense(_ text: String) -> [String] { condenser.condense(Array(text.utf8)) }

    @Test func progressBarsKeepTheirLastStateAndRepeatsFold() {
        let bar = (1...50).map { "\r\($0 * 2)%|█| \($0)/50" }.joined() + "\n"
        let lines = condense("loading\n" + bar + String(repeating: "warning: slow disk\n", count: 300) + "done\n")
        #expect(lines == ["loading", "100%|█| 50/50", "warning: slow disk  [×300]", "done"])
    }

    @Test func linesThatDifferOnlyInNumbersFoldToFirstAndLast() {
        let text = (1...40).map { "saved checkpoint-\($0 * 100) in 0.\($0)s\n" }.joined()
        #expect(condense(text) == ["saved checkpoint-100 in 0.1s", "  … 38 more like it …", "saved checkpoint-4000 in 0.40s  [40 similar lines]"])
    }

    @Test func errorLinesAndStructuredLogLinesAreNeverFoldedAway() {
        let exits = (1...5).map { "worker \($0) exited with code 0\n" }.joined() + "worker 7 exited with code 137\n"
        #expect(condense(exits).count == 6)
        let structured = #"{"level": "error", "msg": "NCCL timeout", "rank": 2}"# + "\n"
        #expect(condense(structured) == [#"{"level": "error", "msg": "NCCL timeout", "rank": 2}"#])
        #expect(condense("epoch 1 done\nepoch 2 done\n") == ["epoch 1 done", "epoch 2 done"])
    }

    @Test func metricRunsBecomeOneLine() {
        let text = (1...100).map { "{'loss': \(2.0 / Double($0)), 'epoch': \(Double($0) / 10)}\n" }.joined() + "METRIC acc=0.9\nend\n"
        let lines = condense(text)
        #expect(lines.count == 2)
        #expect(lines[0] == "[101 metric lines] loss 2→0.02 (min 0.02), epoch 0.1→10 (min 0.1), acc 0.9", "\(lines[0])")
        #expect(lines[1] == "end")
    }

    @Test func aTracebackKeepsItsLastFramesAndTheException() {
        let text = """
            step 1
            Traceback (most recent call last):
              File "train.py", line 10, in <module>
                main()
              File "train.py", line 7, in main
                step()
              File "/usr/lib/python3/torch/nn.py", line 99, in step
                raise RuntimeError("CUDA error: device-side assert triggered")
            RuntimeError: CUDA error: device-side assert triggered

            """
        #expect(condense(text) == [
            "step 1",
            "Traceback (3 frames, last 2):",
            "  File \"train.py\", line 7, in main",
            "    step()",
            "  File \"/usr/lib/python3/torch/nn.py\", line 99, in step",
            "    raise RuntimeError(\"CUDA error: device-side assert triggered\")",
            "RuntimeError: CUDA error: device-side assert triggered",
        ])
    }

    @Test func binaryGarbageAndEscapesDoNotTrap() {
        var bytes: [UInt8] = Array("\u{1B}[31mred\u{1B}[0m\n".utf8)
        bytes += (0..<2_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let lines = condenser.condense(bytes)
        #expect(lines.first == "red")
        #expect(lines.allSatisfy { $0.count <= 400 })
    }
}
