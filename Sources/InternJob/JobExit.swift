/// Which of a job's two output pipes a chunk of bytes came from.
public enum JobStream: Sendable, Hashable, CustomStringConvertible {
    /// The child's file descriptor 1.
    case stdout
    /// The child's file descriptor 2.
    case stderr

    /// `"stdout"` or `"stderr"`.
    public var description: String {
        switch self {
        case .stdout: "stdout"
        case .stderr: "stderr"
        }
    }
}

/// How a job ended and what it cost, reported once per job.
public struct JobExit: Sendable, Hashable {
    /// How the direct child process ended, as reported by `wait4`.
    public enum Status: Sendable, Hashable, CustomStringConvertible {
        /// The process called `exit` with this code (0...255).
        ///
        /// `-1` means the status was lost because something other than this
        /// library reaped the child (for example SIGCHLD set to SIG_IGN in the worker).
        case exited(Int32)
        /// The process was killed by this signal number.
        case signaled(Int32)

        /// `exited(7)` or `signaled(9)`.
        public var description: String {
            switch self {
            case .exited(let code): "exited(\(code))"
            case .signaled(let signal): "signaled(\(signal))"
            }
        }
    }

    /// How the direct child ended.
    public var status: Status
    /// The spec's `timeout` ran out, so the job was terminated (the signal shows in `status`).
    public var timedOut: Bool
    /// `terminate`, `kill` or the timeout asked the job to stop before it ended.
    public var terminationRequested: Bool
    /// Descendants kept stdout/stderr open for longer than the spec's
    /// `outputGrace` after the direct child exited; the group was SIGKILLed and
    /// any output they had not yet written, or that was still unread, is lost.
    public var outputCutOff: Bool
    /// Monotonic seconds from just before the spawn to the reaping of the child.
    public var wallSeconds: Double
    /// User CPU time of the child and of the descendants it waited for (`wait4` rusage).
    public var userCPUSeconds: Double
    /// System CPU time of the child and of the descendants it waited for (`wait4` rusage).
    public var systemCPUSeconds: Double
    /// Peak resident memory of the job, in bytes.
    ///
    /// The larger of: the highest sum of RSS over all processes in the job's
    /// process group seen by periodic `/proc` sampling (catches concurrent
    /// workers; shared pages are counted once per process), and `wait4`'s
    /// `ru_maxrss` (exact, but the maximum of single processes, not a sum).
    public var peakRSSBytes: UInt64
    /// Wall-clock time of the spawn, in milliseconds since the Unix epoch.
    public var startedAt: Int64
    /// Wall-clock time of the reaping, in milliseconds since the Unix epoch.
    public var endedAt: Int64

    /// Creates a report; the library builds these, tests and fakes may too.
    public init(
        status: Status, timedOut: Bool = false, terminationRequested: Bool = false,
        outputCutOff: Bool = false, wallSeconds: Double = 0, userCPUSeconds: Double = 0,
        systemCPUSeconds: Double = 0, peakRSSBytes: UInt64 = 0,
        startedAt: Int64 = 0, endedAt: Int64 = 0
    ) {
        self.status = status
        self.timedOut = timedOut
        self.terminationRequested = terminationRequested
        self.outputCutOff = outputCutOff
        self.wallSeconds = wallSeconds
        self.userCPUSeconds = userCPUSeconds
        self.systemCPUSeconds = systemCPUSeconds
        self.peakRSSBytes = peakRSSBytes
        self.startedAt = startedAt
        self.endedAt = endedAt
    }

    /// `true` when the job exited with code 0 and did not time out.
    public var succeeded: Bool {
        status == .exited(0) && !timedOut
    }
}

/// Receives a job's output, periodic ticks and final report, all on the job's reader thread.
///
/// Threading contract: the object passed to `JobProcess.spawn` is handed
/// over (`sending`) to the job's one dedicated reader thread. Every call —
/// `output`, `tick`, `finished` — happens on that thread, one at a time and
/// in order, and the object is released on that thread after `finished`.
/// It may therefore hold non-`Sendable`, thread-confined state (a zstd
/// compressor, a line splitter) without locks, as long as nothing else keeps
/// a reference to that state. Results leave through something `Sendable`
/// (a `Mutex`, a continuation, an `AsyncStream` continuation).
///
/// The `SendableMetatype` refinement rules out actor-isolated conformances:
/// the methods are called on a plain thread, never on an actor's executor.
///
/// Calls must return promptly: while one runs, the pipes are not drained
/// (the job blocks once a pipe's buffer, 1 MiB where the system allows, is full), and ticks, timeouts
/// and the SIGKILL after a `terminate` grace wait for it.
public protocol JobOutputHandler: AnyObject, SendableMetatype {
    /// A chunk read from stdout or stderr (at most 256 KiB).
    ///
    /// `bytes` is only valid during the call; copy what must be kept.
    /// Chunks of one stream arrive in order; the relative order of stdout and
    /// stderr chunks is only as good as the reads that saw them.
    func output(stream: JobStream, bytes: UnsafeRawBufferPointer)

    /// Called every `tickInterval` from spawn until the job ends, even when it
    /// is silent or output is streaming (missed ticks are skipped, not bunched).
    /// `now` is the monotonic time the tick fired. Deliberately without a
    /// default implementation, so a misspelt `tick` cannot silently never run.
    func tick(now: ContinuousClock.Instant)

    /// Called exactly once, after all output was delivered and the child reaped.
    /// No call follows it.
    func finished(_ exit: JobExit)
}
