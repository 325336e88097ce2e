import InternCore
import Testing

/// The audit sample's reservoir: seeded, stratified by reason, bounded.
@Suite struct SampleReservoirTests {
    /// Offers `count` records per reason, interleaved, in a fixed order.
    static func filled(seed: UInt64, reasons: [String: Int], perReason: Int = 5) -> SampleReservoir {
        var reservoir = SampleReservoir(seed: seed, perReason: perReason)
        let most = reasons.values.max() ?? 0
        for index in 0..<most {
            for (reason, count) in reasons.sorted(by: { $0.key < $1.key }) where index < count {
                reservoir.offer(reason: reason, record: "{\"n\":\(index)}", trial: index / 10 + 1, item: "shard-\(index / 10)")
            }
        }
        return reservoir
    }

    @Test func theSameSeed_drawsTheSameSample_andAnotherSeedAnother() {
        let a = Self.filled(seed: 7, reasons: ["toxicity": 500, "duplicate": 300])
        let b = Self.filled(seed: 7, reasons: ["toxicity": 500, "duplicate": 300])
        let c = Self.filled(seed: 8, reasons: ["toxicity": 500, "duplicate": 300])
        #expect(a == b)
        #expect(a.strata["toxicity"]?.samples != c.strata["toxicity"]?.samples)
    }

    @Test func eachReasonKeepsItsOwnBoundedSample_andCountsAll() {
        let reservoir = Self.filled(seed: 1, reasons: ["toxicity": 1_000, "duplicate": 3, "short": 40])
        #expect(reservoir.reasons == ["toxicity", "short", "duplicate"])
        #expect(reservoir.strata["toxicity"]?.seen == 1_000 && reservoir.strata["toxicity"]?.samples.count == 5)
        #expect(reservoir.strata["short"]?.samples.count == 5)
        // A rare reason keeps all it has, however common the others.
        #expect(reservoir.strata["duplicate"]?.samples.map(\.record) == ["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"])
    }

    @Test func aReasonDrawsTheSame_whateverOtherReasonsCameBetween() {
        let alone = Self.filled(seed: 3, reasons: ["toxicity": 200])
        let mixed = Self.filled(seed: 3, reasons: ["toxicity": 200, "duplicate": 150])
        #expect(alone.strata["toxicity"] == mixed.strata["toxicity"])
    }

    @Test func theSampleIsSpreadOverTheWholeStream_notItsStart() {
        // Every record has the same chance: over many seeds, late records are kept as often as early ones.
        var early = 0, late = 0
        for seed in 0..<400 {
            let reservoir = Self.filled(seed: UInt64(seed), reasons: ["r": 100], perReason: 10)
            for sample in reservoir.strata["r"]!.samples {
                let n = Int(sample.record.dropFirst(5).dropLast())!
                if n < 50 { early += 1 } else { late += 1 }
            }
        }
        #expect(early + late == 4_000)
        #expect(abs(early - late) < 300, "early \(early), late \(late)")
    }

    @Test func longRecordsAreCut_andTooManyReasonsAreOnlyCounted() {
        var reservoir = SampleReservoir(seed: 0, perReason: 2, maxRecordBytes: 32, maxReasons: 2)
        reservoir.offer(reason: "a", record: "{\"text\":\"" + String(repeating: "é", count: 40) + "\"}", trial: 1, item: "x")
        reservoir.offer(reason: "b", record: "{}", trial: 1, item: "x")
        reservoir.offer(reason: "c", record: "{}", trial: 1, item: "x")
        let sample = reservoir.strata["a"]!.samples[0]
        #expect(sample.truncated && sample.record.utf8.count <= 32 && sample.record.hasPrefix("{\"text\":\"éé"))
        #expect(reservoir.strata["c"] == nil && reservoir.overflow == 1)
    }

    @Test func sampleLines_areRecognisedExactly() {
        let line = #"{"intern_sample": {"reason": "toxicity", "record": {"text": "a } \" [", "n": [1, {"x": 2}]}}}"#
        let parsed = SampleLine.parse(line)
        #expect(parsed?.reason == "toxicity")
        #expect(parsed?.record == #"{"text": "a } \" [", "n": [1, {"x": 2}]}"#)
        #expect(SampleLine.parse(#"{"intern_sample": {"record": "x", "reason": "dup"}}"#)?.record == "\"x\"")
        for bad in [
            #"{"intern_sample": {"reason": "toxicity"}}"#,
            #"{"intern_sample": {"reason": "", "record": 1}}"#,
            #"{"intern_sample": {"reason": "t", "record": {"open": 1}}"#,
            #"{"intern_sample": {"reason": "t", "record": 1}} trailing"#,
            #"{"loss": 0.3}"#,
            #"{"intern_sample": {"reason": "t", "record": "unterminated}}"#,
        ] {
            #expect(SampleLine.parse(bad) == nil, "\(bad)")
        }
    }
}
