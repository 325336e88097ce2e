import InternCore
import Testing

/// The worker's per-line path (`MetricLineParser.parse(_:using:_:)` with names as bytes, then
/// `MetricDownsampler.offer(nameBytes:…)`) must give exactly what the `String` path gives.
@Suite struct MetricFastPathTests {
    let parser = MetricLineParser(keyValuePrefix: "METRIC")

    /// The fast path's points, names made into strings, with one buffer reused for every line.
    private func fast(_ parser: MetricLineParser, _ bytes: [UInt8], _ buffer: inout MetricLineParser.Buffer) -> [MetricPoint] {
        var points: [MetricPoint] = []
        bytes.withUnsafeBytes { line in
            parser.parse(line, using: &buffer) { name, value, step in
                points.append(MetricPoint(name: String(decoding: name, as: UTF8.self), value: value, step: step))
            }
        }
        return points
    }

    private func fast(_ line: String) -> [MetricPoint] {
        var buffer = MetricLineParser.Buffer()
        return fast(parser, Array(line.utf8), &buffer)
    }

    // MARK: Real lines

    @Test func trainerLines() {
        #expect(fast("{'loss': 1.2345, 'grad_norm': 3.456, 'learning_rate': 4.9e-05, 'epoch': 0.01}") == [
            MetricPoint(name: "loss", value: 1.2345), MetricPoint(name: "grad_norm", value: 3.456),
            MetricPoint(name: "learning_rate", value: 4.9e-05), MetricPoint(name: "epoch", value: 0.01),
        ])
        #expect(fast("{'eval_loss': 0.3517, 'eval_runtime': 12.0455, 'eval_samples_per_second': 83.019, 'eval_steps_per_second': 10.377, 'epoch': 2.0}")
            .map(\.name) == ["eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "epoch"])
        #expect(fast("{'train_runtime': 125.0721, 'train_samples_per_second': 47.972, 'train_steps_per_second': 6.0, 'total_flos': 1589352153600000.0, 'train_loss': 0.4132, 'epoch': 3.0}")
            .first { $0.name == "total_flos" }?.value == 1589352153600000.0)
    }

    @Test func trlLines() {
        let dpo = fast("{'loss': 0.6931, 'grad_norm': 12.25, 'learning_rate': 5e-07, 'rewards/chosen': -0.12, 'rewards/rejected': -0.3, 'rewards/accuracies': 0.625, 'rewards/margins': 0.18, 'logps/chosen': -110.2, 'logps/rejected': -120.5, 'logits/chosen': -2.7, 'logits/rejected': -2.68, 'epoch': 0.05}")
        #expect(dpo.count == 12)
        #expect(dpo[3] == MetricPoint(name: "rewards/chosen", value: -0.12))
        #expect(dpo[8] == MetricPoint(name: "logps/rejected", value: -120.5))
        let wrapped = fast("{'loss': np.float64(0.5), 'grad_norm': tensor(2.25, device='cuda:0'), 'lr': np.float32(nan), 'x': Decimal('1.5'), 'epoch': 1.0}")
        #expect(wrapped.map(\.name) == ["loss", "grad_norm", "lr", "epoch"])
        #expect(wrapped[1].value == 2.25)
        #expect(wrapped[2].value.isNaN)
    }

    @Test func stepsAndKeyValueLines() {
        #expect(fast(#"{"loss": 0.42, "step": 100, "global_step": 7}"#) == [MetricPoint(name: "loss", value: 0.42, step: 100)])
        #expect(fast(#"{"global_step": 7, "acc": 0.5}"#) == [MetricPoint(name: "acc", value: 0.5, step: 7)])
        // An escaped `step` is still the step key.
        #expect(fast(#"{"a": 1, "st\u0065p": 3}"#) == [MetricPoint(name: "a", value: 1, step: 3)])
        #expect(fast("METRIC: loss=0.3, acc=0.9 step=5") == [
            MetricPoint(name: "loss", value: 0.3, step: 5), MetricPoint(name: "acc", value: 0.9, step: 5),
        ])
        #expect(fast("{'loss': 0.5} trailing").isEmpty)
        #expect(fast("  0%|          | 0/1000 [00:00<?, ?it/s]").isEmpty)
    }

    @Test func escapedAndNonASCIINames() {
        #expect(fast(#"{'\x41\U0001F600': 1, 'é': 2, "a\"b": 3}"#).map(\.name) == ["A😀", "é", "a\"b"])
        #expect(fast("{'a\u{7F}b': 1, 'ok': 2}").map(\.name) == ["ok"])
        #expect(fast(#"{'\x01': 1, 'ok': 2}"#).map(\.name) == ["ok"])
    }

    /// A buffer that grew on a long line and then serves short ones holds nothing stale.
    @Test func reusedBufferHoldsNothingFromEarlierLines() {
        var buffer = MetricLineParser.Buffer()
        let long = "{" + (0..<40).map { "'k\($0)': \($0)" }.joined(separator: ", ") + ", 'step': 9}"
        #expect(fast(parser, Array(long.utf8), &buffer).count == 40)
        #expect(fast(parser, Array(#"{"\u0061": 1}"#.utf8), &buffer) == [MetricPoint(name: "a", value: 1)])
        #expect(fast(parser, Array("{'b': 2, 'c': 'x'".utf8), &buffer).isEmpty)
        #expect(fast(parser, Array("{'b': 2}".utf8), &buffer) == [MetricPoint(name: "b", value: 2)])
    }

    // MARK: Same points as `parse(_:)`

    @Test func sameAsArrayParse_onRandomAndHostileLines() {
        var rng = MetricsSplitMix64(seed: 0xFA57)
        let parsers = [parser, MetricLineParser(keyValuePrefix: nil, maxNameLength: 6)]
        let alphabet = Array("{}[]()'\":,=.-+eE0123456789 \t\r\nnaNIfinityTrueNone\\uxUX_/npstglobal_stepMETRIC".utf8)
        let seeds = [
            "{'loss': 1.2345, 'grad_norm': 3.456, 'learning_rate': 4.9e-05, 'epoch': 0.01}",
            "{'rewards/chosen': -0.12, 'x': np.float64(0.5), 'y': tensor(1.0, device='cuda:0'), 'step': 3}",
            #"{"loss": NaN, "global_step": 100, "s": "a\"b\u00e9", "n": [1, {"x": null}], "\u00e9t\u00e9": 1}"#,
            #"{'\xe9': 1, '\u00e9': 2, 'e\u0301': 3, 'caf\u00c3\u00a9': 4, 'step': 2.0}"#,
            "{'é': 1, 'e\u{301}': 2, 'café_très_long_nom': 3, 'Ω': -inf}",
            "METRIC: loss=0.3, acc=0.9 step=5 global_step=7 bad=x a\\b=1 é=2",
        ].map { Array($0.utf8) }
        var buffers = [MetricLineParser.Buffer(), MetricLineParser.Buffer()]
        var lines = 0
        var points = 0
        for round in 0..<60_000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                bytes = seeds.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 0...3, using: &rng) where !bytes.isEmpty {
                    let at = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                    case 1: bytes.remove(at: at)
                    default: bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
                    }
                }
            case 1:
                bytes = [UInt8(ascii: "{")]
                for _ in 0..<Int.random(in: 0...6, using: &rng) {
                    let name = (0..<Int.random(in: 0...9, using: &rng)).map { _ in
                        Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
                    }
                    bytes += Array("'".utf8) + name + Array("': \(Int.random(in: -5...5, using: &rng)), ".utf8)
                }
                bytes += Array("'step': 4}".utf8)
            default:
                bytes = (0..<Int.random(in: 0...48, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
                if Bool.random(using: &rng) { bytes.insert(UInt8(ascii: "{"), at: 0) }
            }
            for (k, parser) in parsers.enumerated() {
                let expected = metricsParse(parser, bytes)
                let got = fast(parser, bytes, &buffers[k])
                #expect(metricsSame(got, expected), "\(bytes)")
                points += expected.count
            }
            lines += 1
        }
        #expect(lines == 60_000)
        #expect(points > 10_000)  // the inputs do reach the points path
    }

    // MARK: Downsampler by bytes

    /// `offer(nameBytes:)`, `offer(name:)` and the downsampler as it was (looked up by
    /// `String`, kept below as `StringKeyedDownsampler`) forward the same points.
    @Test func offerByBytes_sameAsByString_andAsBefore() {
        var rng = MetricsSplitMix64(seed: 0xB17E5)
        // Canonically equivalent spellings (é, e + U+0301) are one metric, as `String` compares.
        var names = ["loss", "grad_norm", "learning_rate", "epoch", "é", "e\u{301}", "Å", "A\u{30A}", "\u{212B}"]
        names += (0..<60).map { "metric_\($0)" }  // past any small-table limit
        for window: Int64 in [1, 100] {
            var byBytes = MetricDownsampler(windowMillis: window, exactPoints: 0)
            var byString = MetricDownsampler(windowMillis: window, exactPoints: 0)
            var reference = StringKeyedDownsampler(windowMillis: window)
            var outBytes: [MetricDownsampler.Point] = []
            var outString: [MetricDownsampler.Point] = []
            var outReference: [MetricDownsampler.Point] = []
            var time: Int64 = 0
            for i in 0..<40_000 {
                let name = i % 7 == 0 ? names.randomElement(using: &rng)! : names[i % 4]
                let step: Int64? = Int.random(in: 0..<4, using: &rng) == 0 ? Int64.random(in: 0...1000, using: &rng) : nil
                let value: Double = Int.random(in: 0..<50, using: &rng) == 0 ? .nan : Double(Int.random(in: -100...100, using: &rng))
                time += Int64.random(in: -2...30, using: &rng)
                var bytes = name
                bytes.withUTF8 { byBytes.offer(nameBytes: UnsafeRawBufferPointer($0), step: step, value: value, time: time) { outBytes.append($0) } }
                byString.offer(name: name, step: step, value: value, time: time) { outString.append($0) }
                reference.offer(name: name, step: step, value: value, time: time) { outReference.append($0) }
                if i % 1000 == 999 {
                    byBytes.flush(now: time + 50) { outBytes.append($0) }
                    byString.flush(now: time + 50) { outString.append($0) }
                    reference.flush(now: time + 50) { outReference.append($0) }
                }
            }
            byBytes.finish { outBytes.append($0) }
            byString.finish { outString.append($0) }
            reference.finish { outReference.append($0) }
            #expect(same(outBytes, outReference))
            #expect(same(outString, outReference))
            #expect(byBytes.received == reference.received && byBytes.forwarded == reference.forwarded)
            for spelling in ["é", "e\u{301}", "\u{212B}"] {
                #expect(outBytes.contains { Array($0.name.utf8) == Array(spelling.utf8) })
            }
        }
    }

    /// The whole worker path over a Trainer log with tqdm bars, against the `String` path.
    @Test func splitterParserDownsampler_sameAsStringPath() {
        var rng = MetricsSplitMix64(seed: 42)
        var log = ""
        for i in 0..<5000 {
            // A tqdm bar redraws itself with `\r`; the metric line that follows starts after one.
            if i % 20 == 0 { log += "\r\(i % 100)%|####| \(i)/5000 [00:01<00:02, 3.5it/s]\r" }
            if i % 500 == 499 {
                log += "{'eval_loss': \(Double(i) / 1000), 'eval_runtime': 1.5, 'epoch': \(Double(i) / 5000)}\n"
            }
            log += "{'loss': \(Double(Int.random(in: 0...30_000, using: &rng)) / 10_000), 'grad_norm': 3.1, "
                + "'learning_rate': 4.1e-05, 'epoch': \(Double(i) / 5000)}\n"
        }
        let bytes = Array(log.utf8)
        var fastOut: [MetricDownsampler.Point] = []
        var slowOut: [MetricDownsampler.Point] = []
        var splitter = LineSplitter()
        var fastSampler = MetricDownsampler()
        var slowSampler = MetricDownsampler()
        var buffer = MetricLineParser.Buffer()
        var offset = 0
        var time: Int64 = 0
        while offset < bytes.count {
            let size = min(Int.random(in: 1...9000, using: &rng), bytes.count - offset)
            time += Int64.random(in: 0...40, using: &rng)
            bytes[offset..<(offset + size)].withUnsafeBytes { chunk in
                splitter.feed(chunk) { line in
                    parser.parse(line, using: &buffer) { name, value, step in
                        fastSampler.offer(nameBytes: name, step: step, value: value, time: time) { fastOut.append($0) }
                    }
                    for point in parser.parse(line) {
                        slowSampler.offer(name: point.name, step: point.step, value: point.value, time: time) { slowOut.append($0) }
                    }
                }
            }
            offset += size
        }
        fastSampler.finish { fastOut.append($0) }
        slowSampler.finish { slowOut.append($0) }
        #expect(fastSampler.received == 5000 * 4 + 10 * 3)
        #expect(same(fastOut, slowOut))
        #expect(fastOut.last { $0.name == "loss" }?.step == 4999)
    }

    private func same(_ a: [MetricDownsampler.Point], _ b: [MetricDownsampler.Point]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in
            // Names compared by their bytes: each point must keep its own spelling.
            Array(x.name.utf8) == Array(y.name.utf8) && x.step == y.step && x.time == y.time
                && (x.value == y.value || (x.value.isNaN && y.value.isNaN))
        }
    }
}

/// The downsampler as it was before names were looked up by bytes (series keyed by `String`,
/// windows holding whole points), kept as the reference the current one must match.
private struct StringKeyedDownsampler {
    typealias Point = MetricDownsampler.Point

    let windowMillis: Int64
    private(set) var received = 0
    private(set) var forwarded = 0
    private var names: [String] = []
    private var series: [Series] = []

    private struct Series {
        var nextStep: Int64 = 0
        var window: Window?
    }

    private struct Window {
        var start: Int64
        var minimum: (order: Int, point: Point)?
        var maximum: (order: Int, point: Point)?
        var last: (order: Int, point: Point)?
        var count = 0

        mutating func add(_ point: Point) {
            count += 1
            if !point.value.isNaN {
                if minimum.map({ point.value < $0.point.value }) ?? true { minimum = (count, point) }
                if maximum.map({ point.value > $0.point.value }) ?? true { maximum = (count, point) }
            }
            last = (count, point)
        }
    }

    init(windowMillis: Int64) {
        self.windowMillis = max(1, windowMillis)
    }

    mutating func offer(name: String, step: Int64?, value: Double, time: Int64, emit: (Point) -> Void) {
        let slot: Int
        if let i = names.firstIndex(of: name) {
            slot = i
        } else {
            names.append(name)
            series.append(Series())
            slot = names.count - 1
        }
        let resolvedStep = step ?? series[slot].nextStep
        series[slot].nextStep = resolvedStep + 1
        let point = Point(name: name, step: resolvedStep, value: value, time: time)
        received += 1
        if let start = series[slot].window?.start, point.time - start < windowMillis {
            series[slot].window!.add(point)
            return
        }
        if let window = series[slot].window { close(window, emit: emit) }
        series[slot].window = Window(start: point.time)
        forwarded += 1
        emit(point)
    }

    mutating func flush(now: Int64, emit: (Point) -> Void) {
        for slot in series.indices {
            guard let window = series[slot].window, now - window.start >= windowMillis, window.last != nil else { continue }
            close(window, emit: emit)
            series[slot].window = Window(start: window.start)
        }
    }

    mutating func finish(emit: (Point) -> Void) {
        for slot in series.indices {
            if let window = series[slot].window { close(window, emit: emit) }
            series[slot].window = nil
        }
    }

    private mutating func close(_ window: Window, emit: (Point) -> Void) {
        var pending: [(order: Int, point: Point)] = []
        for candidate in [window.minimum, window.maximum, window.last] {
            guard let candidate, !pending.contains(where: { $0.order == candidate.order }) else { continue }
            pending.append(candidate)
        }
        for entry in pending.sorted(by: { $0.order < $1.order }) {
            forwarded += 1
            emit(entry.point)
        }
    }
}
