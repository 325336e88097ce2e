import ArgumentParser
import Foundation
import InternAuth
import InternLoad

/// `intern-load`: simulated workers that speak the real protocol to a real coordinator, to
/// measure the coordinator alone at a scale a few cores cannot run as real workers.
@main
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intern-load",
        abstract: "Load a coordinator with simulated workers that speak the real protocol.",
        discussion: """
            Each simulated worker has its own NNG REQ socket and authenticated session, says hello, keeps a work \
            request outstanding per slot, heartbeats, and reports zstd-compressed Trainer-style output, metric samples \
            and attempt ends, exactly as `intern worker` does; only the job is simulated. Start the coordinator first \
            (`intern coordinator SPEC --listen tcp://127.0.0.1:PORT --auth DIR`); the run ends when the campaign is over. \
            Prints the figures and writes them as JSON with --json.
            """)

    @Option(name: .long, help: "The coordinator's URL, e.g. tcp://127.0.0.1:7700.")
    var connect: String

    @Option(name: .long, help: "The campaign's credentials directory (`intern init-auth DIR`): messages are sealed, as a real worker's.")
    var auth: String?

    @Flag(name: .long, help: "Send plain messages over tcp:// (the coordinator must run with --insecure too).")
    var insecure = false

    @Option(name: .long, help: "Simulated workers, each with its own socket.")
    var workers = 50

    @Option(name: .long, help: "Slots per worker.")
    var slots = 2

    @Option(name: .long, help: "Shortest simulated attempt, seconds.")
    var minSeconds = 1.0

    @Option(name: .long, help: "Longest simulated attempt, seconds.")
    var maxSeconds = 60.0

    @Option(name: .long, help: "Real seconds per simulated second (0.01: a 60 s attempt lasts 0.6 s).")
    var timeScale = 0.01

    @Option(name: .long, help: "Raw log bytes an attempt prints per simulated second.")
    var logRate = 2_000.0

    @Option(name: .long, help: "One Trainer metric line on stdout per this many progress updates on stderr.")
    var metricEvery = 10

    @Option(name: .long, help: "Share of attempts that exit 1 with an NCCL error (retried as infra).")
    var failureRate = 0.02

    @Option(name: .long, help: "Share of the workers killed or cut off per simulated hour (0.02: 2 %).")
    var churnPerHour = 0.0

    @Option(name: .long, help: "Simulated hours the churn is spread over.")
    var churnHours = 1.0

    @Option(name: .long, help: "Share of churn events that are network cuts (the rest are kills).")
    var cutShare = 0.5

    @Option(name: .long, help: "Longest network cut, real seconds (longer than the lease: the coordinator declares the worker lost meanwhile).")
    var maxCutSeconds = 15.0

    @Option(name: .long, help: "Seed of every draw.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "The coordinator's pid: its RSS and CPU are sampled.")
    var coordinatorPid: Int32?

    @Option(name: .long, help: "A file holding the coordinator's pid, read at every sample (it may be restarted).")
    var coordinatorPidFile: String?

    @Option(name: .long, help: "Sample the coordinator every this many completed trials.")
    var sampleEvery = 10_000

    @Option(name: .long, help: "Stop after this many seconds, done or not.")
    var timeLimit = 1_800

    @Option(name: .long, help: "Write the figures here as JSON.")
    var json: String?

    func validate() throws {
        if auth != nil, insecure { throw ValidationError("--insecure and --auth contradict each other: pick one") }
        if auth == nil, !insecure, !connect.hasPrefix("ipc://") {
            throw ValidationError("\(connect) needs the campaign's credentials (--auth DIR, made by `intern init-auth DIR`), or --insecure")
        }
        guard workers > 0, slots > 0 else { throw ValidationError("--workers and --slots must be at least 1") }
    }

    func run() async throws {
        let credentials: Credentials?
        do {
            credentials = try auth.map { try Credentials.load(directory: $0) }
        } catch {
            throw ValidationError("\(error)")
        }
        let profile = LoadProfile(
            minSeconds: minSeconds, maxSeconds: maxSeconds, timeScale: timeScale, logBytesPerSecond: logRate,
            metricEvery: metricEvery, failureRate: failureRate, seed: seed)
        let churn = churnPerHour > 0
            ? ChurnSchedule.Settings(
                workers: workers, perHour: churnPerHour, hours: churnHours, timeScale: timeScale, cutShare: cutShare,
                cutDown: 1...max(1, maxCutSeconds), seed: seed)
            : nil
        let configuration = LoadRun.Configuration(
            settings: LoadSettings(url: connect, credentials: credentials, slots: slots, profile: profile),
            workers: workers, churn: churn, probe: ProcessProbe(pid: coordinatorPid, pidFile: coordinatorPidFile),
            sampleEvery: sampleEvery, timeLimit: .seconds(timeLimit),
            progress: { FileHandle.standardError.write(Data("intern-load: \($0)\n".utf8)) })
        let result = await LoadRun.run(configuration)
        print(result.summary)
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: json))
        }
        if result.timedOut || !result.problems.isEmpty { throw ExitCode(1) }
    }
}
