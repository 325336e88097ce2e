/// One (parameter, rendered value) pair of a trial's configuration, such as `optimizer=adam`.
public struct ParameterPair: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The parameter's name.
    public var name: String
    /// The value as rendered into commands (``ParameterValue/text``).
    public var value: String

    /// Creates a pair.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// Ordered by name, then value.
    public static func < (a: ParameterPair, b: ParameterPair) -> Bool {
        (a.name, a.value) < (b.name, b.value)
    }

    /// `name=value`.
    public var description: String { "\(name)=\(value)" }
}

/// A tripped circuit: one `user`-class failure signature seen on enough distinct trials that
/// dispatching more of the configurations it hits would only repeat it.
public struct CircuitTrip: Sendable, Equatable {
    /// The failure signature's digest.
    public var digest: String
    /// A short description of the error (the signature's excerpt), possibly empty.
    public var summary: String
    /// The distinct trials that failed with it, in the order their failures were recorded.
    public var trials: [TrialID]
    /// The pairs a configuration must all contain to be blocked, sorted; empty blocks every
    /// configuration.
    public var blocking: [ParameterPair]

    /// Creates a trip.
    public init(digest: String, summary: String, trials: [TrialID], blocking: [ParameterPair]) {
        self.digest = digest
        self.summary = summary
        self.trials = trials
        self.blocking = blocking
    }

    /// Whether the trip pauses every configuration, not only some.
    public var blocksAll: Bool { blocking.isEmpty }

    /// Whether a configuration is paused by this trip: it holds every blocking pair.
    public func blocks(_ parameters: [(name: String, value: String)]) -> Bool {
        guard !blocking.isEmpty else { return true }
        let pairs = Set(parameters.map { ParameterPair(name: $0.name, value: $0.value) })
        return blocking.allSatisfy(pairs.contains)
    }

    /// One sentence for a person, e.g. `signature 3fa2b9c1 (ModuleNotFoundError: No module named
    /// 'transfomers') failed trials 3, 5, 9: dispatch paused for every configuration`.
    public var reason: String {
        var text = "signature \(digest.prefix(8))"
        if !summary.isEmpty { text += " (\(summary))" }
        text += " failed trials \(trials.map(String.init).joined(separator: ", ")): dispatch paused for "
        if blocking.isEmpty {
            text += "every configuration"
        } else {
            text += "configurations with " + blocking.map(\.description).joined(separator: " and ")
        }
        return text
    }
}

/// Pauses dispatch when the same deterministic failure keeps happening: after one `user`-class
/// signature has failed on ``threshold`` distinct trials, running more trials that it would hit is
/// a waste of the cluster. A value type with no clock; the coordinator feeds it the outcomes in
/// order, and restores it by replaying the same records in the same order (it is deterministic).
///
/// **Parameter dependence.** When the circuit trips, the pairs shared by *all* failing trials of
/// the signature that were *never* seen in a successful trial are the suspects. If there are any, the
/// trip blocks only configurations that contain *all* of them: the narrowest pause the evidence
/// supports, so a value that the failing trials share by coincidence (a grid's slow axis) never
/// stops a healthy configuration; if the pause is too narrow, the signature fails again elsewhere,
/// which widens it. If no pair qualifies, the failure does not depend on the parameters and the trip
/// blocks everything. The blocking pairs are recomputed whenever the signature fails on another
/// trial or a configuration succeeds: a later success on a blocked value clears that value of
/// suspicion, and when no suspect is left the trip blocks everything, exactly as if the success had
/// been known when it tripped (the result never depends on the order of successes and trips).
/// Only `user` failures count: the others are either transient (`infra`, `lost`, `preempted`) or
/// specific to one configuration and already handled by the retry policy (`oom`, `diverged`).
public struct CircuitBreaker: Sendable, Equatable {
    /// The distinct failing trials that trip a signature; 0 turns the breaker off.
    public let threshold: Int
    /// The tripped circuits, in the order they tripped.
    public private(set) var trips: [CircuitTrip] = []

    private struct Failures: Sendable, Equatable {
        var summary: String
        var trials: [TrialID] = []
        var parameters: [[ParameterPair]] = []
    }

    /// Failing trials per signature digest.
    private var failures: [String: Failures] = [:]
    /// Every pair seen in a successful trial.
    private var succeeded: Set<ParameterPair> = []

    /// Creates a breaker that trips at `threshold` distinct trials (``FailurePolicy/circuitBreakerTrials``).
    public init(threshold: Int) {
        self.threshold = max(0, threshold)
    }

    /// Records a failed attempt. Returns the trip when this failure trips the signature's circuit or
    /// changes what an existing trip blocks; `nil` otherwise (also for every class but `user`, for a
    /// trial already counted, and when the breaker is off).
    @discardableResult
    public mutating func record(
        failure: FailureClass, signature digest: String, trial: TrialID,
        parameters: [(name: String, value: String)], summary: String = ""
    ) -> CircuitTrip? {
        guard threshold > 0, failure == .user else { return nil }
        var entry = failures[digest] ?? Failures(summary: summary)
        guard !entry.trials.contains(trial) else { return nil }
        entry.trials.append(trial)
        entry.parameters.append(Self.pairs(parameters))
        if entry.summary.isEmpty { entry.summary = summary }
        failures[digest] = entry
        guard entry.trials.count >= threshold else { return nil }
        let trip = CircuitTrip(digest: digest, summary: entry.summary, trials: entry.trials, blocking: blocking(entry))
        if let index = trips.firstIndex(where: { $0.digest == digest }) {
            let changed = trips[index].blocking != trip.blocking
            trips[index] = trip
            return changed ? trip : nil
        }
        trips.append(trip)
        return trip
    }

    /// Records a successful attempt. Its pairs can no longer be blamed: trips that blocked by one of
    /// them are recomputed. Returns the trips whose blocking changed.
    @discardableResult
    public mutating func recordSuccess(trial: TrialID, parameters: [(name: String, value: String)]) -> [CircuitTrip] {
        guard threshold > 0 else { return [] }
        let new = Self.pairs(parameters).filter { !succeeded.contains($0) }
        guard !new.isEmpty else { return [] }
        succeeded.formUnion(new)
        var changed: [CircuitTrip] = []
        for index in trips.indices where trips[index].blocking.contains(where: new.contains) {
            guard let entry = failures[trips[index].digest] else { continue }
            trips[index].blocking = blocking(entry)
            changed.append(trips[index])
        }
        return changed
    }

    /// The first trip that pauses this configuration, or `nil` if it may be dispatched.
    public func blocks(parameters: [(name: String, value: String)]) -> CircuitTrip? {
        trips.first { $0.blocks(parameters) }
    }

    /// Forgets a signature (a person resumed dispatch after fixing the cause): its trip is removed and
    /// it needs ``threshold`` new failing trials to trip again.
    public mutating func reset(signature digest: String) {
        trips.removeAll { $0.digest == digest }
        failures[digest] = nil
    }

    private func blocking(_ entry: Failures) -> [ParameterPair] {
        guard var shared = entry.parameters.first.map(Set.init) else { return [] }
        for parameters in entry.parameters.dropFirst() { shared.formIntersection(parameters) }
        return shared.subtracting(succeeded).sorted()
    }

    private static func pairs(_ parameters: [(name: String, value: String)]) -> [ParameterPair] {
        parameters.map { ParameterPair(name: $0.name, value: $0.value) }
    }
}

extension Parameters {
    /// The (name, rendered value) pairs sorted by name, as ``CircuitBreaker`` takes them.
    public var renderedPairs: [(name: String, value: String)] {
        sortedPairs.map { (name: $0.name, value: $0.value.text) }
    }
}
