import ArgumentParser
import Foundation
import InternCoordinator
import InternCore
import InternStore
import Logging
import ServiceLifecycle

/// How a campaign run ended, for the summary and the exit code.
struct CampaignOutcome {
    var snapshot: CoordinatorSnapshot
    var interrupted: Bool

    /// 0 when finished with at least one completed trial; 3 when finished with none; 4 when trials
    /// completed but none reported an objective; 1 when interrupted.
    var exitCode: Int32 {
        if interrupted || !snapshot.isFinished { return ExitCodes.failure }
        guard snapshot.progress.completed > 0 else { return ExitCodes.noTrialCompleted }
        return snapshot.objectiveNeverReported ? ExitCodes.objectiveNeverReported : ExitCodes.success
    }
}

/// A coordinator on a campaign directory, with its progress display: what `intern run` and
/// `intern coordinator` share.
struct CampaignSession {
    let file: CampaignFile
    let store: CampaignStore
    let coordinator: Coordinator
    let listen: [String]

    /// Opens (or continues) the campaign in `directory`.
    init(
        file: CampaignFile, directory: String, listen: [String], logger: Logger, options: CoordinatorOptions? = nil,
        access: CampaignStore.Access = .owner
    ) throws {
        self.listen = listen
        let info: CampaignInfo
        do {
            store = try CampaignStore(directory: directory, access: access)
            info = try store.register(spec: file.spec, specPath: file.path, specYAML: file.yaml, now: unixMillisNow())
            try store.setCoordinatorURL(listen.first ?? "")
        } catch let error as StoreError {
            throw ValidationError(error.message)
        }
        // A map stage maps over the items the campaign was created with, not the glob's matches now.
        var file = file
        if let stored = info.mapItems, let map = file.spec.map, map.items != stored {
            file = try CampaignFile.parse(yaml: file.yaml, path: file.path, mapItems: stored)
            do {
                try store.register(spec: file.spec, specPath: file.path, specYAML: file.yaml, now: unixMillisNow())
            } catch let error as StoreError {
                throw ValidationError(error.message)
            }
        }
        self.file = file
        var coordinatorOptions = options ?? CoordinatorOptions(listen: listen)
        coordinatorOptions.listen = listen
        coordinatorOptions.admin = AdminRunner.handler(directory: directory, maxOutputBytes: coordinatorOptions.maxMessageBytes - (64 << 10))
        coordinator = try Coordinator(spec: file.spec, store: store, options: coordinatorOptions, logger: logger)
    }

    /// Runs the coordinator, its progress display, for `intern run` its local workers and, with
    /// `--http`, the dashboard, as the services of one group until the campaign is over or a
    /// signal stops it, then prints the summary. The first SIGINT/SIGTERM shuts the group down
    /// gracefully (the workers leave, then the coordinator stops, the dashboard last); a second
    /// one, or a graceful shutdown past its bound, stops it at once.
    func run(display: ProgressDisplay, fleet: LocalFleet? = nil, dashboard: DashboardService? = nil) async throws -> CampaignOutcome {
        let shutdown = GroupShutdown()
        let coordinatorService = CoordinatorService(coordinator: coordinator, shutdown: shutdown)
        // Graceful shutdown goes from the last service to the first.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ProgressService(display: display, coordinator: coordinator), successTerminationBehavior: .gracefullyShutdownGroup,
                  failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "progress"),
            .init(service: coordinatorService, successTerminationBehavior: .gracefullyShutdownGroup,
                  failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "coordinator"),
        ]
        var graceful = Self.coordinatorStopBound
        if let dashboard {
            // First, so stopped last: it shows the campaign to its end. Failing to listen (the
            // address is taken) stops the run, as the coordinator's own socket would.
            services.insert(.init(service: dashboard, successTerminationBehavior: .gracefullyShutdownGroup,
                                  failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "dashboard"), at: 0)
            graceful += DashboardService.gracefulBound
        }
        if let fleet, !fleet.jobs.isEmpty {
            services.append(.init(service: LocalFleetService(fleet: fleet, coordinator: coordinatorService),
                                  successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup,
                                  serviceName: "local-workers"))
            graceful += LocalFleetService.gracefulBound
        }
        let lifecycle = ProcessLifecycle(
            services: services, maximumGracefulShutdownDuration: graceful,
            // Cancelled, the workers are SIGKILLed within 5 s while the coordinator closes its
            // socket (at most 5 s) and finishes a store write (its busy timeout is 5 s).
            maximumCancellationDuration: .seconds(15))
        let ending = try await lifecycle.run(shutdown: shutdown)
        let snapshot = await coordinator.snapshot()
        display.finish(snapshot)
        return CampaignOutcome(snapshot: snapshot, interrupted: ending.interrupted)
    }

    /// At most how long the coordinator takes to stop: it closes its socket within 5 s; one more
    /// for the store's last writes.
    static let coordinatorStopBound: Duration = .seconds(6)

    /// The directory that holds this campaign's: what `--http`'s dashboard shows.
    var root: String { (store.directory as NSString).deletingLastPathComponent }
}

func unixMillisNow() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded())
}
