import ArgumentParser
import Foundation
import InternCoordinator
import InternCore
import InternStore
import Logging

/// `intern coordinator`: the coordinator alone; workers join with `intern worker --connect`.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run a campaign's coordinator; workers join with `intern worker --connect URL`.",
        discussion: "Started again on the same campaign directory, it continues the campaign: finished trials are kept.")

    @Argument(help: "The campaign spec (YAML).")
    var campaign: String

    @Option(name: .long, help: "URL to listen on: ipc:///tmp/intern.sock, tcp://0.0.0.0:7700 or tls+tcp://0.0.0.0:7700 (network URLs need --auth); repeatable (default: an ipc socket in the campaign directory).")
    var listen: [String] = []

    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    @OptionGroup var security: AuthOptions

    @OptionGroup var tuning: CoordinatorTuning

    @OptionGroup var dashboard: DashboardOptions

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        global.bootstrapLogging()
        let file = try CampaignFile.load(campaign)
        let directory = file.directory(root: root)
        let urls = listen.isEmpty ? [try defaultIPCURL(directory: directory)] : listen
        var options = tuning.options(listen: urls)
        (options.credentials, options.tls) = try security.security(for: urls, option: "--listen", side: .coordinator)
        options.insecure = security.insecure
        let session = try CampaignSession(file: file, directory: directory, listen: urls, logger: Logger(label: "intern.coordinator"),
                                          options: options, access: tuning.access)
        // The campaign's credentials, when it has them, give --http its steering token.
        let dashboardService = try dashboard.service(
            root: session.root, campaign: file.spec.name, credentials: options.credentials, measurements: session.coordinator.measurements)
        // Which build runs, for a journal or a pilot job's output: a worker of another protocol
        // version is refused and names both.
        print("intern \(InternVersion.description)")
        print("coordinator for \(file.spec.name) listening on \(urls.joined(separator: ", "))")
        print("store: \(directory)")
        let outcome = try await session.run(display: ProgressDisplay(), dashboard: dashboardService)
        // The queue in front of the coordinator's one thread, for whoever sizes a fleet
        // (`make bench-scale` reads it; docs/operations.md, Scale).
        let measured = session.coordinator.measurements.snapshot
        for (what, buckets) in [("requests waited for the coordinator's thread", measured.requestWait),
                                ("work requests answered at once, arrival to assignment", measured.dispatch)] {
            if let p50 = buckets.bound(ofQuantile: 0.5), let p99 = buckets.bound(ofQuantile: 0.99) {
                print("\(what): p50 <= \(p50 * 1000) ms, p99 <= \(p99 * 1000) ms, of \(buckets.count)")
            }
        }
        throw ExitCode(outcome.exitCode)
    }
}
