import InternJob
import Synchronization
import Testing

/// Counts the reads the reader thread hands over, and their bytes.
final class CountingHandler: JobOutputHandler {
    final class Sink: Sendable {
        let counts = Mutex<(calls: Int, bytes: Int)?>(nil)
    }

    private var calls = 0
    private var bytes = 0
    private let sink: Sink

    init(sink: Sink) {
        self.sink = sink
    }

    func output(stream: JobStream, bytes: UnsafeRawBufferPointer) {
        calls += 1
        self.bytes += bytes.count
    }

    func tick(now: ContinuousClock.Instant) {}

    func finished(_ exit: JobExit) {
        let result = (calls, bytes)
        sink.counts.withLock { $0 = result }
    }
}

extension JobTests {
    /// A job that writes line by line, unbuffered, is read in batches: a read that found the pipe
    /// nearly empty rests the pipes a moment, so one read takes many lines (one poll and one read
    /// per line was most of a worker's CPU on such jobs). Every byte still arrives.
    @Test func aJobWritingLineByLine_isReadInBatches_andEveryByteArrives() async throws {
        // A line every 50 µs (a training loop's pace, not a tight loop's): unbatched, each line
        // would be a read of its own.
        let lines = 5_000
        let script = """
            import sys, time
            for i in range(\(lines)):
                sys.stdout.write('{"step": %d, "loss": 0.5}\\n' % i)
                t = time.perf_counter()
                while time.perf_counter() - t < 5e-5: pass
            """
        let sink = CountingHandler.Sink()
        var spec = job([python, "-c", script])
        spec.environment["PYTHONUNBUFFERED"] = "1"
        let process = try JobProcess.spawn(spec, handler: CountingHandler(sink: sink))
        let exit = await process.wait()
        let counts = try #require(sink.counts.withLock { $0 })
        #expect(exit.status == .exited(0))
        let expected = (0..<lines).reduce(0) { $0 + "{\"step\": \($1), \"loss\": 0.5}\n".utf8.count }
        #expect(counts.bytes == expected)
        #expect(counts.calls < lines / 4, "\(counts.calls) reads for \(lines) lines")
    }
}
