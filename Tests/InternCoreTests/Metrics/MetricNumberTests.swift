import InternCore
import Testing

/// Numbers with up to 19 significant digits (Python's repr prints up to 17) parse to exactly the
/// Double that `Double(String)` gives, including round-half-to-even cases.
@Suite struct MetricNumberTests {
    func parsed(_ text: String) -> Double? {
        metricsParse(MetricLineParser(keyValuePrefix: nil), Array("{\"x\": \(text)}".utf8)).first?.value
    }

    @Test func shortestReprOfRandomDoubles_parsesBitForBit() {
        var rng = MetricsSplitMix64(seed: 0x5EED)
        for _ in 0..<100_000 {
            let exponent = Double(Int.random(in: -30...30, using: &rng))
            let value = Double.random(in: 1..<10, using: &rng) * pow10(exponent)
            let text = "\(value)"
            #expect(parsed(text)?.bitPattern == Double(text)?.bitPattern, "\(text)")
        }
    }

    @Test func sixteenToNineteenDigitMantissas_parseBitForBit() {
        var rng = MetricsSplitMix64(seed: 0xD161)
        for _ in 0..<100_000 {
            let digits = Int.random(in: 16...19, using: &rng)
            var mantissa = String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<digits { mantissa += String(Int.random(in: 0...9, using: &rng)) }
            let text = "\(mantissa)e\(Int.random(in: -40...20, using: &rng))"
            #expect(parsed(text)?.bitPattern == Double(text)?.bitPattern, "\(text)")
        }
    }

    @Test func halfwayCases_roundToEven() {
        // 2^53 + 1 and friends sit exactly between two doubles.
        for text in ["9007199254740993", "9007199254740995", "9007199254740993e-3", "18014398509481986e0",
                     "1.9973333333333337e-05", "0.1000000000000000055511151231257827", "4503599627370497.5"] {
            #expect(parsed(text)?.bitPattern == Double(text)?.bitPattern, "\(text)")
        }
    }

    private func pow10(_ e: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(abs(e)) { result *= 10 }
        return e < 0 ? 1 / result : result
    }
}
