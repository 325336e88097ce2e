import ArgumentParser
import Foundation
import InternCore
import InternLab
import InternReport
import InternStore

/// `intern best`: the best completed trial.
struct Best: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "best", abstract: "Show the best completed trial: objective, parameters, command line.",
        discussion: """
            intern best --all lists every campaign's best under the root (and --also-root) from the lab, best first per \
            metric; --validated keeps the validated ones, --where lr=0.001 (repeatable) those whose parameters have \
            the value: "the best learning rate for this model family so far" is intern best --all --validated --where model=llama-7b.
            """)

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Flag(name: .long, help: "Every campaign's best under the root, from the lab (docs/lab.md).")
    var all = false

    @Flag(name: .long, help: "With --all: only bests validated by their repeats (validate:).")
    var validated = false

    @Option(name: .customLong("where"), help: "With --all: only bests with this parameter value, NAME=VALUE (repeatable).")
    var conditions: [String] = []

    @Flag(name: .long, help: "With --all: one JSON object per finding, in an array.")
    var json = false

    @OptionGroup var lab: LabRoots

    func validate() throws {
        if !all, validated || !conditions.isEmpty || json { throw ValidationError("--validated, --where and --json go with --all") }
        for condition in conditions where !condition.contains("=") || condition.hasPrefix("=") {
            throw ValidationError("--where \(condition): write NAME=VALUE")
        }
    }

    func run() async throws {
        if all {
            try showFindings()
            return
        }
        if try await remote.forward() { return }
        try show()
    }

    /// `--all`: the lab's findings, best first per metric.
    func showFindings() throws {
        let lab = try lab.open(primary: location.root)
        var wanted: [String: String] = [:]
        for condition in conditions {
            let equals = condition.firstIndex(of: "=")!
            wanted[String(condition[..<equals])] = String(condition[condition.index(after: equals)...])
        }
        let findings: [Finding]
        do {
            findings = Finding.ranked(try lab.findings().filter { (!validated || $0.validated) && $0.matches(wanted) })
        } catch {
            throw CampaignDatabaseError(message: error.message)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(findings), as: UTF8.self))
            return
        }
        guard !findings.isEmpty else {
            print("no \(validated ? "validated " : "")best result\(wanted.isEmpty ? "" : " with " + conditions.joined(separator: " ")) in any campaign under \(lab.roots.joined(separator: ", "))")
            throw ExitCode(ExitCodes.noTrialCompleted)
        }
        let rows = findings.map { finding in
            [finding.campaign, finding.metric, Format.value(finding.objective), finding.validated ? "yes" : "no", String(finding.trial),
             finding.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")]
        }
        print(Format.table(["campaign", "metric", "best", "validated", "trial", "parameters"], rows))
    }

    /// Prints the view from the campaign directory here.
    func show() throws {
        let store = try location.open()
        guard let info = try store.info() else { throw ValidationError("the campaign directory is empty") }
        let view = try StageView(info: info)
        guard let index = view.spec.selectionStage, let objective = view.stages[index].objective else {
            throw ValidationError("campaign \(info.name) has no objective: add `objective: {metric: NAME, direction: minimize|maximize}`")
        }
        let stage = view.stages[index]
        if !stage.extraObjectives.isEmpty {
            try showParetoFront(objectives: stage.objectives, store: store)
            return
        }
        // Picked by the database, its ancestors read one by one (a pipeline is a few stages deep):
        // the campaign's trials are not loaded whole. (A store an older intern left unmigrated may
        // lack a column the query names: then from the trials themselves.)
        var best: TrialRecord?
        var byID: [TrialID: TrialRecord] = [:]
        do {
            best = try store.bestTrial(stage: index, maximize: view.order(stage: index).maximize)
            var next = best?.parent
            while let id = next, byID[id] == nil, let parent = try store.trial(id) {
                byID[id] = parent
                next = parent.parent
            }
        } catch {
            let trials = try store.trials()
            best = view.best(of: trials)
            byID = Dictionary(uniqueKeysWithValues: trials.map { ($0.id, $0) })
        }
        // With validation repeats, the best is the configuration whose repeats did best, as
        // the verdict says (validated or not), once they have all ended.
        var verdict: ValidationVerdict?
        if let trials = try? store.validationTrials(stage: index), !trials.isEmpty {
            verdict = view.validation(of: trials)
            if let judged = verdict?.best, verdict?.isSettled == true, let trial = trials.first(where: { $0.id == judged }) {
                best = trial
                var next = trial.parent
                while let id = next, byID[id] == nil, let parent = try store.trial(id) {
                    byID[id] = parent
                    next = parent.parent
                }
            }
        }
        if let best { byID[best.id] = best }
        guard let best else {
            print("no completed\(view.spec.isPipeline ? " \(stage.name)" : "") trial reported \(objective.metric) yet")
            throw ExitCode(ExitCodes.noTrialCompleted)
        }
        let attempt = try store.attempts(trial: best.id).last { $0.status == .succeeded }
        print("trial      \(best.id)")
        if view.spec.isPipeline { print("stage      \(stage.name)") }
        print("\(objective.metric.padding(toLength: max(10, objective.metric.count), withPad: " ", startingAt: 0)) \(Format.value(best.objective)) (\(objective.direction.rawValue))")
        if let verdict {
            let group = verdict.group(of: best.id)
            print("validated  \(verdict.isValidated && verdict.best == best.id ? "yes" : verdict.isSettled ? "no" : "not yet"): \(verdict.summary)")
            if let group {
                print("repeats    \(objective.metric) \(group.meanText), first result \(Format.value(best.objective))  (trials \(group.repeats.map(String.init).joined(separator: ", ")))")
            }
        }
        for (name, value) in best.parameters.sortedPairs {
            print("  \(name) = \(value.text)")
        }
        for (name, value) in best.outputs.sorted(by: { $0.key < $1.key }) {
            print("  output \(name) = \(value)")
        }
        if let attempt {
            print("command    \(attempt.argv.map(shellQuoted).joined(separator: " "))")
            print("wall       \(attempt.wallMillis.map { Format.duration(seconds: Double($0) / 1000) } ?? "-")  worker \(attempt.worker)")
            print("logs       intern logs \(best.id)")
        }
        let chain = view.lineage(of: best, among: byID)
        if chain.count > 1 {
            print("lineage    \(view.lineageLine(of: best, among: byID))")
            for ancestor in chain.dropFirst() {
                let metric = view.stages[ancestor.stage].objective.map { "\($0.metric) \(Format.value(ancestor.objective))  " } ?? ""
                let outputs = ancestor.outputs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                print("  \(view.name(of: ancestor)) trial \(ancestor.id): \(metric)\(Format.parameters(ancestor.parameters))\(outputs.isEmpty ? "" : "  -> \(outputs)")")
            }
        }
    }

    /// Several objectives: the Pareto front of the stage's feasible trials, not one best.
    /// The front as the report computes it (one computation for both).
    private func showParetoFront(objectives: [Objective], store: CampaignStore) throws {
        let report: CampaignReport
        do {
            // The front and its candidates as the digest reads them (the same as a full report's).
            report = try CampaignReport.build(store: store, now: unixMillisNow(), extent: .digest)
        } catch let error as ReportError {
            throw ValidationError(error.description)
        }
        let front = report.best
        guard !front.isEmpty else {
            print("no completed trial reported all of \(objectives.map(\.metric).joined(separator: ", ")) yet")
            throw ExitCode(ExitCodes.noTrialCompleted)
        }
        let judged = objectives.map { "\($0.metric) \($0.direction.rawValue)" }.joined(separator: ", ")
        print("pareto front: \(front.count) of \(report.paretoCandidates) feasible trials (\(judged))")
        let rows = front.map { trial -> [String] in
            let values: [String] = (trial.objectives ?? []).map { Format.value($0) }
            let parameters: String = trial.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return [String(trial.id)] + values + [parameters]
        }
        print(Format.table(["trial"] + objectives.map(\.metric) + ["parameters"], rows))
    }
}

/// Quotes an argument for display so that it can be pasted into a POSIX shell.
func shellQuoted(_ argument: String) -> String {
    let safe = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
    if safe, !argument.isEmpty { return argument }
    return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
