import Dispatch

/// A serial executor backed by its own dispatch queue (one thread at a time, never a thread of
/// Swift's shared cooperative pool). An actor that runs on it may block: the coordinator makes
/// synchronous SQLite commits and file appends there without starving other tasks.
final class DedicatedExecutor: SerialExecutor {
    private let queue: DispatchQueue

    /// Creates an executor with a queue named `label`.
    init(label: String) {
        queue = DispatchQueue(label: label, qos: .userInitiated)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
