/// Finds workers that fail trials which succeed elsewhere, and quarantines them.
///
/// A worker is quarantined when at least ``threshold`` distinct trials failed on it with an
/// `infra` or `oom` failure and then succeeded on a different worker: the trials are fine, the
/// machine is not (a bad GPU, a full disk, a flaky link, less memory than its peers). A trial that
/// fails everywhere, or that succeeds on the worker where it failed, blames nobody, so a job that
/// runs out of memory on every machine quarantines none of them.
///
/// A value type with no clock; deterministic, so the coordinator restores it by replaying the same
/// records in the same order.
public struct WorkerHealth: Sendable, Equatable {
    /// The count of blamed trials that quarantines a worker; 0 turns quarantine off.
    public let threshold: Int
    /// The quarantined workers, each with one sentence saying why.
    public private(set) var quarantined: [WorkerID: String] = [:]

    /// Workers where each unfinished trial failed with `infra`/`oom`.
    private var pending: [TrialID: Set<WorkerID>] = [:]
    /// The blamed trials per worker: failed there, succeeded elsewhere.
    private var blamed: [WorkerID: Set<TrialID>] = [:]

    /// Creates a tracker that quarantines at `threshold` trials (``FailurePolicy/quarantineAfter``).
    public init(threshold: Int) {
        self.threshold = max(0, threshold)
    }

    /// Records that an attempt of `trial` failed on `worker`; only `infra` and `oom` failures count.
    public mutating func recordFailure(worker: WorkerID, trial: TrialID, failure: FailureClass) {
        guard threshold > 0, failure == .infra || failure == .oom else { return }
        pending[trial, default: []].insert(worker)
    }

    /// Records that `trial` succeeded on `worker`: each other worker where it failed is blamed for it.
    /// Returns the workers this quarantines, sorted.
    @discardableResult
    public mutating func recordSuccess(worker: WorkerID, trial: TrialID) -> [WorkerID] {
        guard threshold > 0, let failedOn = pending.removeValue(forKey: trial) else { return [] }
        var newly: [WorkerID] = []
        for other in failedOn.sorted() where other != worker {
            blamed[other, default: []].insert(trial)
            let trials = blamed[other, default: []]
            if trials.count >= threshold, quarantined[other] == nil {
                let list = trials.sorted().map(String.init).joined(separator: ", ")
                quarantined[other] = "\(trials.count) trials (\(list)) failed here with infra or oom failures and then succeeded on another worker"
                newly.append(other)
            }
        }
        return newly
    }

    /// Whether `worker` is quarantined (it should get no more work).
    public func isQuarantined(_ worker: WorkerID) -> Bool {
        quarantined[worker] != nil
    }

    /// Lifts a quarantine (a person repaired the worker); its blamed trials are forgotten.
    public mutating func release(_ worker: WorkerID) {
        quarantined[worker] = nil
        blamed[worker] = nil
    }
}
