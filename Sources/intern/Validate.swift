import ArgumentParser
import Foundation
import InternCore

/// `intern validate`: checks a campaign spec without running it: the first problem with its file,
/// line and key, or what the campaign would run.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a campaign spec without running it: the first problem (file, line, key), or a summary of what it would run.")

    @Argument(help: "The campaign spec (YAML).")
    var campaign: String

    func run() throws {
        let file = try CampaignFile.load(campaign)
        let spec = file.spec
        var lines = ["valid: campaign \(spec.name), \(spec.trials) trials" + (spec.isPipeline ? " in its first of \(spec.stages.count) stages" : "")]
        lines.append("space: " + (spec.space.parameters.isEmpty ? "none" : spec.space.parameters.map { "\($0.name) (\($0.domain.typeName))" }.joined(separator: ", ")))
        if let objective = spec.objective { lines.append("objective: \(objective.direction.rawValue) \(objective.metric)") }
        if !spec.constraints.isEmpty { lines.append("constraints: " + spec.constraints.map(\.description).joined(separator: ", ")) }
        if spec.budget.isSet {
            lines.append("budget: " + [spec.budget.hours.map { "\(Budget.text($0)) hours" }, spec.budget.gpuHours.map { "\(Budget.text($0)) GPU-hours" }]
                .compactMap { $0 }.joined(separator: ", "))
        }
        let policy = spec.agentPolicy.resolved(specTrials: spec.trials)
        lines.append("agents may add: \(policy.maxTrials ?? 0) trials, \(Budget.text(policy.maxHours ?? 0)) hours, \(Budget.text(policy.maxGPUHours ?? 0)) GPU-hours; cancel: \(policy.mayCancel == true ? "yes" : "no")")
        print(lines.joined(separator: "\n"))
    }
}
