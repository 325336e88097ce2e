import ArgumentParser
import Foundation
import InternCore
import InternLab
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
            and ids stripped, hashed. Attempts with the same signature failed the same way. A signature an earlier \
            campaign under the root had says so ("seen in campaign sft-3 (12 trials, 2026-11-30)"), with the notes on \
            it (intern note). --all lists the signatures of every campaign under the root, from the lab (docs/lab.md).
            """)

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Flag(name: .long, help: "One JSON object per signature group, in an array.")
    var json = false

    @Option(name: .long, help: "Only this class (oom, timeout, preempted, lost, infra, user, diverged, unknown).")
    var `class`: String?

    @Flag(name: .long, help: "Every campaign's failures under the root (and --also-root), by signature, from the lab.")
    var all = false

    @Option(name: .long, help: "With --all: only the noted failures whose region (the failing trials' parameter values) holds one of these configurations (JSON: an object or a list); with --campaign, those of the other campaigns.")
    var proposed: String?

    @OptionGroup var lab: LabRoots

    func validate() throws {
        if proposed != nil, !all { throw ValidationError("--proposed goes with --all") }
        if let name = `class`, FailureClass(rawValue: name) == nil {
            throw ValidationError("unknown class '\(name)': use one of \(FailureClass.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        if all {
            try showAll()
            return
        }
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
        // What earlier campaigns under the root and the notes say of these signatures.
        let createdAt = (try? store.info())?.createdAt ?? 0
        let recurrences = LabLookup.recurrences(directory: store.directory, digests: groups.map(\.digest), createdAt: createdAt)
        if json {
            let objects: [[String: Any]] = groups.map { group in
                var object = group.json
                if let recurrence = recurrences[group.digest] {
                    object["seen_in"] = recurrence.earlier.map { ["campaign": $0.campaign, "trials": $0.trials, "first_seen": LabDate.day($0.firstSeen)] }
                    object["notes"] = recurrence.notes.map(\.line)
                }
                return object
            }
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
            for line in recurrences[group.digest]?.lines ?? [] { print("  " + line) }
            print("")
        }
    }

    /// `--all`: every campaign's signatures from the lab, the most attempts first, each with the
    /// campaigns that had it and its notes; with `--proposed`, the noted ones the configurations repeat.
    func showAll() throws {
        let root = location.dir.map { (Lab.canonical($0) as NSString).deletingLastPathComponent } ?? location.root
        let lab = try lab.open(primary: root)
        let sightings: [Sighting]
        let notes: [LabNote]
        do {
            sightings = try lab.sightings().filter { sighting in `class`.map { sighting.failureClass == $0 } ?? true }
            notes = try lab.allNotes()
        } catch {
            throw CampaignDatabaseError(message: error.message)
        }
        if let proposed {
            let data = Data(proposed.utf8)
            guard let configurations = (try? JSONDecoder().decode([Parameters].self, from: data)) ?? (try? JSONDecoder().decode(Parameters.self, from: data)).map({ [$0] }) else {
                throw ValidationError("--proposed must be an object of parameter values, or a list of them")
            }
            // With --campaign (or --dir): the campaign the proposal is for, whose own failures
            // the coordinator already answers for.
            let target = location.dir ?? location.campaign.map { (location.root as NSString).appendingPathComponent($0) }
            let others = sightings.filter { sighting in target.map { Lab.canonical($0) != sighting.directory } ?? true }
            print(ProposalCheck(configurations: configurations, sightings: others, notes: notes).text, terminator: "")
            return
        }
        let groups = Dictionary(grouping: sightings, by: \.digest).map { digest, seen in
            (digest: digest, seen: seen.sorted { ($0.campaignCreatedAt, $0.campaign) < ($1.campaignCreatedAt, $1.campaign) }, attempts: seen.reduce(0) { $0 + $1.attempts })
        }.sorted { ($0.attempts, $1.digest) > ($1.attempts, $0.digest) }
        if json {
            let objects: [[String: Any]] = groups.map { group in
                let last = group.seen.last!
                return [
                    "signature": group.digest, "class": last.failureClass, "attempts": group.attempts, "excerpt": last.excerpt, "normalised": last.signatureText,
                    "campaigns": group.seen.map { ["campaign": $0.campaign, "trials": $0.trials, "attempts": $0.attempts, "first_seen": LabDate.day($0.firstSeen), "last_seen": LabDate.day($0.lastSeen), "region": $0.region.summary] },
                    "notes": notes.filter { $0.signature == group.digest }.map(\.line),
                ]
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        guard !groups.isEmpty else {
            print("no failures in any campaign under \(lab.roots.joined(separator: ", "))")
            return
        }
        for group in groups {
            let last = group.seen.last!
            let trials = group.seen.reduce(0) { $0 + $1.trials }
            print("\(group.digest)  \(last.failureClass)  \(group.attempts) attempt\(group.attempts == 1 ? "" : "s") on \(trials) trial\(trials == 1 ? "" : "s") in \(group.seen.count) campaign\(group.seen.count == 1 ? "" : "s")")
            print("  | \(last.excerpt)")
            let shown = group.seen.suffix(6).reversed().map(\.text)
            print("  seen in " + shown.joined(separator: ", ") + (group.seen.count > 6 ? " and \(group.seen.count - 6) earlier" : ""))
            for note in notes where note.signature == group.digest { print("  " + note.line) }
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
