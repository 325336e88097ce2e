import ArgumentParser
import InternCoordinator
import InternCore
import InternStore

/// Timing of the coordinator that operators may tune (shared by `run` and `coordinator`).
struct CoordinatorTuning: ParsableArguments {
    @Option(name: .long, help: "Heartbeat interval workers use, in milliseconds.")
    var heartbeatMs: Int = 1_000

    @Option(name: .long, help: "A worker silent this long (ms) is declared lost and its trials requeued.")
    var leaseMs: Int = 10_000

    @Flag(name: .long, help: "Let the campaign directory's group read it (0750/0640); by default only its owner can (0700/0600): it holds the jobs' output and the spec's env values.")
    var groupReadable = false

    /// Who may read the campaign's store.
    var access: CampaignStore.Access { groupReadable ? .group : .owner }

    func validate() throws {
        guard heartbeatMs >= 10 else { throw ValidationError("--heartbeat-ms must be at least 10") }
        guard leaseMs >= 2 * heartbeatMs else { throw ValidationError("--lease-ms must be at least twice --heartbeat-ms") }
    }

    /// Coordinator options for these timings.
    func options(listen: [String]) -> CoordinatorOptions {
        CoordinatorOptions(listen: listen, config: CoordinatorConfig(
            heartbeatIntervalMillis: Int64(heartbeatMs), leaseTimeoutMillis: Int64(leaseMs),
            longPollMillis: min(5_000, Int64(leaseMs) / 2)))
    }
}
