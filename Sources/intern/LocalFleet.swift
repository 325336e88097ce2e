import Foundation
import InternCore
import InternJob
import Logging

/// The local worker processes of `intern run`: this same executable started as
/// `intern worker --connect URL --id local-N`, each with its output in a log file.
struct LocalFleet: Sendable {
    let jobs: [JobProcess]

    /// Spawns `count` workers (posix_spawn: this process already uses NNG and must not fork).
    static func start(count: Int, slots: Int, connect: String, logDirectory: String, logLevel: Logger.Level) throws -> LocalFleet {
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var jobs: [JobProcess] = []
        var index = 0
        while jobs.count < count {
            index += 1
            // A `local-N` still alive from a previous `intern run` that was killed holds its state
            // directory: it re-attaches by itself; the new worker takes the next free number.
            guard Self.stateDirectoryIsFree("\(logDirectory)/local-\(index)") else { continue }
            // No drain grace: when `intern run` is interrupted its workers stop their jobs at once.
            // Their state (spool, job list) lives in the campaign directory: two campaigns run side
            // by side never share a `local-N` state directory.
            let arguments = [executable, "worker", "--connect", connect, "--id", "local-\(index)", "--slots", String(slots),
                             "--drain-grace", "0", "--kill-grace", String(Self.killGrace.components.seconds), "--state-dir", "\(logDirectory)/local-\(index)", "--give-up-after", "300",
                             "--log-level", logLevel.rawValue]
            // No memory samples: each reads every process's `/proc/PID/stat`, twice a second per
            // worker for the whole campaign, and nobody reads a local worker's peak memory.
            let spec = JobSpec(
                arguments: arguments, environment: ProcessInfo.processInfo.environment,
                workingDirectory: FileManager.default.currentDirectoryPath, memorySampleInterval: nil)
            let log = try FileOutput(path: "\(logDirectory)/local-\(index).log")
            jobs.append(try JobProcess.spawn(spec, handler: log))
        }
        return LocalFleet(jobs: jobs)
    }

    /// Whether no worker holds this state directory's lock (probed, then released at once).
    private static func stateDirectoryIsFree(_ directory: String) -> Bool {
        let fd = open("\(directory)/lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return true }  // never used
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        flock(fd, LOCK_UN)
        return true
    }

    /// Tells every worker to leave (SIGTERM; SIGKILL if still there 30 s later): each stops its
    /// jobs, reports them and exits.
    func leave() {
        for job in jobs where job.exit == nil { job.terminate(grace: .seconds(30)) }
    }

    /// Stops every worker still running (SIGTERM now, SIGKILL 5 s later) and waits until all have
    /// exited, which the SIGKILL bounds.
    func stop() async {
        for job in jobs where job.exit == nil { job.terminate(grace: .seconds(5)) }
        for job in jobs { _ = await job.wait() }
    }

    /// Waits until every worker has exited, or `timeout` has passed (never, without one), and says
    /// whether they all have. Throws `CancellationError` when the task is cancelled. Returns as
    /// the last worker is reaped: `intern run` ends as soon as its campaign does.
    func waitUntilExited(timeout: Duration? = nil) async throws -> Bool {
        // Far enough never to come: no timeout.
        let deadline = ContinuousClock.now + (timeout ?? .seconds(100 * 365 * 86_400))
        let exited = Alarm()
        let jobs = self.jobs
        // Not cancellable (`JobProcess.wait`): it ends when the workers do, whoever waits.
        Task {
            for job in jobs { _ = await job.wait() }
            exited.ring()
        }
        while jobs.contains(where: { $0.exit == nil }) {
            try Task.checkCancellation()
            if ContinuousClock.now >= deadline { return false }
            await exited.wait(until: deadline)
        }
        return true
    }

    /// At most how long a local worker takes to leave once told to: no drain grace, `killGrace`
    /// for its jobs, the worker's 5 s to deliver what it has not had acknowledged (plus 0.5 s), and
    /// up to 5 s to close its socket.
    static let leaveBound: Duration = killGrace + .milliseconds(5_500) + .seconds(5)

    /// How long a local worker's jobs get between SIGTERM and SIGKILL (the worker's default).
    static let killGrace: Duration = .seconds(5)
}

/// Writes a worker's output to a file (on the worker's reader thread).
final class FileOutput: JobOutputHandler {
    private let handle: FileHandle

    init(path: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    func output(stream: JobStream, bytes: UnsafeRawBufferPointer) {
        handle.write(Data(bytes))
    }

    func tick(now _: ContinuousClock.Instant) {}

    func finished(_ exit: JobExit) {
        try? handle.close()
    }
}
