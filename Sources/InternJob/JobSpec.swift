/// Everything needed to start one job process, and the supervision policy for it.
///
/// Nothing here passes through a shell: `arguments` becomes the child's argv
/// exactly, and `environment` becomes its complete environment. A caller that
/// wants shell syntax says so explicitly with `["/bin/sh", "-c", script]`.
public struct JobSpec: Sendable, Hashable {
    /// The program to run.
    ///
    /// A name without `/` is looked up in the `PATH` of `environment` (not the
    /// worker's own `PATH`); when `environment` has no `PATH`, `/bin:/usr/bin`
    /// is searched, as `execvp` does. A path with `/` is used as is; a relative
    /// one (like `./train.sh`), and relative `PATH` entries, are resolved
    /// against `workingDirectory`, which is what the child itself would see.
    public var executable: String

    /// The complete argv, including argv[0] (which need not equal `executable`).
    ///
    /// Each element arrives in the child as one argument, byte for byte. When
    /// empty, argv is `[executable]`.
    public var arguments: [String]

    /// The complete environment of the child: it inherits nothing else.
    ///
    /// Keys must be non-empty and contain neither `=` nor NUL; values must not
    /// contain NUL. Variables are passed sorted by key.
    public var environment: [String: String]

    /// The directory the child starts in. A relative path is taken relative to
    /// the worker's current directory at spawn time.
    public var workingDirectory: String

    /// Wall-clock limit measured from spawn; `nil` means no limit.
    ///
    /// When exceeded, the job is terminated as by
    /// `JobProcess.terminate(grace: timeoutGrace)` and its `JobExit.timedOut` is `true`.
    public var timeout: Duration?

    /// How long a timed-out job has between SIGTERM and SIGKILL (default 5 s).
    public var timeoutGrace: Duration

    /// How long output is still read after the direct child has exited (default 2 s).
    ///
    /// A descendant that keeps stdout or stderr open (a background process, a
    /// stuck data-loader worker) would otherwise keep the job alive forever.
    /// When this grace runs out, the process group is SIGKILLed, reading stops,
    /// whatever the pipes still hold is discarded, and `JobExit.outputCutOff` is `true`.
    public var outputGrace: Duration

    /// How often the resident memory of the job's process group is sampled
    /// from `/proc` for `JobExit.peakRSSBytes` (default 500 ms, at least 10 ms); nil: never (the
    /// peak is the leader's own, from `wait4`). A sample reads `/proc/PID/stat` of every process.
    public var memorySampleInterval: Duration?

    /// Creates a spec; only `arguments`, `environment` and `workingDirectory` are required.
    ///
    /// `executable` defaults to `arguments[0]`, the usual case.
    public init(
        executable: String? = nil,
        arguments: [String],
        environment: [String: String],
        workingDirectory: String,
        timeout: Duration? = nil,
        timeoutGrace: Duration = .seconds(5),
        outputGrace: Duration = .seconds(2),
        memorySampleInterval: Duration? = .milliseconds(500)
    ) {
        self.executable = executable ?? arguments.first ?? ""
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.timeoutGrace = timeoutGrace
        self.outputGrace = outputGrace
        self.memorySampleInterval = memorySampleInterval
    }
}
