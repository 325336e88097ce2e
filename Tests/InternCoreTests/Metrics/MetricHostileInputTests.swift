import InternCore
import Testing

@Suite struct MetricHostileInputTests {
    let parser = MetricLineParser(keyValuePrefix: "METRIC")

    private func checkNames(_ points: [MetricPoint]) -> Bool {
        points.allSatisfy { !$0.name.isEmpty && $0.name.utf8.count <= MetricLineParser.defaultMaxNameLength }
    }

    /// 100,000 short strings of random bytes, biased towards the bytes the parser cares about.
    @Test func randomBytesNeverTrap() {
        var rng = MetricsSplitMix64(seed: 0xDEC0DE)
        let alphabet = Array("{}[]()'\":,=.-+eE0123456789 \t\r\nnaNIfinityTrueNone\\uxMETRIC_/np".utf8)
        var splitter = LineSplitter(maxLineLength: 40)
        var total = 0
        for _ in 0..<100_000 {
            let count = Int.random(in: 0...48, using: &rng)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count + 1)
            let biased = Bool.random(using: &rng)
            if Bool.random(using: &rng) { bytes.append(UInt8(ascii: "{")) }
            for _ in 0..<count {
                bytes.append(biased ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng))
            }
            let points = metricsParse(parser, bytes)
            #expect(checkNames(points))
            total += points.count
            bytes.withUnsafeBytes { chunk in
                splitter.feed(chunk) { line in
                    #expect(line.count <= 40)
                    total += parser.parse(line).count
                }
            }
        }
        splitter.finish { _ = parser.parse($0) }
        #expect(total >= 0)
    }

    /// Real lines with random bytes changed, deleted or inserted.
    @Test func mutatedRealLinesNeverTrap() {
        let seeds = [
            "{'loss': 1.2345, 'grad_norm': 3.456, 'learning_rate': 4.9e-05, 'epoch': 0.01}",
            "{'rewards/chosen': -0.12, 'logps/rejected': -120.5, 'x': np.float64(0.5), 'y': tensor(1.0, device='cuda:0')}",
            #"{"loss": NaN, "step": 100, "s": "a\"b\u00e9", "n": [1, {"x": null}]}"#,
            "METRIC: loss=0.3, acc=0.9 step=5",
        ].map { Array($0.utf8) }
        var rng = MetricsSplitMix64(seed: 7)
        for _ in 0..<30_000 {
            var bytes = seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                }
                if bytes.isEmpty { break }
            }
            #expect(checkNames(metricsParse(parser, bytes)))
        }
    }

    @Test(arguments: ["{", "[", "(", "'", "\"", "\\", "{'a': ", "{'a': (", "{'a': np.f(", "-", "9", "e", "\u{0}"])
    func sixtyFourKiBOfOneThing(unit: String) {
        let unitBytes = Array(unit.utf8)
        var line: [UInt8] = []
        while line.count < 65_536 { line += unitBytes }
        #expect(metricsParse(parser, line) == [])
        #expect(metricsParse(parser, [UInt8(ascii: "{")] + line) == [])
        #expect(metricsParse(parser, Array("METRIC ".utf8) + line) == [])
        // Inside a valid line, the garbage is a skipped string; 64 KiB of digits is a number
        // in a string, as transformers 5 prints them, too large for a Double.
        let wrapped = Array("{'s': '".utf8) + line.map { $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\\") ? UInt8(ascii: "x") : $0 } + Array("', 'ok': 1}".utf8)
        let skipped = unit == "9" ? [MetricPoint(name: "s", value: .infinity)] : []
        #expect(metricsParse(parser, wrapped) == skipped + [MetricPoint(name: "ok", value: 1)])
    }

    @Test func deepButBalancedNesting() {
        let depth = 30_000
        let line = Array("{'deep': ".utf8) + [UInt8](repeating: UInt8(ascii: "["), count: depth)
            + [UInt8](repeating: UInt8(ascii: "]"), count: depth) + Array(", 'ok': 2}".utf8)
        #expect(metricsParse(parser, line) == [MetricPoint(name: "ok", value: 2)])
    }

    @Test func longNumbers() {
        let digits = String(repeating: "1", count: 5000)
        #expect(parser.parse("{'a': \(digits)}").first?.value == .infinity)
        #expect(parser.parse("{'a': 0.\(digits)}").first?.value == 0.1111111111111111)
        #expect(parser.parse("{'a': 1e99999999999999999999}").first?.value == .infinity)
        #expect(parser.parse("{'a': 1e-99999999999999999999}").first?.value == 0)
    }
}
