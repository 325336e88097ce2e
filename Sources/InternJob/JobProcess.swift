#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One running job: a child process in its own process group, supervised by
/// one dedicated reader thread.
///
/// Lifecycle: `spawn` starts the child and the reader thread. The thread
/// drains stdout and stderr into the `JobOutputHandler`, calls its `tick`,
/// enforces the timeout and the termination grace, samples memory, and —
/// once the child has exited and both pipes are at EOF (or `outputGrace` ran
/// out) — SIGKILLs whatever is left in the process group, reaps the child with
/// `wait4`, closes every descriptor, calls `finished`, resumes `wait()`ers and
/// ends. After that no process, zombie, descriptor or thread of the job remains
/// in its group; in a process that adopts orphans (``Orphans``), the thread then
/// stops those of its processes that left the group, before it ends.
///
/// Dropping the `JobProcess` does not stop the job: it runs to its end and the
/// handler still gets `finished`. Call `terminate` or `kill` to stop it.
///
/// Thread safety: every method may be called from any thread or task. The
/// stored properties are immutable; the only shared mutable state lives in a
/// `Mutex` inside `JobControl`, so the class is `Sendable` without `@unchecked`.
public final class JobProcess: Sendable {
    /// The child's process ID, which is also its process group ID.
    public let pid: Int32
    /// The spec the job was started from.
    public let spec: JobSpec
    /// The file that was executed (after `PATH` lookup, absolute when resolved
    /// through `PATH` or relative to the working directory).
    public let executablePath: String
    /// Wall-clock time of the spawn, in milliseconds since the Unix epoch.
    public let startedAt: Int64

    private let control: JobControl

    private static let liveReaders = Atomic<Int>(0)

    /// How many job reader threads exist right now in this process (for
    /// health reports and leak tests). Decremented as the very last thing a
    /// reader thread does, so it may lag `finished` by a moment.
    public static var activeReaderThreads: Int {
        liveReaders.load(ordering: .relaxed)
    }

    private init(pid: Int32, spec: JobSpec, executablePath: String, startedAt: Int64, control: JobControl) {
        self.pid = pid
        self.spec = spec
        self.executablePath = executablePath
        self.startedAt = startedAt
        self.control = control
    }

    /// Starts a job and its reader thread.
    ///
    /// - Parameters:
    ///   - spec: what to run; see `JobSpec`.
    ///   - handler: receives output, ticks and the final `JobExit`. It is sent
    ///     to the reader thread and only ever called (and finally released)
    ///     there, so it may own non-`Sendable` state; see `JobOutputHandler`.
    ///   - tickInterval: how often `handler.tick(now:)` is called (at least 1 ms).
    /// - Returns: the running job; the spawn has succeeded when this returns.
    /// - Throws: `JobError` when the job cannot start. Then no child exists,
    ///   nothing leaked, and `handler` is released without any call.
    public static func spawn<Handler: JobOutputHandler>(
        _ spec: JobSpec,
        handler: sending Handler,
        tickInterval: Duration = .milliseconds(250)
    ) throws(JobError) -> JobProcess {
        let start = ContinuousClock.now
        let startedAtUnixMs = unixMilliseconds()
        // In a process that adopts its jobs' orphans, the job's descendants carry its token.
        var spec = spec
        if let token = Orphans.newToken() { spec.environment[Orphans.tokenVariable] = token }
        let child = try Orphans.spawnLeader({ () throws(JobError) in try spawnChild(spec) }, pid: { $0.pid })

        let wake: (read: Int32, write: Int32)
        do {
            wake = try makePipe(extraFlags: O_NONBLOCK).get()
        } catch {
            abandon(child)
            throw error
        }
        // pidfd: the reader's poll wakes the moment the child exits. Optional:
        // without it (old kernel/glibc) exit is noticed by waitid polling.
        let pidfd = GNU.pidfdOpen.map { $0(child.pid, 0) } ?? -1

        let control = JobControl(pgid: child.pid, wakeWrite: wake.write)
        let reader = JobReader(
            handler: handler, control: control, spec: spec, child: child,
            pidfd: pidfd, wakeRead: wake.read, tickInterval: tickInterval,
            start: start, startedAtUnixMs: startedAtUnixMs)
        liveReaders.add(1, ordering: .relaxed)
        let rc = startDetachedThread { [pid = child.pid] in
            _ = GNU.setThreadName?(pthread_self(), "job \(pid)")
            reader.run()
            JobProcess.liveReaders.subtract(1, ordering: .relaxed)
        }
        if rc != 0 {
            liveReaders.subtract(1, ordering: .relaxed)
            // The reader (and the handler in it) was released without running;
            // its descriptors are closed here.
            closeIfOpen(pidfd)
            closeIfOpen(wake.read)
            closeIfOpen(wake.write)
            abandon(child)
            throw JobError.make(.spawnFailed, rc, path: child.executablePath, "cannot start the reader thread")
        }
        return JobProcess(
            pid: child.pid, spec: spec, executablePath: child.executablePath,
            startedAt: startedAtUnixMs, control: control)
    }

    /// Kills and reaps a child whose supervision could not be set up.
    private static func abandon(_ child: SpawnedChild) {
        _ = Glibc.kill(-child.pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        Orphans.reaped(leader: child.pid)
        closeIfOpen(child.stdoutRead)
        closeIfOpen(child.stderrRead)
    }

    /// Asks the whole process group to stop: SIGTERM now, SIGKILL after `grace`.
    ///
    /// Idempotent and callable from any thread: only the first call sends
    /// SIGTERM; a later call with a shorter grace moves the SIGKILL earlier, a
    /// longer one changes nothing. A no-op once the job has ended. The SIGKILL
    /// is sent by the reader thread, so it is late by as long as a handler
    /// call takes.
    public func terminate(grace: Duration) {
        control.terminate(grace: grace)
    }

    /// SIGKILLs the whole process group now. Idempotent; a no-op once the job has ended.
    public func kill() {
        control.killNow()
    }

    /// The job's report once it has ended (after `finished` was called), `nil` while it runs.
    public var exit: JobExit? {
        control.state.withLock { $0.exit }
    }

    /// Waits for the job to end and returns its report.
    ///
    /// Resumed from the reader thread right after `handler.finished`. Not
    /// cancellable: cancelling the task does not stop the job (call `terminate`).
    public func wait() async -> JobExit {
        await withCheckedContinuation { (continuation: CheckedContinuation<JobExit, Never>) in
            let done: JobExit? = control.state.withLock { state in
                if let exit = state.exit { return exit }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}

/// The state shared between a `JobProcess` (any thread) and its reader thread.
///
/// Invariant that makes signalling safe: signals go to `-pgid` only while
/// `signalsAllowed` is true, checked and sent under the lock. The reader
/// clears it, under the lock, before it reaps the child; until then the child
/// is at worst a zombie, which keeps its pid — and thus the pgid — from being
/// reused, so a signal can never reach an unrelated process group.
final class JobControl: Sendable {
    struct State {
        var signalsAllowed = true
        var terminationRequested = false
        var killDeadline: ContinuousClock.Instant?
        var wakeWrite: Int32
        var exit: JobExit?
        var waiters: [CheckedContinuation<JobExit, Never>] = []
    }

    let pgid: pid_t
    let state: Mutex<State>

    init(pgid: pid_t, wakeWrite: Int32) {
        self.pgid = pgid
        self.state = Mutex(State(wakeWrite: wakeWrite))
    }

    func terminate(grace: Duration) {
        let deadline = ContinuousClock.now + max(grace, .zero)
        state.withLock { s in
            guard s.signalsAllowed else { return }
            if !s.terminationRequested {
                s.terminationRequested = true
                _ = Glibc.kill(-pgid, SIGTERM)
            }
            if s.killDeadline.map({ deadline < $0 }) ?? true {
                s.killDeadline = deadline
                Self.wake(s.wakeWrite)
            }
        }
    }

    func killNow() {
        state.withLock { s in
            guard s.signalsAllowed else { return }
            s.terminationRequested = true
            _ = Glibc.kill(-pgid, SIGKILL)
        }
    }

    /// Sends SIGKILL to the group if signalling is still allowed (reader thread).
    func sendKill() {
        state.withLock { s in
            if s.signalsAllowed { _ = Glibc.kill(-pgid, SIGKILL) }
        }
    }

    private static func wake(_ fd: Int32) {
        var byte: UInt8 = 1
        // Non-blocking: a full pipe already means a wake-up is pending.
        _ = write(fd, &byte, 1)
    }
}

/// Owns a closure that must run on a new thread.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Runs `body` on a new detached pthread; returns 0 or the pthread_create error.
///
/// `body` is `sending`: the caller gives up all access to what it captures,
/// so moving it to the new thread through a raw pointer is race-free.
private func startDetachedThread(_ body: sending @escaping () -> Void) -> Int32 {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    defer { pthread_attr_destroy(&attr) }
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, &attr,
        { raw in
            let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, box)
    if rc != 0 {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
    }
    return rc
}
