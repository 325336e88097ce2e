import Foundation
import InternCore

/// A pool of Hugging Face `Trainer`-shaped output that simulated jobs print from: per training
/// step a tqdm progress update on stderr (`\r 45%|████▌     | 450/1000 [00:10<00:12, 43.21it/s]`),
/// every `metricEvery` steps a logging dict on stdout (`{'loss': '0.6931', 'grad_norm': '1.234',
/// 'learning_rate': '1.997e-05', 'epoch': '0.12'}`, transformers 5's quoted form), and an eval
/// dict at every tenth of them, the shapes of Tests/EndToEndTests/Fixtures/ml-stack's captures.
///
/// Made once per run (a few MiB, line-aligned per step); each attempt reads it from its own
/// offset, wrapping around, so an attempt's zstd window sees no repetition a real log would not
/// have and the compression ratio stays realistic. The metric points of every stdout line are
/// parsed once, by the worker's own `MetricLineParser`, so a simulated attempt sends exactly the
/// samples a real worker would parse from those bytes.
public struct TrainerLog: Sendable {
    /// The stdout and stderr bytes of every step, back to back.
    public let stdout: [UInt8]
    public let stderr: [UInt8]
    /// Where step `i`'s bytes end in each stream (`stdoutEnds[i]`); step `i` starts where step
    /// `i - 1` ends (0 for the first).
    let stdoutEnds: [Int]
    let stderrEnds: [Int]
    /// The steps that print a metric line, ascending, and that line's points.
    let metricSteps: [Int]
    let metricPoints: [[MetricPoint]]

    /// Steps in the pool.
    public var steps: Int { stdoutEnds.count }
    /// Mean raw bytes one step prints (both streams).
    public var bytesPerStep: Double { Double(stdout.count + stderr.count) / Double(max(1, steps)) }

    /// A pool of at least `bytes` raw bytes.
    public init(bytes: Int = 8 << 20, metricEvery: Int = 10, seed: UInt64 = 1) {
        var random = SplitMix64(seed: seed, item: 0x7124_1AE2)
        let parser = MetricLineParser(keyValuePrefix: nil)
        let metricEvery = max(1, metricEvery)
        var out: [UInt8] = [], err: [UInt8] = []
        out.reserveCapacity(bytes / 2)
        err.reserveCapacity(bytes)
        var outEnds: [Int] = [], errEnds: [Int] = [], steps: [Int] = [], points: [[MetricPoint]] = []
        let total = [250, 313, 500, 625].randomElement(using: &random)! * 3
        let learningRate = [1e-5, 2e-5, 3e-5, 5e-5].randomElement(using: &random)!
        var loss = 0.68 + 0.04 * random.unit()
        let rate = 8 + 22 * random.unit()
        var step = 0
        while out.count + err.count < bytes {
            step += 1
            let s = (step - 1) % total + 1
            loss = max(0.01, loss * (0.985 + 0.027 * random.unit()))
            err.append(contentsOf: Self.progress(s, of: total, rate: rate * (0.9 + 0.2 * random.unit())).utf8)
            if s % metricEvery == 0 {
                let epoch = Double(s) / Double(total) * 3
                var line = "{'loss': '\(Self.significant(loss))', 'grad_norm': '\(Self.significant(0.5 + 2 * random.unit()))', "
                    + "'learning_rate': '\(Self.significant(learningRate * (1 - Double(s) / Double(total))))', 'epoch': '\(Self.significant(epoch))'}\n"
                if (s / metricEvery) % 10 == 0 {
                    line += "{'eval_loss': '\(Self.significant(loss * (1.02 + 0.05 * random.unit())))', 'eval_runtime': '\(Self.significant(1 + random.unit()))', "
                        + "'eval_samples_per_second': '\(Self.significant(600 + 400 * random.unit()))', "
                        + "'eval_steps_per_second': '\(Self.significant(40 + 20 * random.unit()))', 'epoch': '\(Self.significant(epoch))'}\n"
                }
                out.append(contentsOf: line.utf8)
                steps.append(outEnds.count)
                points.append(line.split(separator: "\n").flatMap { parser.parse(String($0)) })
            }
            outEnds.append(out.count)
            errEnds.append(err.count)
        }
        stdout = out
        stderr = err
        stdoutEnds = outEnds
        stderrEnds = errEnds
        metricSteps = steps
        metricPoints = points
    }

    /// Four significant digits, as transformers 5 prints its logs (`'3.653'`, `'1.997e-05'`).
    static func significant(_ value: Double) -> String {
        String(format: "%.4g", value)
    }

    /// One tqdm update: carriage return, percentage, a 10-cell bar, counts, times and rate.
    static func progress(_ step: Int, of total: Int, rate: Double) -> String {
        let fraction = Double(step) / Double(total)
        let cells = Int(fraction * 10)
        let bar = String(repeating: "█", count: cells) + String(repeating: " ", count: 10 - cells)
        func clock(_ seconds: Double) -> String { String(format: "%02d:%02d", Int(seconds) / 60, Int(seconds) % 60) }
        let percent = String(format: "%3d", Int(fraction * 100))
        return "\r\(percent)%|\(bar)| \(step)/\(total) [\(clock(Double(step) / rate))<\(clock(Double(total - step) / rate)), \(String(format: "%.2f", rate))it/s]"
    }

    /// The byte range of steps `range` (within the pool) in each stream.
    func bytes(of range: Range<Int>) -> (stdout: Range<Int>, stderr: Range<Int>) {
        let outStart = range.lowerBound == 0 ? 0 : stdoutEnds[range.lowerBound - 1]
        let errStart = range.lowerBound == 0 ? 0 : stderrEnds[range.lowerBound - 1]
        guard !range.isEmpty else { return (outStart..<outStart, errStart..<errStart) }
        return (outStart..<stdoutEnds[range.upperBound - 1], errStart..<stderrEnds[range.upperBound - 1])
    }

    /// The metric points printed by steps `range` (within the pool), in order.
    func points(of range: Range<Int>) -> ArraySlice<[MetricPoint]> {
        let first = lowerBound(metricSteps, range.lowerBound)
        let end = lowerBound(metricSteps, range.upperBound)
        return metricPoints[first..<end]
    }

    private func lowerBound(_ sorted: [Int], _ value: Int) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
