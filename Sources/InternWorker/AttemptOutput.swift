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
    private var streams: [StreamState]
    /// Everything a line goes through, in one stored property: a chunk costs one access to it,
    /// not several per line (class properties are checked for exclusive access at run time).
    private var metrics: MetricLines
    private let onFinish: @Sendable (JobExit, AttemptOutputTotals) -> Void
    /// Declared result files (output name, path) and the directory relative paths start from.
    private let resultFiles: [(String, String)]
    private let workdir: String

    private struct StreamState {
        let stream: InternProtocol.LogStream
        let compressor: ZstdCompressor
        var buffer: [UInt8] = []
        var rawSinceFlush = 0
        var lastFlush: UInt64
        var seq: UInt64 = 0
        /// The outbox was full: output is counted, not compressed, until there is room again.
        var dropping = false
        var droppedRaw: UInt64 = 0
        /// The stream's last bytes (between `tailBytes` and twice that once it has that many).
        var tail: [UInt8] = []
    }

    /// How much of each stream's end goes with a failed attempt's end, for its classification.
    static let tailBytes = 4096

    /// Creates the handler for one attempt.
    init(
        attempt: UInt64, outbox: Outbox, compressionLevel: Int32, flushBytes: Int, flushIntervalMillis: Int,
        metricPrefix: String?, resultFiles: [(String, String)] = [], workdir: String = "/",
        onFinish: @escaping @Sendable (JobExit, AttemptOutputTotals) -> Void
    ) throws {
        self.resultFiles = resultFiles
        self.workdir = workdir
        self.attempt = attempt
        self.outbox = outbox
        self.flushBytes = max(1, flushBytes)
        self.flushIntervalNanos = UInt64(max(1, flushIntervalMillis)) * 1_000_000
        self.metrics = MetricLines(attempt: attempt, parser: MetricLineParser(keyValuePrefix: metricPrefix))
        self.onFinish = onFinish
        let now = monotonicNanos()
        streams = [
            StreamState(stream: .stdout, compressor: try ZstdCompressor(level: compressionLevel), lastFlush: now),
            StreamState(stream: .stderr, compressor: try ZstdCompressor(level: compressionLevel), lastFlush: now),
        ]
    }

    func output(stream: JobStream, bytes: UnsafeRawBufferPointer) {
        let index = stream == .stdout ? 0 : 1
        Self.keepTail(bytes, in: &streams[index].tail)
        let time = unixMillis()
        // A read may hold several flush sizes of output: cut it so that no frame carries more
        // than `flushBytes` of raw output (the bound `logs --follow` and the spool rely on).
        var offset = 0
        while offset < bytes.count {
            let room = max(1, flushBytes - streams[index].rawSinceFlush)
            let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + room)])
            if outbox.isFull != streams[index].dropping { switchDropping(index) }
            if streams[index].dropping {
                // The coordinator has been away long enough to fill the spool: the job goes
                // on, its output is counted (and still parsed for metrics), not kept.
                streams[index].droppedRaw += UInt64(piece.count)
                metrics.feed(index, piece, time: time)
                offset += piece.count
                continue
            }
            do {
                try streams[index].compressor.compress(piece, into: &streams[index].buffer)
            } catch {
                // A compressor error cannot come from the job's bytes (any bytes compress); it
                // means memory ran out. The frame is still produced from what was compressed.
            }
            streams[index].rawSinceFlush += piece.count
            metrics.feed(index, piece, time: time)
            if streams[index].rawSinceFlush >= flushBytes {
                flush(index, final: false)
            }
            offset += piece.count
        }
        publishMetricsIfAny()
    }

    func tick(now _: ContinuousClock.Instant) {
        for index in streams.indices where streams[index].dropping && !outbox.isFull { switchDropping(index) }
        metrics.sink.flush(now: unixMillis())
        let now = monotonicNanos()
        for index in streams.indices where streams[index].rawSinceFlush > 0 && now - streams[index].lastFlush >= flushIntervalNanos {
            flush(index, final: false)
        }
        publishMetricsIfAny()
    }

    func finished(_ exit: JobExit) {
        let time = unixMillis()
        for (name, path) in resultFiles {
            guard let file = ResultFiles.resolve(path, in: workdir), let bytes = ResultFiles.read(file) else { continue }
            metrics.sink.declare(name, file)
            if let points = EvalResultsFile.points(json: bytes) { metrics.sink.collect(points: points, time: time) }
        }
        metrics.finish(time: time)
        for index in streams.indices where streams[index].dropping { switchDropping(index) }
        for index in streams.indices {
            flush(index, final: true)
        }
        publishMetricsIfAny()
        onFinish(exit, AttemptOutputTotals(
            finalStdoutSeq: streams[0].seq, finalStderrSeq: streams[1].seq, finalMetricSeq: metrics.sink.seq,
            logTail: Self.lastLines(streams[1].tail) + Self.lastLines(streams[0].tail),
            outputs: StringPairs(metrics.sink.outputs.map { ($0.name, $0.value) })))
    }

    /// Appends to a tail buffer, keeping it between `tailBytes` and twice that (amortised).
    private static func keepTail(_ bytes: UnsafeRawBufferPointer, in tail: inout [UInt8]) {
        if bytes.count >= tailBytes {
            // Reuses the buffer: no allocation per read on the output path.
            tail.removeAll(keepingCapacity: true)
            tail.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - tailBytes)...]))
            return
        }
        tail.append(contentsOf: bytes)
        if tail.count > 2 * tailBytes { tail.removeFirst(tail.count - tailBytes) }
    }

    /// The last `tailBytes` of a stream, from a line start when one is in the first half.
    static func lastLines(_ tail: [UInt8]) -> [UInt8] {
        var last = tail.suffix(tailBytes)
        if tail.count > tailBytes, let newline = last.prefix(tailBytes / 2).firstIndex(of: UInt8(ascii: "\n")) {
            last = last[(newline + 1)...]
        }
        return Array(last)
    }

    private func publishMetricsIfAny() {
        guard !metrics.sink.pending.isEmpty else { return }
        outbox.add(metrics: metrics.sink.pending)
        metrics.sink.pending.removeAll(keepingCapacity: true)
    }

    /// Starts or stops dropping a stream's output. Dropped bytes never reach the compressor, so
    /// the zstd stream stays whole (it just lacks them); stopping sends one loss marker: a frame
    /// with no data whose `rawLength` is the number of bytes dropped, so the coordinator records
    /// exactly how much is missing and where.
    private func switchDropping(_ index: Int) {
        if streams[index].dropping {
            streams[index].seq += 1
            outbox.add(frame: LogFrame(
                attemptId: attempt, stream: streams[index].stream, seq: streams[index].seq,
                rawLength: streams[index].droppedRaw, data: []))
            streams[index].dropping = false
            streams[index].droppedRaw = 0
            streams[index].lastFlush = monotonicNanos()
        } else {
            // What was compressed before the loss goes out first, so the marker sits where
            // the loss began.
            if streams[index].rawSinceFlush > 0 { flush(index, final: false) }
            streams[index].dropping = true
        }
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

/// The metric path of one attempt: lines from each stream's splitter go to the parser, the
/// parser's points to the downsampler, the points it forwards to `pending`. Names stay bytes
/// until the downsampler forwards a point, and nothing here allocates per line once the
/// buffers have grown.
private struct MetricLines {
    var stdout = LineSplitter()
    var stderr = LineSplitter()
    var sink: MetricCollector

    init(attempt: UInt64, parser: MetricLineParser) {
        sink = MetricCollector(attempt: attempt, parser: parser)
    }

    /// `stream` 0 is stdout, 1 stderr.
    mutating func feed(_ stream: Int, _ bytes: UnsafeRawBufferPointer, time: Int64) {
        if stream == 0 {
            stdout.feed(bytes) { sink.collect($0, stream: 0, time: time) }
        } else {
            stderr.feed(bytes) { sink.collect($0, stream: 1, time: time) }
        }
    }

    /// The streams ended: their last unterminated lines, then every held point.
    mutating func finish(time: Int64) {
        stdout.finish { sink.collect($0, stream: 0, time: time) }
        stderr.finish { sink.collect($0, stream: 1, time: time) }
        sink.finish()
    }
}

/// Parses lines and downsamples their points into `pending`.
private struct MetricCollector {
    let attempt: UInt64
    let parser: MetricLineParser
    var buffer = MetricLineParser.Buffer()
    var downsampler = MetricDownsampler()
    var pending: [MetricSample] = []
    var seq: UInt64 = 0
    /// The outputs the job declared so far (`{"intern_output": {...}}` lines, on either stream;
    /// a later line's value for a name replaces the earlier one).
    var outputs: [(name: String, value: String)] = []
    private let outputParser = OutputLineParser()
    /// lm-evaluation-harness's Markdown results table, row by row.
    private var evalTable = LMEvalTableParser()
    /// The Trainer's `***** eval metrics *****` blocks, one reader per stream (stdout, stderr).
    private var trainerBlocks = [TrainerMetricsBlock(), TrainerMetricsBlock()]

    init(attempt: UInt64, parser: MetricLineParser) {
        self.attempt = attempt
        self.parser = parser
    }

    mutating func collect(_ line: UnsafeRawBufferPointer, stream: Int, time: Int64) {
        if let found = outputParser.parse(line) {
            for output in found { declare(output.name, output.value) }
        }
        // A table row starts with `|`; the first other line ends a table.
        if let first = line.first(where: { $0 != 0x20 && $0 != 0x09 }), first == UInt8(ascii: "|") || evalTable.isActive {
            collect(points: evalTable.parse(String(decoding: line, as: UTF8.self)), time: time)
        }
        let attempt = attempt
        parser.parse(line, using: &buffer) { name, value, step in
            downsampler.offer(nameBytes: name, step: step, value: value, time: time) {
                Self.queue($0, attempt, &seq, &pending)
            }
        }
        if trainerBlocks[stream].wants(line) {
            collect(points: trainerBlocks[stream].read(line), time: time)
        }
    }

    /// An output of the attempt (a later value for a name replaces the earlier one).
    mutating func declare(_ name: String, _ value: String) {
        outputs.removeAll { $0.name == name }
        outputs.append((name, value))
        // A job cannot grow the attempt's end without bound: the oldest names go first.
        if outputs.count > OutputLineParser.maxOutputs { outputs.removeFirst(outputs.count - OutputLineParser.maxOutputs) }
    }

    /// Points found other than on a metric line (an eval table, a results file).
    mutating func collect(points: [MetricPoint], time: Int64) {
        let attempt = attempt
        for point in points {
            var name = point.name
            name.withUTF8 { bytes in
                downsampler.offer(nameBytes: UnsafeRawBufferPointer(bytes), step: point.step, value: point.value, time: time) {
                    Self.queue($0, attempt, &seq, &pending)
                }
            }
        }
    }

    mutating func flush(now: Int64) {
        let attempt = attempt
        downsampler.flush(now: now) { Self.queue($0, attempt, &seq, &pending) }
    }

    mutating func finish() {
        let attempt = attempt
        downsampler.finish { Self.queue($0, attempt, &seq, &pending) }
    }

    /// Static, taking the fields it touches, so that the closures above capture those fields
    /// and not all of `self` (which holds the downsampler they are called from).
    private static func queue(
        _ point: MetricDownsampler.Point, _ attempt: UInt64, _ seq: inout UInt64, _ pending: inout [MetricSample]
    ) {
        seq += 1
        pending.append(MetricSample(
            attemptId: attempt, seq: seq, name: point.name, step: point.step, value: point.value, timeMs: point.time))
    }
}

/// The last sequence numbers an attempt produced, sent with its end.
struct AttemptOutputTotals: Sendable {
    var finalStdoutSeq: UInt64
    var finalStderrSeq: UInt64
    var finalMetricSeq: UInt64
    /// The end of stderr, then the end of stdout (see `AttemptEnd.logTail`).
    var logTail: [UInt8]
    /// The outputs the job declared (see `AttemptEnd.outputs`).
    var outputs: StringPairs = [:]
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

/// Finding and reading the result files a stage declares.
enum ResultFiles {
    /// The most bytes read from one file.
    static let maxBytes = 16 << 20

    /// The absolute path of `path` (relative to `workdir`); with `*` or `?` in its last part, the
    /// newest regular file that matches; `nil` when there is none.
    static func resolve(_ path: String, in workdir: String) -> String? {
        let absolute = path.hasPrefix("/") ? path : workdir + "/" + path
        guard absolute.contains("*") || absolute.contains("?") else { return absolute }
        var found = glob_t()
        defer { globfree(&found) }
        guard glob(absolute, 0, nil, &found) == 0 else { return nil }
        var newest: (String, Int)?
        for index in 0..<Int(found.gl_pathc) {
            guard let pointer = found.gl_pathv[index] else { continue }
            let candidate = String(cString: pointer)
            var info = stat()
            guard stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            let modified = info.st_mtim.tv_sec
            if newest.map({ modified > $0.1 || (modified == $0.1 && candidate > $0.0) }) ?? true { newest = (candidate, modified) }
        }
        return newest?.0
    }

    /// The file's bytes (at most `maxBytes`; a larger file is not read), without following a
    /// FIFO or blocking; `nil` when it is missing or not a regular file.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= maxBytes else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n <= 0 { break }
            count += n
        }
        return Array(bytes[..<count])
    }
}

