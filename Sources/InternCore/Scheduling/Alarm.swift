import Synchronization

/// What a clock loop sleeps on: it wakes at a deadline, or earlier when rung (a nearer deadline
/// came up meanwhile, or what it waits for has happened), or when its task is cancelled. One
/// waiter at a time: the coordinator's clock loop, a worker's heartbeat loop.
public final class Alarm: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Void, Never>)
        /// Rung (or cancelled) while no one waited: the next wait returns at once.
        case rung
    }

    private let state = Mutex(State.idle)

    public init() {}

    /// Returns at `deadline`, when rung, or when the task is cancelled, whichever comes first.
    public func wait(until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            group.addTask { await self.untilRung() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Wakes the waiter now (or the next one, at once).
    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard case .waiting(let continuation) = state else {
                state = .rung
                return nil
            }
            state = .idle
            return continuation
        }
        waiter?.resume()
    }

    private func untilRung() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if case .rung = state {
                        state = .idle
                        return true
                    }
                    state = .waiting(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            ring()
        }
    }
}
