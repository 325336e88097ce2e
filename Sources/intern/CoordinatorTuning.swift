import ArgumentParser
import InternAuth
import InternCoordinator
import InternCore
import InternStore

/// Timing of the coordinator that operators may tune (shared by `run` and `coordinator`).
struct CoordinatorTuning: ParsableArguments {
    @Option(name: .long, help: "Heartbeat interval workers use, in milliseconds.")
    var heartbeatMs: Int = 1_000

    @Option(name: .long, help: "A worker silent this long (ms) is declared lost and its trials requeued.")
    var leaseMs: Int = 10_000

    @Option(name: .long, help: "A network connection that has not authenticated after this long (ms) is closed (default: 10000, or 3 heartbeats when longer).")
    var authTimeoutMs: Int?

    @Option(name: .long, help: "Unauthenticated network connections allowed from one address; more are refused.")
    var maxUnauthenticatedPerAddress = ConnectionGate.Limits().perAddress

    @Option(name: .long, help: "Unauthenticated network connections allowed in all; beyond it the oldest of the most crowded address is closed.")
    var maxUnauthenticated = ConnectionGate.Limits().unauthenticated

    @Option(name: .long, help: "Network connections allowed in all (default: the descriptor limit less 256, at most 16384).")
    var maxConnections: Int?

    @Flag(name: .long, help: "Let the campaign directory's group read it (0750/0640); by default only its owner can (0700/0600): it holds the jobs' output and the spec's env values.")
    var groupReadable = false

    /// Who may read the campaign's store.
    var access: CampaignStore.Access { groupReadable ? .group : .owner }

    func validate() throws {
        guard heartbeatMs >= 10 else { throw ValidationError("--heartbeat-ms must be at least 10") }
        guard leaseMs >= 2 * heartbeatMs else { throw ValidationError("--lease-ms must be at least twice --heartbeat-ms") }
        if let authTimeoutMs, authTimeoutMs < 500 || authTimeoutMs > 3_600_000 {
            throw ValidationError("--auth-timeout-ms must be between 500 and 3600000")
        }
        guard (1...100_000).contains(maxUnauthenticatedPerAddress), (1...100_000).contains(maxUnauthenticated) else {
            throw ValidationError("--max-unauthenticated-per-address and --max-unauthenticated must be between 1 and 100000")
        }
        if let maxConnections, !(1...1_000_000).contains(maxConnections) {
            throw ValidationError("--max-connections must be between 1 and 1000000")
        }
    }

    /// Coordinator options for these timings.
    func options(listen: [String]) -> CoordinatorOptions {
        var options = CoordinatorOptions(listen: listen, config: CoordinatorConfig(
            heartbeatIntervalMillis: Int64(heartbeatMs), leaseTimeoutMillis: Int64(leaseMs),
            longPollMillis: min(5_000, Int64(leaseMs) / 2)))
        if let authTimeoutMs { options.connectionLimits.unauthenticatedMillis = Int64(authTimeoutMs) }
        options.connectionLimits.perAddress = maxUnauthenticatedPerAddress
        options.connectionLimits.unauthenticated = maxUnauthenticated
        if let maxConnections { options.connectionLimits.connections = maxConnections }
        return options
    }
}
