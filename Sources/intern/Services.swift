import InternCoordinator
import InternWorker
import ServiceLifecycle
import Synchronization

// The long-running parts of intern's processes as services of one `ServiceGroup`
// (`ProcessLifecycle`). A group shuts its services down gracefully in the reverse of their order,
// each once the one after it has finished: `intern run` lists the progress display, the
// coordinator, then the local workers, so on a signal the workers leave first (their jobs are
// stopped and reported preempted to a coordinator that still records it), then the coordinator
// stops, and the display goes last.

/// The coordinator (`intern run`, `intern resume`, `intern coordinator`). Graceful shutdown stops
/// it; when it ends by itself (the campaign is over, or its circuit breaker stopped it) it asks the
/// group to shut down and waits for its turn, so the workers after it still leave first.
final class CoordinatorService: Service {
    /// How the coordinator's `run()` ended.
    enum Ending: Sendable {
        /// It returned: the campaign is over, or stopped by its circuit breaker.
        case byItself
        /// The group stopped it (graceful shutdown or cancellation).
        case stopped
        /// It threw: its store cannot be written, or it could not listen.
        case failed
    }

    let coordinator: Coordinator
    private let shutdown: GroupShutdown
    private let ended = Mutex<Ending?>(nil)

    init(coordinator: Coordinator, shutdown: GroupShutdown) {
        self.coordinator = coordinator
        self.shutdown = shutdown
    }

    /// How the coordinator ended; `nil` while it runs.
    var ending: Ending? { ended.withLock { $0 } }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.coordinator.run() }
        } catch is CancellationError {
            ended.withLock { $0 = .stopped }
            // Cancelled: the group stops at once. Its graceful shutdown reached this service: done.
            if Task.isCancelled { throw CancellationError() }
            return
        } catch {
            ended.withLock { $0 = .failed }
            throw error
        }
        ended.withLock { $0 = .byItself }
        await shutdown.request()
        // Returns at this service's turn; throws (ignored: there is nothing left to stop) if the
        // group is cancelled first.
        try? await gracefulShutdown()
    }
}

/// The local worker processes of `intern run`. On graceful shutdown: if the coordinator ended by
/// itself, the workers were told the campaign is over and exit by themselves (those still there
/// after 10 s are stopped); if it failed, they are left running, as after a `kill -9`, so that
/// `intern resume` re-attaches the attempts they run; otherwise (a signal) they are told to leave
/// and waited for. Cancelled, it stops them at once (SIGTERM, SIGKILL 5 s later). It ends by itself
/// when every worker has exited, which shuts the group down: the coordinator has no one left.
struct LocalFleetService: Service {
    let fleet: LocalFleet
    let coordinator: CoordinatorService

    /// How long workers told the campaign is over get to exit before they are stopped.
    static let exitGrace: Duration = .seconds(10)

    /// At most how long a graceful shutdown of the fleet takes (the longer of its two paths).
    static var gracefulBound: Duration { max(LocalFleet.leaveBound, exitGrace + .seconds(5)) }

    func run() async throws {
        do {
            do {
                _ = try await cancelWhenGracefulShutdown { try await fleet.waitUntilExited() }
                return
            } catch is CancellationError where !Task.isCancelled {
                // The graceful shutdown reached the fleet.
            }
            switch coordinator.ending {
            case .byItself:
                let exited = try await fleet.waitUntilExited(timeout: Self.exitGrace)
                if !exited { await fleet.stop() }
            case .failed:
                return
            case .stopped, nil:
                fleet.leave()
                _ = try await fleet.waitUntilExited()
            }
        } catch is CancellationError {
            await fleet.stop()
            throw CancellationError()
        }
    }
}

/// The live progress line, redrawn from the coordinator's snapshot as often as the display wants
/// (`ProgressDisplay.refreshInterval`) until the group shuts it down (last of all); the summary
/// is printed after the group has returned.
struct ProgressService: Service {
    let display: ProgressDisplay
    let coordinator: Coordinator

    func run() async throws {
        // Graceful shutdown and cancellation alike end the loop (its CancellationError is the
        // expected way out).
        try? await cancelWhenGracefulShutdown {
            guard let interval = display.refreshInterval else {
                // Quiet: nothing to show before the summary.
                while !Task.isCancelled { try await Task.sleep(for: .seconds(3_600)) }
                return
            }
            while !Task.isCancelled {
                display.update(await coordinator.snapshot())
                try await Task.sleep(for: interval)
            }
        }
    }
}

/// `intern worker`. Graceful shutdown makes it leave: no new work, the drain grace for running
/// attempts, then they are stopped and reported preempted, within the worker's own deadline.
/// Cancelled, it stops its jobs at once (SIGTERM, SIGKILL after the kill grace) and returns.
struct WorkerService: Service {
    let worker: Worker

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await worker.run()
        } onGracefulShutdown: {
            worker.leave()
        }
    }
}
