import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The one `ServiceGroup` of an intern process, and what a person's signals do to it: the first
/// SIGTERM or SIGINT shuts the group down gracefully (its services in reverse order, each once the
/// one after it has finished), within `maximumGracefulShutdownDuration`, after which the group
/// cancels; a second signal cancels it at once. When it returns, SIGTERM and SIGINT do again what
/// they did before it started.
struct ProcessLifecycle {
    /// The signals that stop an intern process.
    static let stopSignals: [UnixSignal] = [.sigterm, .sigint]

    /// How the group came to end.
    enum Ending: Equatable {
        /// By itself: a service's work was done and the group shut down gracefully, no signal came.
        case completed
        /// A signal shut it down gracefully.
        case signalled
        /// A second signal cancelled it.
        case stoppedAtOnce

        /// Whether a person (or a scheduler) stopped the process.
        var interrupted: Bool { self != .completed }
    }

    /// The services, in the order they start; graceful shutdown goes the other way.
    var services: [ServiceGroupConfiguration.ServiceConfiguration]
    /// How long the graceful shutdown may take before the group cancels what is left.
    var maximumGracefulShutdownDuration: Duration
    /// How long cancelled services may take to return; past it the process stops with a fatal
    /// error rather than hang (ServiceGroup's own watchdog).
    var maximumCancellationDuration: Duration
    var logger = Logger(label: "intern.lifecycle")

    /// Runs the group until it ends, rethrowing the first error a service threw. `shutdown` is
    /// the handle its services use to ask for a graceful shutdown; it is attached here.
    func run(shutdown: GroupShutdown = GroupShutdown()) async throws -> Ending {
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: Self.stopSignals, cancellationSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = maximumGracefulShutdownDuration
        configuration.maximumCancellationDuration = maximumCancellationDuration
        let group = ServiceGroup(configuration: configuration)
        shutdown.attach(group)

        // libdispatch (which watches signals for ServiceGroup) installs a handler of its own the
        // first time a signal is watched and never removes it: once the group is gone a Ctrl-C
        // would be swallowed. What was there before comes back when the group has returned.
        let dispositions = SignalDispositions(saving: Self.stopSignals.map(\.rawValue))
        defer { dispositions.restore() }

        // ServiceGroup reads only the first of its graceful-shutdown signals and refuses a signal
        // that would both shut down and cancel, so the second one is counted here. This watcher
        // also asks for the graceful shutdown itself, in case the first signal arrives before the
        // group has registered its own.
        let signals = await UnixSignalsSequence(trapping: Self.stopSignals)
        let received = SignalCount()
        let cancelled = try await withThrowingTaskGroup(of: TaskEnd.self) { tasks in
            tasks.addTask {
                do {
                    try await group.run()
                } catch is CancellationError {
                    // A cancelled service said so: the group was cancelled (a second signal, or
                    // its graceful shutdown ran out of time).
                    return .groupCancelled
                }
                return .groupEnded
            }
            tasks.addTask {
                for await _ in signals {
                    if received.increment() == 1 { await group.triggerGracefulShutdown() } else { break }
                }
                return .watcherEnded
            }
            // The group ends first, or the watcher does (a second signal, or the task running all
            // this was cancelled): then the group is cancelled and waited for.
            let end = try await tasks.next()
            tasks.cancelAll()
            if end == .watcherEnded {
                _ = try await tasks.next()
                return true
            }
            return end == .groupCancelled
        }
        if cancelled { return .stoppedAtOnce }
        return received.count == 0 ? .completed : .signalled
    }

    /// What each of the two tasks in `run` ended with.
    private enum TaskEnd {
        case groupEnded, groupCancelled, watcherEnded
    }
}

/// How many stop signals the process has had.
private final class SignalCount: Sendable {
    private let value = Atomic<Int>(0)

    var count: Int { value.load(ordering: .relaxed) }

    /// Counts one more and returns the new count.
    func increment() -> Int { value.add(1, ordering: .relaxed).newValue }
}

/// Lets a service whose work is done ask its group for a graceful shutdown. A service that simply
/// returned would be shut down out of turn: while the group shuts down another service,
/// ServiceGroup takes any other service's return as unexpected and cancels everything.
final class GroupShutdown: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)

    init() {}

    /// Connects the handle to the group it serves (before the group runs).
    func attach(_ group: ServiceGroup) {
        self.group.withLock { $0 = group }
    }

    /// Asks the group to shut down gracefully; a no-op once it is shutting down.
    func request() async {
        let group = self.group.withLock { $0 }
        await group?.triggerGracefulShutdown()
    }
}

/// The dispositions (handler, mask, flags) some signals had when it was made; `restore()` puts
/// them back.
struct SignalDispositions {
    private let saved: [(signal: Int32, action: sigaction)]

    /// Saves the current disposition of each of `signals`.
    init(saving signals: [Int32]) {
        saved = signals.map { number in
            var action = sigaction()
            sigaction(number, nil, &action)
            return (number, action)
        }
    }

    /// Installs the saved dispositions again.
    func restore() {
        for (number, action) in saved {
            var action = action
            sigaction(number, &action, nil)
        }
    }

    /// Whether the saved dispositions are the ones in force now (same handler and flags).
    var areCurrent: Bool {
        saved.allSatisfy { number, action in
            var current = sigaction()
            sigaction(number, nil, &current)
            return Self.handlerAddress(current) == Self.handlerAddress(action) && current.sa_flags == action.sa_flags
        }
    }

    /// The handler's address: 0 for SIG_DFL, 1 for SIG_IGN.
    private static func handlerAddress(_ action: sigaction) -> UInt {
        unsafeBitCast(action.__sigaction_handler.sa_handler, to: UInt.self)
    }
}
