import Dispatch
import Foundation
import Synchronization

/// Runs `body`, cancelling it on SIGINT or SIGTERM (the task group inside shuts down in order,
/// instead of the process dying mid-write). With `first`, the first signal calls it instead
/// (a graceful stop that `body` carries out) and only a second signal cancels.
func withSignalCancellation<T: Sendable>(
    first: (@Sendable () -> Void)? = nil, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let task = Task { try await body() }
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let signals = Mutex(0)
    let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            let count = signals.withLock { count -> Int in
                count += 1
                return count
            }
            if count == 1, let first { first() } else { task.cancel() }
        }
        source.resume()
        return source
    }
    defer { sources.forEach { $0.cancel() } }
    return try await withTaskCancellationHandler {
        try await task.value
    } onCancel: {
        task.cancel()
    }
}
