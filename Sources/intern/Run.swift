import ArgumentParser
import Foundation
import InternAuth
import InternCoordinator
import InternCore
import InternLab
import InternReport
import InternStore
import Logging

/// `intern run`: the embedded mode — a coordinator and N local worker processes.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a campaign here: a coordinator plus N local worker processes over ipc://.",
        discussion: """
            The store lands in ROOT/<campaign>/ (default ./.intern/<campaign>/). Running the same \
            campaign again continues it: finished trials are kept, the rest run.

            Exit status: 0 finished with at least one completed trial, 3 finished with none, \
            4 finished but no trial reported the objective (its name is wrong, or the job does not print it), \
            1 interrupted or failed, 64 bad usage or campaign file.
            """)

    @Argument(help: "The campaign spec (YAML).")
    var campaign: String

    @OptionGroup var fleet: LocalFleetOptions

    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    @Option(name: .long, help: "Write run statistics (wall time, coordinator CPU time, bytes ingested) as JSON to this file.")
    var stats: String?

    @OptionGroup var tuning: CoordinatorTuning

    @OptionGroup var dashboard: DashboardOptions

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        global.bootstrapLogging()
        let file = try CampaignFile.load(campaign)
        try await runLocally(file: file, directory: file.directory(root: root))
    }

    /// Runs (or continues) the campaign in `directory` with a local fleet: `intern run` and
    /// `intern resume` alike.
    func runLocally(file: CampaignFile, directory: String) async throws {
        let url = try defaultIPCURL(directory: directory)
        var options = tuning.options(listen: [url])
        // The campaign's credentials when the environment names them: the local workers find them
        // there too and seal what they send, and --http steers with their token.
        options.credentials = try Self.environmentCredentials()
        let session = try CampaignSession(file: file, directory: directory, listen: [url], logger: Logger(label: "intern.coordinator"),
                                          options: options, access: tuning.access)
        // Before any worker starts: a dashboard that may not listen where asked stops the run here.
        let dashboardService = try dashboard.service(
            root: session.root, campaign: file.spec.name, credentials: options.credentials, measurements: session.coordinator.measurements)
        let started = Date()
        let cpuBefore = processCPUSeconds()

        // Listening before any worker starts: a coordinator that cannot (the address is taken)
        // stops the run here, and no local worker ever dials a socket that is not this one's.
        try await session.coordinator.listen()
        // A campaign that is already over (run again) needs no workers: just its summary.
        let alreadyFinished = await session.coordinator.snapshot().isFinished
        let fleet = try LocalFleet.start(count: alreadyFinished ? 0 : self.fleet.workers, slots: self.fleet.slots, connect: url, logDirectory: "\(session.store.directory)/workers",
                                         logLevel: global.logLevel)
        if !self.fleet.quiet { print("running \(file.spec.name): \(file.spec.trials) trials\(file.spec.isPipeline ? " in stage \(file.spec.stages[0].name), then " + file.spec.laterStages.map(\.name).joined(separator: ", ") : "") on \(self.fleet.workers) local workers; store \(session.store.directory)"); fflush(nil) }
        // Ctrl-C or SIGTERM: the workers leave first (their jobs are stopped and reported
        // preempted to the coordinator, which records it), then the coordinator stops. Once the
        // campaign is over the workers exit by themselves; stragglers are stopped.
        let outcome = try await session.run(display: ProgressDisplay(quiet: self.fleet.quiet), fleet: fleet, dashboard: dashboardService)
        // The lab learns of the campaign as it ends (its failures, its best), without waiting for a lab command.
        LabLookup.record(campaign: session.store.directory, now: unixMillisNow())

        if let stats {
            let coordinatorCPU = processCPUSeconds() - cpuBefore
            let (raw, stored, frames) = (try? session.store.logTotals()) ?? (0, 0, 0)
            let object: [String: Any] = [
                "campaign": file.spec.name, "trials": file.spec.trials, "workers": self.fleet.workers,
                "wall_seconds": Date().timeIntervalSince(started), "coordinator_cpu_seconds": coordinatorCPU,
                "completed": outcome.snapshot.progress.completed, "failed": outcome.snapshot.progress.failed,
                "log_raw_bytes": raw, "log_stored_bytes": stored, "log_frames": frames,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            try data.write(to: URL(fileURLWithPath: stats))
        }
        throw ExitCode(outcome.exitCode)
    }
}

extension Run {
    /// The credentials `$INTERN_AUTH_DIR` or `$INTERN_SECRET` name, as `intern worker` finds them
    /// (nil when neither is set); a usage error when they cannot be used.
    static func environmentCredentials() throws -> Credentials? {
        do {
            return try Credentials.resolve(directory: nil)
        } catch {
            throw ValidationError(error.message)
        }
    }
}

/// CPU time (user + system) this process has used so far: the coordinator's own cost, since
/// the workers are separate processes.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// `intern resume`: continues a campaign from its directory, with the spec stored there.
struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a campaign: unpause it if its coordinator runs (`intern pause`), else continue it from its directory (after a crash, a kill -9, a stop).",
        discussion: """
            While the campaign's coordinator runs, `intern resume` lifts an `intern pause`. Otherwise it reads the spec the campaign was started with from its store (campaign.db), starts the coordinator \
            on the directory and N local workers. Completed and failed trials are kept, attempts that workers \
            still run re-attach, no trial is drawn twice, the rest is dispatched. Use `intern coordinator` with \
            the same spec and root to continue with remote workers instead.
            """)

    @Argument(help: "The campaign directory (default: the only campaign under --root).")
    var directory: String?

    @Option(name: .customLong("dir"), help: "The campaign directory, as for the other admin commands (same as the argument).")
    var dirOption: String?

    @OptionGroup var fleet: LocalFleetOptions

    @Option(name: .long, help: "Where campaign directories live (to find the campaign when no directory is given).")
    var root: String = ".intern"

    @OptionGroup var tuning: CoordinatorTuning

    @OptionGroup var remote: RemoteOptions

    @OptionGroup var who: ActorOption

    @OptionGroup var dashboard: DashboardOptions

    @Flag(name: .customLong("if-running"), help: "Only lift a pause of a running coordinator; never start one.")
    var ifRunning = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        if try await remote.forward() { return }
        global.bootstrapLogging()
        let location = try CampaignLocation.parse((directory ?? dirOption).map { ["--dir", $0] } ?? ["--root", root])
        let store = try location.open()
        guard let info = try store.info() else { throw ValidationError("\(store.directory) holds no campaign") }
        if CampaignStatus.coordinatorRunning(info, now: unixMillisNow()) {
            try await submitControl(location: location, kind: .resumeCampaign, target: "", who: who)
            return
        }
        if ifRunning {
            throw ValidationError("no coordinator runs this campaign: there is no pause to lift (`intern resume` without --if-running continues the campaign)")
        }
        if info.paused {
            // Resuming a stopped campaign also lifts its pause.
            let writable = try CampaignStore(directory: store.directory, create: false)
            try writable.apply([.campaignPaused(false, at: unixMillisNow())])
        }
        let file = try CampaignFile.parse(stored: info)
        var run = try Run.parse([info.specPath])
        run.fleet = fleet
        run.tuning = tuning
        run.dashboard = dashboard
        run.global = global
        try await run.runLocally(file: file, directory: store.directory)
    }
}

/// The local fleet of `intern run` and `intern resume`.
struct LocalFleetOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "How many local worker processes to start.")
    var workers: Int = 2

    @Option(name: .long, help: "Slots (concurrent attempts) per worker.")
    var slots: Int = 1

    @Flag(name: .long, help: "No live progress line; only the summary.")
    var quiet = false

    func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard slots >= 1 else { throw ValidationError("--slots must be at least 1") }
    }
}
