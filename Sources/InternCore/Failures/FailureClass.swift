/// Why an attempt failed, as far as intern can tell from how it ended and what it printed last.
///
/// The class decides what happens next: whether the trial is retried (``FailurePolicy``), whether
/// the failure counts towards pausing dispatch (``CircuitBreaker``, `user` only) and whether it
/// counts against the worker it ran on (``WorkerHealth``, `infra` and `oom` only).
public enum FailureClass: String, Sendable, Hashable, Codable, CaseIterable, CodingKeyRepresentable, CustomStringConvertible {
    /// The job ran out of memory: CUDA or host (the kernel's OOM killer, `MemoryError`, `std::bad_alloc`).
    case oom
    /// The attempt ran past the campaign's timeout and intern stopped it.
    case timeout
    /// The worker was drained or stopped (SIGTERM) and stopped the job; nothing was wrong with the trial.
    case preempted
    /// The worker running the attempt vanished (its lease expired, or it restarted).
    case lost
    /// The machine, the network, the file system or the collective library failed (NCCL, I/O errors,
    /// full disks, connection resets): likely to pass on a retry, possibly on another worker.
    case infra
    /// A mistake in the job or its command that fails the same way every time (a missing module, a
    /// syntax error, a usage error): never retried.
    case user
    /// Training diverged: the loss became NaN or infinite.
    case diverged
    /// None of the above.
    case unknown

    /// Whether retrying a failure of this class uses the trial's and the campaign's retry budgets.
    /// Only `preempted` does not: a drained worker says nothing about the trial.
    public var consumesRetryBudget: Bool { self != .preempted }

    /// The raw value (`oom`, `infra`, ...), as in the spec's `retry:` keys.
    public var description: String { rawValue }
}
