#if canImport(Glibc)
import Glibc
#endif
import InternJob
import Synchronization
import Testing

/// A handler with plain mutable, non-`Sendable` state, as a caller with a
/// zstd compressor would write it; results leave through a `Mutex` in `finished`.
final class HashingHandler: JobOutputHandler {
    struct Result: Sendable {
        var stdout: UInt64
        var stdoutCount: Int
        var stderr: UInt64
        var stderrCount: Int
        var ticks: Int
        var threads: Set<UInt>
        var exit: JobExit
    }

    private var stdout = StreamHash()
    private var stderr = StreamHash()
    private var ticks = 0
    private var threads: Set<UInt> = []
    /// Where `finished` publishes the result for the test task.
    final class Sink: Sendable {
        let result = Mutex<Result?>(nil)
    }

    private let sink: Sink

    init(sink: Sink) {
        self.sink = sink
    }

    func output(stream: JobStream, bytes: UnsafeRawBufferPointer) {
        threads.insert(UInt(pthread_self()))
        switch stream {
        case .stdout: stdout.add(bytes)
        case .stderr: stderr.add(bytes)
        }
    }

    func tick(now: ContinuousClock.Instant) {
        threads.insert(UInt(pthread_self()))
        ticks += 1
    }

    func finished(_ exit: JobExit) {
        threads.insert(UInt(pthread_self()))
        let result = Result(
            stdout: stdout.final, stdoutCount: stdout.count, stderr: stderr.final,
            stderrCount: stderr.count, ticks: ticks, threads: threads, exit: exit)
        sink.result.withLock { $0 = result }
    }
}

extension JobTests {
    @Test func stdoutAndStderrAreCapturedSeparatelyByteForByte() async throws {
        let script = """
            import sys
            data = bytes(range(256)) * 4096 + b"\\0" * 1000 + b"\\r\\n\\xff"
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            sys.stderr.buffer.write(data[::-1])
            """
        let (exit, capture) = try await run(job([python, "-c", script]))
        var expected = [UInt8]()
        for _ in 0..<4096 { expected.append(contentsOf: (0...255).map { UInt8($0) }) }
        expected.append(contentsOf: [UInt8](repeating: 0, count: 1000) + [13, 10, 255])
        #expect(exit.status == .exited(0))
        #expect(capture.stdout == expected)
        #expect(capture.stderr == Array(expected.reversed()))
    }

    @Test func randomBinaryOutputWithNULsArrivesIntactOnBothStreams() async throws {
        let (exit, capture) = try await run(shell("head -c 1000000 /dev/urandom | tee /dev/stderr"))
        #expect(exit.status == .exited(0))
        #expect(capture.stdout.count == 1_000_000)
        #expect(capture.stdout.contains(0))
        #expect(capture.stdout == capture.stderr)
    }

    @Test func fiftyMegabytesPerStreamPassThroughAThreadConfinedHandler() async throws {
        let sink = HashingHandler.Sink()
        let process = try JobProcess.spawn(
            shell("head -c 50000000 /dev/urandom | tee /dev/stderr"), handler: HashingHandler(sink: sink))
        let exit = await process.wait()
        let result = try #require(sink.result.withLock { $0 })
        #expect(exit.status == .exited(0))
        #expect(result.exit == exit)
        #expect(result.stdoutCount == 50_000_000)
        #expect(result.stderrCount == 50_000_000)
        #expect(result.stdout == result.stderr)
        #expect(result.threads.count == 1)
        #expect(!result.threads.contains(UInt(pthread_self())))
    }

    @Test func interleavedWritesKeepEachStreamInOrder() async throws {
        let script = """
            import sys
            for i in range(3000):
                sys.stdout.write(f"out {i}\\n"); sys.stdout.flush()
                sys.stderr.write(f"err {i}\\n"); sys.stderr.flush()
            """
        let (exit, capture) = try await run(job([python, "-c", script]))
        #expect(exit.status == .exited(0))
        #expect(capture.stdoutText == (0..<3000).map { "out \($0)\n" }.joined())
        #expect(capture.stderrText == (0..<3000).map { "err \($0)\n" }.joined())
    }

    @Test func allHandlerCallsHappenOnOneReaderThreadAndFinishedComesLast() async throws {
        let (exit, capture) = try await run(shell("echo a; sleep 0.3; echo b >&2"), tickInterval: .milliseconds(50))
        #expect(exit.status == .exited(0))
        let state = capture.state.withLock { $0 }
        #expect(state.threads.count == 1)
        #expect(state.finishedCalls == 1)
        #expect(state.callsAfterFinished == 0)
        #expect(state.ticks.count >= 3)
        #expect(capture.stdoutText == "a\n")
        #expect(capture.stderrText == "b\n")
    }

    @Test func ticksArriveWhileTheJobIsSilent() async throws {
        let (exit, capture) = try await run(job(["/bin/sleep", "1"]), tickInterval: .milliseconds(250))
        #expect(exit.status == .exited(0))
        let ticks = capture.state.withLock { $0.ticks }
        #expect(ticks.count >= 3)
        #expect(capture.stdout.isEmpty && capture.stderr.isEmpty)
        // On a schedule, not bunched (a late tick is not followed by a burst of catch-up ticks).
        for (a, b) in zip(ticks, ticks.dropFirst()) {
            #expect(b - a >= .milliseconds(100))
        }
    }

    @Test func ticksKeepComingWhileOutputStreams() async throws {
        let script = """
            import sys, time
            t = time.time()
            while time.time() - t < 1.0:
                sys.stdout.write("x" * 4096); sys.stdout.flush(); time.sleep(0.001)
            """
        let (exit, capture) = try await run(job([python, "-c", script]), tickInterval: .milliseconds(250))
        #expect(exit.status == .exited(0))
        #expect(capture.stdout.count > 100_000)  // about 1 s of steady output
        #expect(capture.state.withLock { $0.ticks.count } >= 3)
    }
}
