import Dispatch
import Synchronization

/// A short command run to its end with its output collected: a provenance probe (`git`,
/// `python3`), `nvidia-smi`, an admin command. It is a ``JobProcess`` like any job: no shell, its
/// own process group, its own reader thread, and a timeout after which its group is stopped
/// (SIGTERM, SIGKILL a second later). Each stream is kept up to a limit; the rest is read and
/// dropped, so a chatty command never blocks on a full pipe.
public enum ShortCommand {
    /// What came of a command.
    public struct Result: Sendable {
        public var status: JobExit.Status
        public var timedOut: Bool
        /// Standard output, at most the limit.
        public var stdout: [UInt8]
        /// Standard error, at most the limit.
        public var stderr: [UInt8]
        /// Whether either stream said more than the limit.
        public var cut: Bool

        /// Exited with status 0 within its time.
        public var succeeded: Bool { status == .exited(0) && !timedOut }

        /// The status as a shell reports it: the exit status, or 128 plus the signal.
        public var exitCode: Int32 {
            switch status {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            }
        }
    }

    /// Runs `arguments` (looked up in `environment`'s PATH) in `directory`, for at most
    /// `timeout`; nil when it cannot start. Waits without holding a thread of Swift's
    /// cooperative pool.
    public static func run(
        _ arguments: [String], environment: [String: String], in directory: String, timeout: Duration, limit: Int = 4 << 20
    ) async -> Result? {
        guard let (job, collected) = start(arguments, environment: environment, in: directory, timeout: timeout, limit: limit) else {
            return nil
        }
        let exit = await job.wait()
        return collected.result(exit)
    }

    /// ``run(_:environment:in:timeout:limit:)`` for synchronous code: blocks the calling thread.
    public static func runBlocking(
        _ arguments: [String], environment: [String: String], in directory: String, timeout: Duration, limit: Int = 4 << 20
    ) -> Result? {
        guard let (_, collected) = start(arguments, environment: environment, in: directory, timeout: timeout, limit: limit) else {
            return nil
        }
        return collected.result(collected.waitForExit())
    }

    private static func start(
        _ arguments: [String], environment: [String: String], in directory: String, timeout: Duration, limit: Int
    ) -> (JobProcess, Collected)? {
        let spec = JobSpec(
            arguments: arguments, environment: environment, workingDirectory: directory, timeout: timeout,
            timeoutGrace: .seconds(1), outputGrace: .seconds(1))
        let collected = Collected(limit: limit)
        guard let job = try? JobProcess.spawn(spec, handler: Collector(collected)) else { return nil }
        return (job, collected)
    }

    /// What the reader thread collected, shared with the caller.
    final class Collected: Sendable {
        struct State {
            var stdout: [UInt8] = []
            var stderr: [UInt8] = []
            var cut = false
            var exit: JobExit?
        }

        let limit: Int
        let state = Mutex(State())
        let ended = DispatchSemaphore(value: 0)

        init(limit: Int) { self.limit = limit }

        func waitForExit() -> JobExit {
            ended.wait()
            return state.withLock { $0.exit! }
        }

        func result(_ exit: JobExit) -> Result {
            state.withLock { state in
                Result(status: exit.status, timedOut: exit.timedOut, stdout: state.stdout, stderr: state.stderr, cut: state.cut)
            }
        }
    }

    /// The job's handler, on its reader thread.
    final class Collector: JobOutputHandler {
        let collected: Collected

        init(_ collected: Collected) { self.collected = collected }

        func output(stream: JobStream, bytes: UnsafeRawBufferPointer) {
            let limit = collected.limit
            collected.state.withLock { state in
                let room = limit - (stream == .stdout ? state.stdout.count : state.stderr.count)
                if bytes.count > room { state.cut = true }
                let kept = bytes.prefix(max(0, room))
                if stream == .stdout { state.stdout += kept } else { state.stderr += kept }
            }
        }

        func tick(now: ContinuousClock.Instant) {}

        func finished(_ exit: JobExit) {
            collected.state.withLock { $0.exit = exit }
            collected.ended.signal()
        }
    }
}
