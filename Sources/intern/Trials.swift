import ArgumentParser
import Foundation
import InternCore
import InternReport
import InternStore

/// `intern trials`: every trial, best first.
struct Trials: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trials", abstract: "List trials sorted by the objective (best first); --json or --csv for tools.")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Flag(name: .long, help: "Print JSON (one array of trial objects).")
    var json = false

    @Flag(name: .long, help: "Print CSV with one column per parameter.")
    var csv = false

    func validate() throws {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
    }

    func run() async throws {
        if try await remote.forward() { return }
        try show()
    }

    /// Prints the view from the campaign directory here.
    func show() throws {
        let store = try location.open()
        guard let info = try store.info() else { throw ValidationError("the campaign directory is empty") }
        let view = try StageView(info: info)
        // Stage by stage, each sorted by its own objective, best first.
        let all = try store.trials()
        let trials = view.stages.indices.flatMap { index in view.order(stage: index).sorted(all.filter { $0.stage == index }) }
        let attempts = Dictionary(grouping: try store.attempts(), by: \.trial)
        let parameterNames = Array(Set(trials.flatMap { $0.parameters.sortedPairs.map(\.0) })).sorted()
        let pipeline = view.spec.isPipeline
        let metric = pipeline ? "objective" : info.objectiveMetric ?? "objective"
        // Every metric of the attempt that completed the trial (else its latest): final, min, max,
        // and best where a stage says which way is better.
        let series = try store.allMetricSeries()
        let directions = view.metricDirections
        func metrics(of trial: TrialRecord) -> [String: MetricSeriesSummary] {
            let mine = attempts[trial.id] ?? []
            guard let attempt = mine.last(where: { $0.status == .succeeded }) ?? mine.max(by: { $0.number < $1.number }) else { return [:] }
            return Dictionary((series[attempt.id] ?? []).map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        }
        func best(_ summary: MetricSeriesSummary) -> Double? {
            switch directions[summary.name] {
            case .minimize: summary.minValue
            case .maximize: summary.maxValue
            case nil: nil
            }
        }
        let metricNames = Set(trials.flatMap { metrics(of: $0).keys }).sorted()
        // What each trial's latest attempt ran with (code, packages, host), as its worker reported.
        let provenance = json ? try store.provenance() : [:]
        // Validation (`validate:`): each stage's verdict, and what a trial is in it.
        let verdicts: [Int: ValidationVerdict] = Dictionary(uniqueKeysWithValues: view.stages.indices.compactMap { index in
            guard let objective = view.stages[index].objective,
                  let verdict = ValidationVerdict.judge(all.lazy.filter { $0.stage == index }, objective: objective) else { return nil }
            return (index, verdict)
        })
        func validation(of trial: TrialRecord) -> String? {
            guard let verdict = verdicts[trial.stage] else { return nil }
            if let number = trial.repeatNumber { return "repeat \(number) of \(trial.repeatOf.map { "#\($0)" } ?? "the baseline")" }
            guard let group = verdict.group(of: trial.id) else { return "" }
            let mark = !verdict.isSettled ? "validating" : verdict.best == trial.id ? (verdict.isValidated ? "validated" : "not validated") : ""
            return group.meanText + (mark.isEmpty ? "" : " " + mark)
        }

        if json {
            let objects: [[String: Any]] = trials.map { trial in
                let last = attempts[trial.id]?.max { $0.number < $1.number }
                var object: [String: Any] = [
                    "trial": trial.id, "status": trial.status.rawValue, "attempts": trial.attemptCount,
                    "parameters": Dictionary(uniqueKeysWithValues: trial.parameters.sortedPairs.map { ($0.0, jsonValue($0.1)) }),
                ]
                object["objective"] = trial.objective ?? NSNull()
                object["wall_seconds"] = last?.wallMillis.map { Double($0) / 1000 } ?? NSNull()
                object["exit_code"] = last?.exitCode.map { Int($0) } ?? NSNull()
                object["worker"] = last?.worker.rawValue ?? NSNull()
                object["gpus"] = last?.gpus ?? []
                // Over every attempt of the trial (failed ones cost too).
                let mine = attempts[trial.id] ?? []
                object["cpu_seconds"] = Double(mine.reduce(0) { $0 + ($1.userCPUMillis ?? 0) + ($1.systemCPUMillis ?? 0) }) / 1000
                object["gpu_seconds"] = Double(mine.reduce(0) { $0 + ($1.wallMillis ?? 0) * UInt64($1.gpus.count) }) / 1000
                if let note = trial.note { object["note"] = note }
                if let feasible = trial.feasible { object["feasible"] = feasible }
                if pipeline {
                    object["stage"] = view.name(of: trial)
                    object["parent"] = trial.parent ?? NSNull()
                    object["inputs"] = trial.inputs
                    if !trial.parents.isEmpty { object["parents"] = trial.parents }
                }
                if !trial.outputs.isEmpty { object["outputs"] = trial.outputs }
                if let number = trial.repeatNumber {
                    object["repeat"] = number
                    object["repeat_of"] = trial.repeatOf ?? NSNull()
                    object["seed"] = trial.seed ?? NSNull()
                } else if let verdict = verdicts[trial.stage], let group = verdict.group(of: trial.id) {
                    object["validation"] = [
                        "mean": group.mean ?? NSNull(), "sd": group.standardDeviation ?? NSNull(), "repeats": group.repeats,
                        "values": group.values, "best": verdict.best == trial.id, "validated": verdict.isValidated && verdict.best == trial.id,
                        "verdict": verdict.summary,
                    ] as [String: Any]
                }
                if let last, let fields = provenance[last.id] { object["provenance"] = fields }
                if let last, !last.environment.isEmpty { object["environment"] = last.environment }
                object["metrics"] = metrics(of: trial).mapValues { summary -> [String: Any] in
                    // JSON has no infinity (an fp16 `grad_norm: inf` is common): non-finite values are strings.
                    func number(_ value: Double?) -> Any {
                        guard let value else { return NSNull() }
                        return value.isFinite ? value : String(value)
                    }
                    var values: [String: Any] = ["last": number(summary.lastValue), "min": number(summary.minValue),
                                                 "max": number(summary.maxValue), "points": summary.count, "last_step": summary.lastStep]
                    if directions[summary.name] != nil { values["best"] = number(best(summary)) }
                    return values
                }
                return object
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else if csv {
            let metricColumns = metricNames.flatMap { name in
                ["\(name).last", "\(name).min", "\(name).max"] + (directions[name] != nil ? ["\(name).best"] : [])
            }
            print((["trial"] + (pipeline ? ["stage", "parent"] : []) + ["status", metric, "attempts", "wall_seconds"] + parameterNames + metricColumns)
                .map(csvField).joined(separator: ","))
            for trial in trials {
                let last = attempts[trial.id]?.max { $0.number < $1.number }
                let values = Dictionary(uniqueKeysWithValues: trial.parameters.sortedPairs.map { ($0.0, $0.1.text) })
                let objective: String = trial.objective.map { "\($0)" } ?? ""
                let wall: String = last?.wallMillis.map { String(Double($0) / 1000) } ?? ""
                let lineage = pipeline ? [view.name(of: trial), trial.parent.map(String.init) ?? ""] : []
                let fixed: [String] = [String(trial.id)] + lineage + [trial.feasible == false ? "infeasible" : trial.status.rawValue, objective, String(trial.attemptCount), wall]
                let found = metrics(of: trial)
                let metricValues = metricNames.flatMap { name -> [String] in
                    let summary = found[name]
                    let text = { (value: Double?) in value.map { "\($0)" } ?? "" }
                    return [text(summary?.lastValue), text(summary?.minValue), text(summary?.maxValue)]
                        + (directions[name] != nil ? [text(summary.flatMap(best))] : [])
                }
                let row: [String] = fixed + parameterNames.map { values[$0] ?? "" } + metricValues
                print(row.map(csvField).joined(separator: ","))
            }
        } else {
            let rows = trials.map { trial -> [String] in
                let last = attempts[trial.id]?.max { $0.number < $1.number }
                let lineage = pipeline ? [view.name(of: trial), trial.parent.map(String.init) ?? "-"] : []
                let validated = verdicts.isEmpty ? [] : [validation(of: trial).map { $0.isEmpty ? "-" : $0 } ?? "-"]
                return [String(trial.id)] + lineage + [trial.feasible == false ? "infeasible" : trial.status.rawValue, Format.value(trial.objective)]
                    + validated + [String(trial.attemptCount), last?.wallMillis.map { Format.duration(seconds: Double($0) / 1000) } ?? "-", Format.parameters(trial.parameters)]
            }
            print(Format.table(
                ["trial"] + (pipeline ? ["stage", "from"] : []) + ["status", metric] + (verdicts.isEmpty ? [] : ["repeats (mean ± sd)"])
                    + ["attempts", "wall", "parameters"], rows))
            for (index, verdict) in verdicts.sorted(by: { $0.key < $1.key }) {
                print("\(pipeline ? "\(view.stages[index].name): " : "")\(verdict.summary)")
            }
        }
    }
}

private func jsonValue(_ value: ParameterValue) -> Any {
    switch value {
    case .int(let v): v
    case .double(let v): v
    case .string(let v): v
    case .bool(let v): v
    }
}

private func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
