import Glibc
import InternCore
import InternJob
import InternProtocol
import Zstd

/// Turns one attempt's output into what the coordinator stores: each stream is compressed with
/// its own streaming zstd compressor and flushed into a `LogFrame` at least every flush interval
/// or flush size, and every complete line is offered to the metric parser, here on the worker,
/// so the coordinator never touches a line.
///
/// Confined to the job's reader thread (`JobOutputHandler`): the compressors and parsers are
/// not shared, so they need no lock.
final class AttemptOutput: JobOutputHandler {
    private let attempt: UInt64
    private let outbox: Outbox
    private let flushBytes: Int
    private let flushIntervalNanos: UInt64
    private let parser: MetricLineParser
    private var streams: [StreamState]
    private var metricSeq: UInt64 = 0
    private var downsampler = MetricDownsampler()
    private var pendingMetrics: [MetricSample] = []
    private let onFinish: @Sendable (JobExit, AttemptOutputTotals) -> Void

    private struct StreamState {
        let stream: InternProtocol.LogStream
        let compressor: ZstdCompressor
        var splitter = LineSplitter()
        var buffer: [UInt8] = []
        var rawSinceFlush = 0
        var lastFlush: UInt64
        var seq: UInt64 = 0
    }

    /// Creates the handler for one attempt.
    init(
        attempt: UInt64, outbox: Outbox, compressionLevel: Int32, flushBytes: Int, flushIntervalMillis: Int,
        metricPrefix: String?, onFinish: @escaping @Sendable (JobExit, AttemptOutputTotals) -> Void
    ) throws {
        self.attempt = attempt
        self.outbox = outbox
        self.flushBytes = max(1, flushBytes)
        self.flushIntervalNanos = UInt64(max(1, flushIntervalMillis)) * 1_000_000
        self.parser = MetricLineParser(keyValuePrefix: metricPrefix)
        self.onFinish = onFinish
        let now = monotonicNanos()
        streams = [
            StreamState(stream: .stdout, compressor: try ZstdCompressor(level: compressionLevel), lastFlush: now),
            StreamState(stream: .stderr, compressor: try ZstdCompressor(level: compressionLevel), lastFlush: now),
        ]
    }

    func output(stream: JobStream, bytes: UnsafeRawBufferPointer) {
        let index = stream == .stdout ? 0 : 1
        do {
            try streams[index].compressor.compress(bytes, into: &streams[index].buffer)
        } catch {
            // A compressor error cannot come from the job's bytes (any bytes compress); it means
            // memory ran out. The frame is still produced from what was compressed.
        }
        streams[index].rawSinceFlush += bytes.count
        let time = unixMillis()
        streams[index].splitter.feed(bytes) { line in
            collectMetrics(line, time: time)
        }
        if streams[index].rawSinceFlush >= flushBytes {
            flush(index, final: false)
        }
        publishMetricsIfAny()
    }

    func tick(now _: ContinuousClock.Instant) {
        downsampler.flush(now: unixMillis(), emit: queue)
        let now = monotonicNanos()
        for index in streams.indices where streams[index].rawSinceFlush > 0 && now - streams[index].lastFlush >= flushIntervalNanos {
            flush(index, final: false)
        }
        publishMetricsIfAny()
    }

    func finished(_ exit: JobExit) {
        let time = unixMillis()
        for index in streams.indices {
            streams[index].splitter.finish { line in collectMetrics(line, time: time) }
        }
        downsampler.finish(emit: queue)
        for index in streams.indices {
            flush(index, final: true)
        }
        publishMetricsIfAny()
        onFinish(exit, AttemptOutputTotals(
            finalStdoutSeq: streams[0].seq, finalStderrSeq: streams[1].seq, finalMetricSeq: metricSeq))
    }

    private func collectMetrics(_ line: UnsafeRawBufferPointer, time: Timestamp) {
        let points = parser.parse(line)
        guard !points.isEmpty else { return }
        for point in points {
            downsampler.offer(name: point.name, step: point.step, value: point.value, time: time, emit: queue)
        }
    }

    private func queue(_ point: MetricDownsampler.Point) {
        metricSeq += 1
        pendingMetrics.append(MetricSample(
            attemptId: attempt, seq: metricSeq, name: point.name, step: point.step, value: point.value, timeMs: point.time))
    }

    private func publishMetricsIfAny() {
        guard !pendingMetrics.isEmpty else { return }
        outbox.add(metrics: pendingMetrics)
        pendingMetrics.removeAll(keepingCapacity: true)
    }

    /// Flushes a stream's compressor into one frame. The last frame also closes the zstd frame,
    /// so the stored file ends with a complete frame that any zstd tool reads to the end.
    private func flush(_ index: Int, final: Bool) {
        var state = streams[index]
        guard state.rawSinceFlush > 0 || (final && state.seq > 0) || (final && !state.buffer.isEmpty) else {
            return
        }
        do {
            if final { try state.compressor.finish(into: &state.buffer) } else { try state.compressor.flush(into: &state.buffer) }
        } catch {
            return
        }
        state.seq += 1
        // Metrics parsed from these bytes go out no later than the frame that carries them.
        publishMetricsIfAny()
        outbox.add(frame: LogFrame(
            attemptId: attempt, stream: state.stream, seq: state.seq, rawLength: UInt64(state.rawSinceFlush), data: state.buffer))
        state.buffer = []
        state.buffer.reserveCapacity(16 << 10)
        state.rawSinceFlush = 0
        state.lastFlush = monotonicNanos()
        streams[index] = state
    }
}

/// The last sequence numbers an attempt produced, sent with its end.
struct AttemptOutputTotals: Sendable {
    var finalStdoutSeq: UInt64
    var finalStderrSeq: UInt64
    var finalMetricSeq: UInt64
}

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func unixMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
