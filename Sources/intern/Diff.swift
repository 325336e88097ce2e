import ArgumentParser
import Foundation
import InternCore
import InternStore

/// `intern diff TRIAL_A TRIAL_B`: what differs between two attempts.
struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what differs between two trials' attempts: parameters, code, packages, environment, host.")

    @Argument(help: "The first trial (its latest attempt, or TRIAL.ATTEMPT for another).")
    var first: String

    @Argument(help: "The second trial (TRIAL or TRIAL.ATTEMPT).")
    var second: String

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    func run() async throws {
        if try await remote.forward() { return }
        let store = try location.open()
        let provenance = try store.provenance()
        let trials = Dictionary(uniqueKeysWithValues: try store.trials().map { ($0.id, $0) })
        let a = try snapshot(first, store: store, trials: trials, provenance: provenance)
        let b = try snapshot(second, store: store, trials: trials, provenance: provenance)
        let sections = ProvenanceDiff.compare(a, b)
        print("\(a.label) → \(b.label)")
        for side in [a, b] where side.provenance.isEmpty {
            print("(\(side.label) has no recorded provenance: its worker had not reported it)")
        }
        if sections.isEmpty {
            print("no difference in parameters, code, packages, environment or host")
            return
        }
        for (section, lines) in sections {
            print(section)
            for line in lines { print("  " + line) }
        }
    }

    private func snapshot(_ text: String, store: CampaignStore, trials: [TrialID: TrialRecord], provenance: [AttemptID: [String: String]]) throws -> AttemptSnapshot {
        let parts = text.split(separator: ".").map { Int($0) }
        guard (1...2).contains(parts.count), parts.allSatisfy({ $0 != nil }), let trialID = parts[0], let trial = trials[trialID] else {
            throw ValidationError("'\(text)' names no trial: give TRIAL or TRIAL.ATTEMPT (see intern trials)")
        }
        let attempts = try store.attempts(trial: trialID)
        guard let attempt = parts.count == 2 ? attempts.first(where: { $0.number == parts[1]! }) : attempts.max(by: { $0.number < $1.number }) else {
            throw ValidationError("trial \(trialID) has no attempt \(parts.count == 2 ? "number \(parts[1]!)" : "yet")")
        }
        let fields = provenance[attempt.id] ?? [:]
        let packages = try fields["packages"].flatMap { try store.provenanceBlob($0) }.map {
            AttemptSnapshot.packages(fromList: String(decoding: $0, as: UTF8.self))
        }
        let diff = try fields["git.diff"].flatMap { try store.provenanceBlob($0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return AttemptSnapshot(
            label: "trial \(trialID) attempt \(attempt.number)",
            parameters: Dictionary(uniqueKeysWithValues: trial.parameters.sortedPairs.map { ($0.name, $0.value.text) }),
            argv: attempt.argv, environment: attempt.environment, provenance: fields, packages: packages,
            changedFiles: AttemptSnapshot.changedFiles(inDiff: diff), worker: attempt.worker.rawValue)
    }
}
