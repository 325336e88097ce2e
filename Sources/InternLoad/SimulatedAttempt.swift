import InternCore
import InternProtocol
import Zstd

/// The output of one simulated attempt, produced as a real worker's `AttemptOutput` produces it:
/// each stream through its own streaming zstd compressor, flushed into a `LogFrame` whenever
/// `flushBytes` raw bytes have accumulated and at each tick (the worker's flush interval), the
/// last frame ending the zstd frame; frames numbered 1, 2, 3… per stream; metric samples
/// numbered per attempt, each with the step its line names or the count of earlier samples of
/// its name. Its bytes come from a ``TrainerLog`` pool, from an offset drawn from the attempt id.
///
/// Confined to the task that runs the attempt (its compressors are not shared).
struct SimulatedAttempt {
    let attempt: UInt64
    let plan: JobPlan
    private let log: TrainerLog
    private let flushBytes: Int
    /// The pool step the attempt prints next, and the steps it prints in all / so far.
    private var position: Int
    private let totalSteps: Int
    private(set) var stepsDone = 0
    private var streams: [Stream]
    private var metricSeq: UInt64 = 0
    private var samplesByName: [String: Int64] = [:]
    /// Raw bytes printed so far.
    private(set) var rawBytes = 0

    private struct Stream {
        let stream: LogStream
        let compressor: ZstdCompressor
        var buffer: [UInt8] = []
        var rawSinceFlush = 0
        var seq: UInt64 = 0
    }

    /// What a step of the simulation produced, for the outbox.
    struct Output {
        var frames: [LogFrame] = []
        var samples: [MetricSample] = []
    }

    /// The traceback a failing attempt prints last on stderr: an NCCL error, class `infra`
    /// (retried, and never the circuit breaker's `user` class).
    static let failureText = Array("""

        Traceback (most recent call last):
          File "/opt/train/train.py", line 212, in <module>
            trainer.train()
        torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970, unhandled system error (run with NCCL_DEBUG=INFO for details)

        """.utf8)

    init(attempt: UInt64, plan: JobPlan, log: TrainerLog, compressionLevel: Int32, flushBytes: Int, seed: UInt64) throws {
        self.attempt = attempt
        self.plan = plan
        self.log = log
        self.flushBytes = max(1, flushBytes)
        var random = SplitMix64(seed: seed ^ 0x5EED, item: attempt)
        position = Int(random.next() % UInt64(max(1, log.steps)))
        totalSteps = Int((Double(plan.rawBytes) / max(1, log.bytesPerStep)).rounded())
        streams = [
            Stream(stream: .stdout, compressor: try ZstdCompressor(level: compressionLevel)),
            Stream(stream: .stderr, compressor: try ZstdCompressor(level: compressionLevel)),
        ]
    }

    /// Prints what the attempt has printed by `fraction` (0...1) of its length, and flushes it
    /// into frames (a tick of the worker's flush interval).
    mutating func advance(to fraction: Double, timeMs: Int64) -> Output {
        var output = Output()
        let target = min(totalSteps, Int((Double(totalSteps) * min(1, max(0, fraction))).rounded()))
        while stepsDone < target {
            let count = min(target - stepsDone, log.steps - position)
            let steps = position..<(position + count)
            let ranges = log.bytes(of: steps)
            append(log.stdout[ranges.stdout], to: 0, into: &output)
            append(log.stderr[ranges.stderr], to: 1, into: &output)
            for points in log.points(of: steps) {
                for point in points { output.samples.append(sample(point, timeMs: timeMs)) }
            }
            stepsDone += count
            position = (position + count) % log.steps
        }
        for index in streams.indices where streams[index].rawSinceFlush > 0 { flush(index, final: false, into: &output) }
        return output
    }

    /// Prints the rest (a failing attempt: its traceback), closes both streams' zstd frames, and
    /// returns the attempt's end.
    mutating func finish(outcome: AttemptOutcome, startedAtMs: Int64, endedAtMs: Int64) -> (Output, AttemptEnd) {
        var output = outcome == .exited ? advance(to: 1, timeMs: endedAtMs) : Output()
        let failed = outcome == .exited && plan.fails
        if failed { append(Self.failureText[...], to: 1, into: &output) }
        for index in streams.indices { flush(index, final: true, into: &output) }
        let code: Int64 = switch outcome {
        case .exited: failed ? 1 : 0
        case .cancelled, .preempted: 15
        default: 0
        }
        let wall = UInt64(max(0, endedAtMs - startedAtMs))
        let end = AttemptEnd(
            attemptId: attempt, outcome: outcome, code: code, startedAtMs: startedAtMs, endedAtMs: endedAtMs,
            wallMs: wall, userCpuMs: wall * 9 / 10, systemCpuMs: wall / 20, peakRssBytes: 2 << 30,
            finalStdoutSeq: streams[0].seq, finalStderrSeq: streams[1].seq, finalMetricSeq: metricSeq,
            logTail: outcome == .exited && code == 0 ? [] : Self.failureText)
        return (output, end)
    }

    private mutating func sample(_ point: MetricPoint, timeMs: Int64) -> MetricSample {
        metricSeq += 1
        let earlier = samplesByName[point.name, default: 0]
        samplesByName[point.name] = earlier + 1
        return MetricSample(attemptId: attempt, seq: metricSeq, name: point.name, step: point.step ?? earlier, value: point.value, timeMs: timeMs)
    }

    /// Compresses `bytes` into stream `index`, cutting a frame at every `flushBytes` raw bytes.
    private mutating func append(_ bytes: ArraySlice<UInt8>, to index: Int, into output: inout Output) {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let room = max(1, flushBytes - streams[index].rawSinceFlush)
            let end = min(bytes.endIndex, offset + room)
            bytes[offset..<end].withUnsafeBytes { piece in
                try? streams[index].compressor.compress(piece, into: &streams[index].buffer)
            }
            streams[index].rawSinceFlush += end - offset
            rawBytes += end - offset
            offset = end
            if streams[index].rawSinceFlush >= flushBytes { flush(index, final: false, into: &output) }
        }
    }

    private mutating func flush(_ index: Int, final: Bool, into output: inout Output) {
        var stream = streams[index]
        guard stream.rawSinceFlush > 0 || (final && stream.seq > 0) || (final && !stream.buffer.isEmpty) else { return }
        if final { try? stream.compressor.finish(into: &stream.buffer) } else { try? stream.compressor.flush(into: &stream.buffer) }
        stream.seq += 1
        output.frames.append(LogFrame(attemptId: attempt, stream: stream.stream, seq: stream.seq, rawLength: UInt64(stream.rawSinceFlush), data: stream.buffer))
        stream.buffer = []
        stream.rawSinceFlush = 0
        streams[index] = stream
    }
}
