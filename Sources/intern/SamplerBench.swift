import ArgumentParser
import Foundation
import InternCore

/// `intern sampler-bench` (hidden; `make bench-search` drives it): one sequential search with a
/// sampler, asked and told over a pipe, so a benchmark in another language can score the trials.
///
/// For each trial it writes the parameters as one JSON object on a line of stdout
/// (`{"lr":0.001,"batch_size":32}`) and reads the result from a line of stdin: `{"value": 0.41}`
/// for a completed trial, `{"pruned": true, "step": 3, "value": 0.9}` for one stopped early, or
/// `{"infeasible": true, "value": 0.38}` for one that broke a constraint. The sampler sees the same
/// history the coordinator would keep for a campaign run one trial at a time.
struct SamplerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampler-bench", abstract: "Run one sequential search, told results over stdin (benchmark).", shouldDisplay: false)

    @Option(name: .long, help: "The space as JSON: [{\"name\":..., \"domain\":{\"type\":\"uniform\",\"low\":0,\"high\":1}}, ...].")
    var space: String

    @Option(name: .long, help: "The sampler as JSON, e.g. {\"type\":\"tpe\",\"seed\":3}.")
    var sampler: String

    @Option(name: .long, help: "Trials to run.")
    var trials: Int = 50

    @Option(name: .long, help: "minimize or maximize.")
    var direction: String = "minimize"

    /// A result told for one trial.
    struct Result: Decodable {
        var value: Double?
        var pruned: Bool?
        var step: Int64?
        var infeasible: Bool?
    }

    func run() throws {
        let decoder = JSONDecoder()
        let space = try decoder.decode(ParameterSpace.self, from: Data(self.space.utf8))
        let kind = try decoder.decode(SamplerKind.self, from: Data(sampler.utf8))
        let direction: Objective.Direction = direction == "maximize" ? .maximize : .minimize
        let search = try Sampler(space: space, kind: kind, direction: direction)
        var history = SearchHistory(space: space, direction: direction)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for index in 0..<trials {
            let parameters = search.parameters(forTrial: index, history: history)
            FileHandle.standardOutput.write(try encoder.encode(parameters) + Data("\n".utf8))
            guard let line = readLine(strippingNewline: true) else { return }
            let result = try decoder.decode(Result.self, from: Data(line.utf8))
            let ended = Int64(index)
            if result.pruned == true {
                history.recordPruned(parameters, step: result.step ?? 0, value: result.value ?? .nan, endedAt: ended, trial: index + 1)
            } else if result.infeasible == true {
                history.recordInfeasible(parameters, objective: result.value, endedAt: ended, trial: index + 1)
            } else if let value = result.value {
                history.record(parameters, objective: value, endedAt: ended, trial: index + 1)
            }
        }
    }
}
