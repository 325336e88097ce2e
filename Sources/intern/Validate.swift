import ArgumentParser
import Foundation
import InternCore

/// `intern validate`: checks a campaign spec without running it: the first problem with its file,
/// line and key, or what the campaign would run (its space, objective, constraints, budget, and
/// what agents may add). With `--dir` (or `--campaign`), the spec a campaign was started with.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a campaign spec without running it: the first problem (file, line, key), or a summary of what it would run.",
        discussion: """
            intern validate c.yaml checks a file; intern validate --dir .intern/sft-3 summarises the spec a campaign runs.
            intern validate --results --top 3 --repeats 3 asks the running campaign to run its 3 best configurations 3 more \
            times each with new seeds (INTERN_SEED, or the spec's validate: seed parameter) and judge whether the best holds \
            (intern best shows the verdict; docs/campaign.md, Validation). On a finished campaign the request waits: \
            intern resume runs the repeats.
            """)

    @Argument(help: "The campaign spec (YAML); leave it out to read a campaign's own with --dir or --campaign.")
    var spec: String?

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @OptionGroup var who: ActorOption

    @Flag(name: .long, help: "Validate the campaign's results instead: repeat its best configurations with new seeds (now if it runs; on a finished one, when `intern resume` runs it).")
    var results = false

    @Option(name: .long, help: "With --results: how many of the best configurations to repeat (default: the spec's validate:, else 3).")
    var top: Int?

    @Option(name: .long, help: "With --results: how many times to repeat each (at least 2; default: the spec's validate:, else 3).")
    var repeats: Int?

    func validate() throws {
        if results, spec != nil {
            throw ValidationError("--results validates a running campaign's results: name it with --dir or --campaign, not a spec file")
        }
        if !results, top != nil || repeats != nil {
            throw ValidationError("--top and --repeats go with --results")
        }
        if let top, !(1...1000).contains(top) { throw ValidationError("--top must be 1 to 1000") }
        if let repeats, !(2...1000).contains(repeats) { throw ValidationError("--repeats must be 2 to 1000") }
        // A coordinator runs `validate` for a remote client with its campaign's --dir: never on a
        // file of its host's the client names.
        if spec != nil, location.dir != nil || location.campaign != nil {
            throw ValidationError("give a spec file or a campaign (--dir, --campaign), not both")
        }
    }

    func run() async throws {
        if try await remote.forward() { return }
        if results {
            try await submitControl(
                location: location, kind: .validate, target: "\(top.map(String.init) ?? "-") \(repeats.map(String.init) ?? "-")", who: who)
            return
        }
        let file: CampaignFile
        if let spec {
            file = try CampaignFile.load(spec)
        } else {
            let store = try location.open()
            guard let info = try store.info() else { throw ValidationError("\(store.directory) holds no campaign") }
            file = try CampaignFile.parse(stored: info)
        }
        print(Self.summary(file.spec))
    }

    /// What a spec runs, in a few lines.
    static func summary(_ spec: CampaignSpec) -> String {
        var lines = ["valid: campaign \(spec.name), \(spec.trials) trials" + (spec.isPipeline ? " in its first of \(spec.stages.count) stages" : "")]
        if let map = spec.map {
            // A map's items, not the choice parameter they make (thousands of paths).
            let shown = map.items.count <= 3 ? map.items.joined(separator: ", ") : "\(map.items[0]), \(map.items[1]), …, \(map.items[map.items.count - 1])"
            lines.append("map: \(map.items.count) item\(map.items.count == 1 ? "" : "s")\(map.pattern.map { " matching \($0)" } ?? ""): \(shown)")
        } else {
            lines.append("space: " + (spec.space.parameters.isEmpty ? "none" : spec.space.parameters.map { "\($0.name) (\($0.domain.summary))" }.joined(separator: "; ")))
        }
        if let objective = spec.objective { lines.append("objective: \(objective.direction.rawValue) \(objective.metric)") }
        if !spec.constraints.isEmpty { lines.append("constraints: " + spec.constraints.map(\.description).joined(separator: ", ")) }
        if spec.budget.isSet {
            lines.append("budget: " + [spec.budget.hours.map { "\(Budget.text($0)) hours" }, spec.budget.gpuHours.map { "\(Budget.text($0)) GPU-hours" }]
                .compactMap { $0 }.joined(separator: ", "))
        }
        let policy = spec.agentPolicy.resolved(specTrials: spec.trials)
        lines.append("agents may add: \(policy.maxTrials ?? 0) trials, \(Budget.text(policy.maxHours ?? 0)) hours, \(Budget.text(policy.maxGPUHours ?? 0)) GPU-hours; cancel: \(policy.mayCancel == true ? "yes" : "no")")
        return lines.joined(separator: "\n")
    }
}
