import ArgumentParser
import Foundation
import InternCore
import InternReport
import InternStore

/// `intern failures`: failed, lost and preempted attempts grouped by the signature of their error.
struct Failures: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failures",
        abstract: "List failures grouped by signature: class, count, trials, when, one excerpt.",
        discussion: """
            Every attempt that failed, was lost or was preempted has a class (oom, timeout, preempted, lost, \
            infra, user, diverged, unknown) and a signature: its final error with numbers, paths, addresses \
            and ids stripped, hashed. Attempts with the same signature failed the same way.
            """)

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Flag(name: .long, help: "One JSON object per signature group, in an array.")
    var json = false

    @Option(name: .long, help: "Only this class (oom, timeout, preempted, lost, infra, user, diverged, unknown).")
    var `class`: String?

    func validate() throws {
        if let name = `class`, FailureClass(rawValue: name) == nil {
            throw ValidationError("unknown class '\(name)': use one of \(FailureClass.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        if try await remote.forward() { return }
        try show()
    }

    /// Prints the view from the campaign directory here.
    func show() throws {
        let store = try location.open()
        // The attempts that failed with a signature and the trials they hit, not every trial and
        // attempt. (A store an older intern left unmigrated may lack a column the queries name:
        // then from all of them.)
        let attempts: [AttemptRecord]
        let trials: [TrialID: TrialRecord]
        if let failed = try? store.failedAttempts(), let hit = try? store.trials(ids: failed.map(\.trial)) {
            attempts = failed
            trials = Dictionary(uniqueKeysWithValues: hit.map { ($0.id, $0) })
        } else {
            attempts = try store.attempts()
            trials = Dictionary(uniqueKeysWithValues: try store.trials().map { ($0.id, $0) })
        }
        let groups = FailureGroup.groups(of: attempts, trials: trials)
            .filter { group in `class`.map { group.failureClass.rawValue == $0 } ?? true }
        if json {
            let objects: [[String: Any]] = groups.map { $0.json }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        guard !groups.isEmpty else {
            print("no failures")
            return
        }
        for group in groups {
            let trialList = group.trials.count > 12
                ? group.trials.prefix(12).map(String.init).joined(separator: ", ") + ", … (\(group.trials.count))"
                : group.trials.map(String.init).joined(separator: ", ")
            print("\(group.digest)  \(group.failureClass)  \(group.attempts) attempt\(group.attempts == 1 ? "" : "s") on \(group.trials.count) trial\(group.trials.count == 1 ? "" : "s")  (\(trialList))")
            print("  first \(Format.clock(group.firstSeen))  last \(Format.clock(group.lastSeen))  workers \(group.workers.joined(separator: ", "))")
            if !group.reason.isEmpty { print("  why: \(group.reason)") }
            for line in group.excerpt.split(separator: "\n", omittingEmptySubsequences: true).prefix(4) {
                print("  | \(line)")
            }
            if !group.parameters.isEmpty {
                print("  parameters: " + group.parameters.map { "\($0.name) \($0.summary)" }.joined(separator: "; "))
            }
            print("")
        }
    }
}

/// Attempts that failed the same way (same signature digest).
struct FailureGroup {
    var digest: String
    var failureClass: FailureClass
    var attempts: Int
    var trials: [TrialID]
    var workers: [String]
    var firstSeen: Timestamp
    var lastSeen: Timestamp
    var reason: String
    var excerpt: String
    var signature: String
    /// Per parameter: the values the affected trials had (numbers as a range).
    var parameters: [(name: String, summary: String)]

    /// Groups failed, lost and preempted attempts by signature, the largest group first.
    static func groups(of attempts: [AttemptRecord], trials: [TrialID: TrialRecord]) -> [FailureGroup] {
        let failed = attempts.filter { $0.failureSignature != nil && $0.failureClass != nil }
        var order: [String] = []
        var byDigest: [String: [AttemptRecord]] = [:]
        for attempt in failed {
            if byDigest[attempt.failureSignature!] == nil { order.append(attempt.failureSignature!) }
            byDigest[attempt.failureSignature!, default: []].append(attempt)
        }
        return order.map { digest in
            let members = byDigest[digest]!
            let trialIDs = Array(Set(members.map(\.trial))).sorted()
            var classes: [FailureClass: Int] = [:]
            for member in members { classes[member.failureClass!, default: 0] += 1 }
            let times = members.map { $0.endedAt ?? $0.assignedAt }
            let last = members.max { ($0.endedAt ?? 0) < ($1.endedAt ?? 0) }!
            return FailureGroup(
                digest: digest, failureClass: classes.max { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }!.key,
                attempts: members.count, trials: trialIDs, workers: Array(Set(members.map(\.worker.rawValue))).sorted(),
                firstSeen: times.min()!, lastSeen: times.max()!, reason: last.failureReason ?? "",
                excerpt: last.failureExcerpt ?? "", signature: last.signatureText ?? "",
                parameters: summarise(trialIDs.compactMap { trials[$0]?.parameters }))
        }.sorted { $0.attempts > $1.attempts || ($0.attempts == $1.attempts && $0.firstSeen < $1.firstSeen) }
    }

    /// For each parameter, the range of numeric values or the set of other values (at most 6 shown).
    static func summarise(_ parameters: [Parameters]) -> [(name: String, summary: String)] {
        var values: [String: [ParameterValue]] = [:]
        var names: [String] = []
        for set in parameters {
            for (name, value) in set.sortedPairs {
                if values[name] == nil { names.append(name) }
                values[name, default: []].append(value)
            }
        }
        return names.map { name in
            let all = values[name]!
            let numbers = all.compactMap { value -> Double? in
                switch value {
                case .int(let i): Double(i)
                case .double(let d): d
                default: nil
                }
            }
            if numbers.count == all.count, let low = numbers.min(), let high = numbers.max(), Set(numbers).count > 6 {
                return (name, "\(Format.value(low))…\(Format.value(high))")
            }
            var distinct: [String] = []
            for value in all where !distinct.contains(value.text) { distinct.append(Format.clipped(value.text)) }
            let shown = distinct.prefix(6).joined(separator: ", ")
            return (name, distinct.count > 6 ? "{\(shown), …}" : "{\(shown)}")
        }
    }

    var json: [String: Any] {
        [
            "signature": digest, "class": failureClass.rawValue, "attempts": attempts, "trials": trials, "workers": workers,
            "first_seen": firstSeen, "last_seen": lastSeen, "reason": reason, "excerpt": excerpt, "normalised": signature,
            "parameters": Dictionary(parameters.map { ($0.name, $0.summary) }, uniquingKeysWith: { a, _ in a }),
        ]
    }
}
