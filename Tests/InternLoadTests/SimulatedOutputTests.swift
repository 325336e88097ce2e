import InternCore
@testable import InternLoad
import InternProtocol
import Testing
import Zstd

/// A simulated attempt's output is what a real worker would send for the same bytes: frames that
/// concatenate into one zstd stream of exactly the bytes printed, numbered per stream, none over
/// the flush size; metric samples parsed by the worker's own parser and numbered per attempt;
/// an end whose final numbers match. The outbox keeps an end behind its output.
@Suite struct SimulatedOutputTests {
    static let log = TrainerLog(bytes: 1 << 20, metricEvery: 5, seed: 3)

    /// Runs an attempt to its end in `ticks` steps; returns its frames, samples and end.
    static func simulate(_ plan: JobPlan, ticks: Int, flushBytes: Int = 16_384) throws -> ([LogFrame], [MetricSample], AttemptEnd) {
        var attempt = try SimulatedAttempt(attempt: 9, plan: plan, log: log, compressionLevel: 1, flushBytes: flushBytes, seed: 1)
        var frames: [LogFrame] = [], samples: [MetricSample] = []
        for tick in 1..<ticks {
            let output = attempt.advance(to: Double(tick) / Double(ticks), timeMs: 1_000 + Int64(tick))
            frames += output.frames
            samples += output.samples
        }
        let (output, end) = attempt.finish(outcome: .exited, startedAtMs: 1_000, endedAtMs: 2_000)
        return (frames + output.frames, samples + output.samples, end)
    }

    static func stream(_ frames: [LogFrame], _ stream: LogStream) throws -> [UInt8] {
        try Zstd.decompressAll(frames.filter { $0.stream == stream }.flatMap(\.data))
    }

    @Test func frames_concatenateIntoOneZstdStream_ofExactlyThePrintedBytes() throws {
        let plan = JobPlan(attempt: 9, profile: LoadProfile(minSeconds: 20, maxSeconds: 20, logBytesPerSecond: 10_000, failureRate: 0))
        let (frames, samples, end) = try Self.simulate(plan, ticks: 7)
        let stdout = try Self.stream(frames, .stdout), stderr = try Self.stream(frames, .stderr)
        // Whole steps of the pool: about the planned bytes (steps differ in size).
        #expect(abs(stdout.count + stderr.count - plan.rawBytes) < plan.rawBytes / 25, "\(stdout.count + stderr.count) bytes for \(plan.rawBytes)")
        for stream in [LogStream.stdout, .stderr] {
            let numbers = frames.filter { $0.stream == stream }.map(\.seq)
            #expect(numbers == Array(1...UInt64(numbers.count)))
            #expect(frames.filter { $0.stream == stream }.map(\.rawLength).reduce(0, +) == UInt64((stream == .stdout ? stdout : stderr).count))
        }
        #expect(frames.allSatisfy { $0.rawLength <= 16_384 })
        #expect(end.outcome == .exited && end.code == 0 && end.logTail.isEmpty)
        #expect(end.finalStdoutSeq == frames.filter { $0.stream == .stdout }.map(\.seq).max())
        #expect(end.finalStderrSeq == frames.filter { $0.stream == .stderr }.map(\.seq).max())
        #expect(samples.map(\.seq) == Array(1...UInt64(samples.count)) && end.finalMetricSeq == UInt64(samples.count))

        // The samples are those the worker's parser finds in the printed lines, with its steps.
        let parser = MetricLineParser(keyValuePrefix: nil)
        var expected: [(String, Double, Int64)] = []
        var counts: [String: Int64] = [:]
        for line in String(decoding: stdout, as: UTF8.self).split(separator: "\n") {
            for point in parser.parse(String(line)) {
                expected.append((point.name, point.value, point.step ?? counts[point.name, default: 0]))
                counts[point.name, default: 0] += 1
            }
        }
        #expect(samples.count == expected.count && samples.count > 50)
        #expect(zip(samples, expected).allSatisfy { $0.name == $1.0 && $0.value == $1.1 && $0.step == $1.2 })
        #expect(samples.contains { $0.name == "eval_loss" } && samples.contains { $0.name == "loss" })
    }

    @Test func progressLines_holdNoMetrics_soOnlyTheDictLinesNeedParsing() {
        let parser = MetricLineParser(keyValuePrefix: nil)
        let stderr = String(decoding: Self.log.stderr.prefix(200_000), as: UTF8.self)
        #expect(stderr.contains("it/s]") && stderr.contains("█"))
        #expect(stderr.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).allSatisfy { parser.parse(String($0)).isEmpty })
    }

    @Test func aFailingAttempt_endsWithItsTraceback_andExitsOne() throws {
        let plan = JobPlan(attempt: 9, profile: LoadProfile(minSeconds: 20, maxSeconds: 20, logBytesPerSecond: 5_000, failureRate: 1))
        let (frames, _, end) = try Self.simulate(plan, ticks: 3)
        let stderr = try Self.stream(frames, .stderr)
        #expect(stderr.suffix(SimulatedAttempt.failureText.count).elementsEqual(SimulatedAttempt.failureText))
        #expect(end.outcome == .exited && end.code == 1 && String(decoding: end.logTail, as: UTF8.self).contains("NCCL error"))
    }

    @Test func aSilentAttempt_sendsNoFrames() throws {
        let plan = JobPlan(attempt: 9, profile: LoadProfile(minSeconds: 5, maxSeconds: 5, logBytesPerSecond: 0, failureRate: 0))
        let (frames, samples, end) = try Self.simulate(plan, ticks: 4)
        #expect(frames.isEmpty && samples.isEmpty && end.finalStdoutSeq == 0 && end.finalStderrSeq == 0)
    }

    @Test func outbox_sendsAnEndOnlyWithAllItsOutput_andForgetsWhatIsAcknowledged() {
        var outbox = LoadOutbox()
        let big = [UInt8](repeating: 1, count: 600)
        outbox.add(frames: [LogFrame(attemptId: 1, stream: .stdout, seq: 1, rawLength: 6_000, data: big),
                            LogFrame(attemptId: 1, stream: .stdout, seq: 2, rawLength: 6_000, data: big)],
                   samples: [MetricSample(attemptId: 1, seq: 1, name: "loss", step: 0, value: 1, timeMs: 0)])
        outbox.add(end: AttemptEnd(attemptId: 1, outcome: .exited, startedAtMs: 0, endedAtMs: 1, wallMs: 1, finalStdoutSeq: 2, finalMetricSeq: 1))
        outbox.add(frames: [LogFrame(attemptId: 2, stream: .stderr, seq: 1, rawLength: 10, data: [2])], samples: [])
        outbox.add(end: AttemptEnd(attemptId: 2, outcome: .exited, code: 1, startedAtMs: 0, endedAtMs: 1, wallMs: 1, finalStderrSeq: 1))
        // Room for one big frame: attempt 1's end waits; attempt 2 goes whole.
        let first = outbox.nextBatch(budget: 700)
        #expect(first.frames.map(\.attemptId) == [1, 2] && first.ends.map(\.attemptId) == [2] && first.samples.isEmpty)
        #expect(outbox.endedAttempts == [1, 2])
        let settled = outbox.acknowledge(ReportAck(
            requestId: 1, stored: [StreamCursor(attemptId: 1, stream: .stdout, seq: 1), StreamCursor(attemptId: 2, stream: .stderr, seq: 1)],
            endsStored: [2]))
        #expect(settled.rawBytes == 6_010 && settled.ends.map(\.attemptId) == [2])
        let second = outbox.nextBatch(budget: 1 << 20)
        #expect(second.frames.map(\.seq) == [2] && second.samples.count == 1 && second.ends.map(\.attemptId) == [1])
        // Refused: everything of the attempt goes, nothing counted as stored.
        let refused = outbox.acknowledge(ReportAck(requestId: 2, unknownAttempts: [1]))
        #expect(refused.rawBytes == 0 && refused.ends.isEmpty && refused.refused == [1] && outbox.isEmpty)
    }

    @Test func procReadings_parseRSSAndCPU() {
        let status = "Name:\tintern\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n"
        let stat = "1234 (intern (x) y) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 0 0"
        let reading = ProcessProbe.parse(status: status, stat: stat, ticksPerSecond: 100)
        #expect(reading == ProcessProbe.Reading(rssKiB: 40_960, peakRssKiB: 51_234, cpuSeconds: 3))
        #expect(ProcessProbe.parse(status: "", stat: stat, ticksPerSecond: 100) == nil)
    }
}
