import ArgumentParser
import Foundation
import InternCore
import InternProtocol
import InternJob
import InternWorker
import Logging
import ServiceLifecycle

/// `intern worker`: a worker process that runs attempts for a coordinator.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run attempts for a coordinator: dial it, pull one trial per free slot, stream logs back.",
        discussion: """
            The worker exits when the coordinator says the campaign is over. SIGTERM or SIGINT makes it \
            leave gracefully: no new work, running attempts get --drain-grace seconds, then their process \
            groups get SIGTERM and, --kill-grace seconds later, SIGKILL; they are reported `preempted` and \
            requeued elsewhere, and the worker exits 0. A second signal stops at once.
            """)

    @Option(name: .long, help: "The coordinator's URL: ipc:///path/coordinator.sock, tcp://host:7700 or tls+tcp://host:7700 (network URLs need --auth).")
    var connect: String

    @Option(name: .long, help: "How many attempts to run at once.")
    var slots: Int = 1

    @Option(name: .long, help: "This worker's stable identity (default: host name and process id).")
    var id: String?

    @Option(name: .long, help: "Seconds running attempts may go on after SIGTERM/SIGINT before they are stopped (preempted).")
    var drainGrace: Double = 10

    @Option(name: .long, help: "Seconds between SIGTERM and SIGKILL when a job is stopped (cancel, timeout, preemption).")
    var killGrace: Double = 5

    @Option(name: .long, help: "The worker's state directory: its spool and its list of running jobs (default: $TMPDIR/intern-UID/worker-ID).")
    var stateDir: String?

    @Option(name: .long, help: "MiB of unacknowledged compressed log the spool keeps before further output is counted as lost.")
    var spoolMib: Int = 1024

    @Option(name: .long, help: "GPU ids to offer, e.g. 0,1,2,3 (default: what nvidia-smi finds, restricted by CUDA_VISIBLE_DEVICES; 'none' for none).")
    var gpus: String?

    @Option(name: .long, help: "CPUs to offer attempts, for campaigns that set cpus: (default: the CPUs this process may run on).")
    var cpus: Int?

    @Option(name: .long, help: "Memory to offer attempts, e.g. 64GiB, for campaigns that set memory: (default: the cgroup's limit, else the host's memory).")
    var memory: String?

    @Option(name: .long, help: "Seconds without an answer from the coordinator after which an idle worker exits 1 (0: never).")
    var giveUpAfter: Double = 3600

    @Option(name: .long, help: ArgumentHelp("KiB of the spool kept in memory before frames go to disk.", visibility: .hidden))
    var spoolMemoryKib: Int = 16 << 10

    @OptionGroup var security: AuthOptions

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard slots >= 1 else { throw ValidationError("--slots must be at least 1") }
        guard drainGrace >= 0, drainGrace.isFinite else { throw ValidationError("--drain-grace must be >= 0 seconds") }
        guard killGrace >= 0, killGrace.isFinite else { throw ValidationError("--kill-grace must be >= 0 seconds") }
        guard spoolMib >= 1 else { throw ValidationError("--spool-mib must be at least 1") }
        if let id, id.isEmpty || id.utf8.count > 200 { throw ValidationError("--id must be 1 to 200 bytes") }
        if let cpus, cpus < 1 { throw ValidationError("--cpus must be at least 1") }
        if let memory, ByteSize.parse(memory) == nil {
            throw ValidationError("--memory \(memory) is not a size: give bytes or a number with a unit, e.g. 64GiB, 512Mi, 16G")
        }
    }

    func run() async throws {
        // A worker outlives whoever reads its output: `intern run` killed with kill -9 leaves its
        // local workers running (`intern resume` re-attaches their attempts), their standard
        // error a pipe nobody reads. Their next log line must not end them (SIGPIPE's default):
        // the write fails and the worker goes on. Its jobs start with every signal's default
        // (`spawnChild`).
        signal(SIGPIPE, SIG_IGN)
        global.bootstrapLogging()
        let identity = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let (credentials, tls) = try security.security(for: [connect], option: "--connect", side: .client)
        // Which build runs, for a journal or a pilot job's output (the coordinator says the same).
        Self.say("intern worker: intern \(InternVersion.description) as \(identity), joining \(connect)\n")
        do {
            let explicit: [String]? = gpus.map { $0 == "none" ? [] : $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            let inventory = GPUDiscovery.detect(explicit: explicit)
            // After GPU discovery (its helper is reaped by Foundation): from here on, what a job
            // leaves behind when it leaves its process group is re-parented here and stopped
            // with the job.
            if !Orphans.adoptOrphans() {
                Self.say("intern worker: cannot become the subreaper of its jobs (prctl): a job's process that calls setsid() outlives a timeout or a cancel\n")
            }
            if !inventory.gpus.isEmpty {
                let names = inventory.gpus.map { "\($0.index)\($0.name.isEmpty ? "" : " (\($0.name))")" }.joined(separator: ", ")
                Self.say("intern worker: offering GPUs \(names)\n")
            }
            var options = WorkerOptions(
                connect: connect, id: WorkerID(identity), slots: slots, gpus: inventory.ids, terminationGraceMillis: Int(killGrace * 1000),
                drainGraceMillis: Int(drainGrace * 1000), stateDirectory: stateDir ?? Self.defaultStateDirectory(id: identity),
                spoolLimitBytes: spoolMib << 20, spoolMemoryBytes: max(0, spoolMemoryKib) << 10,
                giveUpMillis: Int(max(0, giveUpAfter) * 1000), credentials: credentials, tls: tls)
            options.resources = WorkerResources(
                cpus: cpus ?? HostResources.cpus(), memoryBytes: memory.flatMap(ByteSize.parse) ?? HostResources.memoryBytes())
            let worker = try Worker(options: options, logger: Logger(label: "intern.worker"))
            let lifecycle = ProcessLifecycle(
                services: [.init(service: WorkerService(worker: worker), successTerminationBehavior: .gracefullyShutdownGroup,
                                 failureTerminationBehavior: .cancelGroup, serviceName: "worker")],
                // Leaving ends within the worker's own deadline (drain grace, kill grace, the
                // flush and half a second); then its socket closes within 5 s; 0.5 s to spare.
                maximumGracefulShutdownDuration: .milliseconds(options.drainGraceMillis + options.terminationGraceMillis + options.leaveFlushMillis)
                    + .seconds(6),
                // Cancelled, it stops its jobs (kill grace, then 2 s for the SIGKILLed ones) and
                // closes its socket (at most 5 s).
                maximumCancellationDuration: .milliseconds(options.terminationGraceMillis) + .seconds(10))
            if try await lifecycle.run() == .stoppedAtOnce {
                Self.say("intern worker: stopped at once (a second signal, or leaving took too long); its jobs were stopped\n")
                throw ExitCode(ExitCodes.failure)
            }
        } catch let error as WorkerError {
            Self.say("intern worker: \(error.message)\n")
            throw ExitCode(ExitCodes.failure)
        }
    }

    /// Writes a line of the worker's own to standard error; nobody reading it (see `run`) is no
    /// error (`FileHandle.write` would trap on it).
    static func say(_ line: String) {
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// `$TMPDIR/intern-UID/worker-ID` (local disk on most clusters; `$HOME` is often NFS), with
    /// the id's characters outside `[A-Za-z0-9._-]` replaced by `_`.
    static func defaultStateDirectory(id: String) -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let safe = String(id.map { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || "._-".contains($0) ? $0 : "_" })
        return "\(base)/intern-\(getuid())/worker-\(safe)"
    }
}
