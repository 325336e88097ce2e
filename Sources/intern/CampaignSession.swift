import ArgumentParser
import Foundation
import InternCoordinator
import InternCore
import InternStore
import Logging

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
        self.file = file
        self.listen = listen
        do {
            store = try CampaignStore(directory: directory, access: access)
            try store.register(spec: file.spec, specPath: file.path, specYAML: file.yaml, now: unixMillisNow())
            try store.setCoordinatorURL(listen.first ?? "")
        } catch let error as StoreError {
            throw ValidationError(error.message)
        }
        var coordinatorOptions = options ?? CoordinatorOptions(listen: listen)
        coordinatorOptions.listen = listen
        coordinatorOptions.admin = AdminRunner.handler(directory: directory, maxOutputBytes: coordinatorOptions.maxMessageBytes - (64 << 10))
        coordinator = try Coordinator(spec: file.spec, store: store, options: coordinatorOptions, logger: logger)
    }

    /// Runs the coordinator until the campaign finishes or a signal arrives, showing progress.
    /// With `onFirstSignal`, the first SIGINT/SIGTERM calls it (and `whileRunning` is expected
    /// to return once what it started has wound down, which stops the coordinator); a second
    /// signal stops at once.
    func run(
        display: ProgressDisplay, onFirstSignal: (@Sendable () -> Void)? = nil, whileRunning: (@Sendable () async -> Void)? = nil
    ) async throws -> CampaignOutcome {
        let coordinator = self.coordinator
        var interrupted = false
        do {
            try await withSignalCancellation(first: onFirstSignal) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await coordinator.run() }
                    group.addTask {
                        while !Task.isCancelled {
                            display.update(await coordinator.snapshot())
                            try await Task.sleep(for: .milliseconds(250))
                        }
                    }
                    if let whileRunning { group.addTask { await whileRunning() } }
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            interrupted = true
        }
        let snapshot = await coordinator.snapshot()
        display.finish(snapshot)
        return CampaignOutcome(snapshot: snapshot, interrupted: interrupted)
    }
}

func unixMillisNow() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded())
}
