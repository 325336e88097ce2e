import InternCore
import Testing

@Suite struct LineSplitterTests {
    private func lines(_ text: String, chunks: [Int] = []) -> [String] {
        metricsSplit(Array(text.utf8), chunks: chunks).lines.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func newlineAndCarriageReturnEndLines() {
        #expect(lines("a\nb\rc") == ["a", "b", "c"])
        #expect(lines("a\r\nb\r\n") == ["a", "b"])
        #expect(lines("a\n\nb\r\rc\n") == ["a", "", "b", "", "c"])
        #expect(lines("\r\n\n") == ["", ""])
        #expect(lines("") == [])
        #expect(lines("no newline") == ["no newline"])
    }

    @Test func crlfSplitAcrossChunksIsOneTerminator() {
        #expect(lines("a\r\nb\n", chunks: [2, 1, 1, 1]) == ["a", "b"])
        #expect(lines("a\r\n\nb", chunks: [2, 1]) == ["a", "", "b"])
        #expect(lines("a\r", chunks: [2]) == ["a"])
    }

    @Test func lineSpreadOverChunks() {
        #expect(lines("hello world\nbye", chunks: [3, 3, 3, 3]) == ["hello world", "bye"])
    }

    @Test func finishResetsTheSplitter() {
        var splitter = LineSplitter()
        var got: [String] = []
        Array("part".utf8).withUnsafeBytes { splitter.feed($0) { got.append(String(decoding: $0, as: UTF8.self)) } }
        splitter.finish { got.append(String(decoding: $0, as: UTF8.self)) }
        splitter.finish { got.append(String(decoding: $0, as: UTF8.self)) }
        Array("\nnext\n".utf8).withUnsafeBytes { splitter.feed($0) { got.append(String(decoding: $0, as: UTF8.self)) } }
        #expect(got == ["part", "", "next"])
    }

    @Test func tooLongLinesAreDroppedWhateverTheChunking() {
        let long = String(repeating: "{", count: 100)
        let text = "a\n\(long)\nb\n\(long)"
        for chunks in [[], [1], Array(repeating: 1, count: 300), [7, 13, 50, 2, 90], [3, 120]] {
            let result = metricsSplit(Array(text.utf8), chunks: chunks, maxLineLength: 64)
            #expect(result.lines.map { String(decoding: $0, as: UTF8.self) } == ["a", "b"])
            #expect(result.dropped == 2)
        }
        // exactly at the cap is kept
        let edge = String(repeating: "x", count: 64)
        #expect(metricsSplit(Array("\(edge)\n".utf8), chunks: [10], maxLineLength: 64).lines.count == 1)
        #expect(metricsSplit(Array("\(edge)x\n".utf8), chunks: [10], maxLineLength: 64).lines.count == 0)
    }

    @Test func defaultCapOnAHugeLine() {
        let huge = [UInt8](repeating: UInt8(ascii: "{"), count: 200_000) + Array("\n{'loss': 0.5}\n".utf8)
        let result = metricsSplit(huge, chunks: Array(repeating: 4096, count: 100))
        #expect(result.dropped == 1)
        #expect(result.lines.count == 1)
        #expect(metricsParse(MetricLineParser(keyValuePrefix: nil), result.lines[0]) == [MetricPoint(name: "loss", value: 0.5)])
    }

    /// A realistic Trainer log: tqdm redraws with `\r`, dict lines after them, CRLF, a key=value line.
    @Test func tqdmStreamGivesTheSamePointsForAnyChunking() {
        var text = ""
        for i in 0...30 {
            text += "  \(i * 3)%|▎         | \(i * 10)/300 [00:01<00:30,  9.50it/s]\r"
            if i % 10 == 0 { text += "{'loss': 0.\(5 + i), 'grad_norm': 1.5, 'learning_rate': 4.9e-05, 'epoch': 0.1}\n" }
        }
        text += "  3%|▎         | 10/300 [00:01<00:30,  9.50it/s]\r{'loss': 0.5, 'epoch': 0.1}\n"
        text += "{'eval_loss': 0.41, 'eval_accuracy': 0.87, 'epoch': 1.0}\r\n"
        text += "METRIC loss=0.3 acc=0.9 step=5\r\n"
        text += #"{"loss": 0.42, "step": 100}"#
        let bytes = Array(text.utf8)
        let parser = MetricLineParser(keyValuePrefix: "METRIC")
        func points(_ chunks: [Int]) -> [MetricPoint] {
            metricsSplit(bytes, chunks: chunks).lines.flatMap { metricsParse(parser, $0) }
        }
        let whole = points([])
        #expect(whole.count == 4 * 4 + 2 + 3 + 2 + 1)
        #expect(whole.last == MetricPoint(name: "loss", value: 0.42, step: 100))
        #expect(whole.contains(MetricPoint(name: "acc", value: 0.9, step: 5)))
        #expect(metricsSame(points(Array(repeating: 1, count: bytes.count)), whole))
        var rng = MetricsSplitMix64(seed: 1)
        for _ in 0..<200 {
            var chunks: [Int] = []
            var total = 0
            while total < bytes.count {
                let size = Int.random(in: 1...Int.random(in: 1...200, using: &rng), using: &rng)
                chunks.append(size)
                total += size
            }
            #expect(metricsSame(points(chunks), whole))
        }
    }
}
