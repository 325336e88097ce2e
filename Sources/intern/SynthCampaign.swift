import ArgumentParser
import InternReport

/// `intern synth-campaign DIR`: writes a made-up campaign (trials, metrics, zstd logs) for
/// benchmarking `report`, `digest` and `grep` at scale. Hidden: not for campaigns.
struct SynthCampaign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-campaign", abstract: "Write a synthetic campaign store for benchmarks.", shouldDisplay: false)

    @Argument(help: "The campaign directory to create (must not hold a campaign).")
    var directory: String

    @Option(name: .long, help: "Trials.")
    var trials: Int = 10_000

    @Option(name: .long, help: "Attempts that fail with one identical error.")
    var failures: Int = 500

    @Option(name: .customLong("log-mib"), help: "Raw log MiB in all.")
    var logMiB: Int = 0

    func run() async throws {
        try SyntheticCampaign.create(directory: directory, trials: trials, failures: failures, logBytes: logMiB << 20)
        print("wrote \(directory): \(trials) trials, \(failures) identical failures, \(logMiB) MiB of logs")
    }
}
