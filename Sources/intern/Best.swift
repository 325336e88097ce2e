import ArgumentParser
import Foundation
import InternCore
import InternStore

/// `intern best`: the best completed trial.
struct Best: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the best completed trial: objective, parameters, command line.")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    func run() async throws {
        if try await remote.forward() { return }
        try show()
    }

    /// Prints the view from the campaign directory here.
    func show() throws {
        let store = try location.open()
        guard let info = try store.info() else { throw ValidationError("the campaign directory is empty") }
        guard let metric = info.objectiveMetric else {
            throw ValidationError("campaign \(info.name) has no objective: add `objective: {metric: NAME, direction: minimize|maximize}`")
        }
        guard let best = ObjectiveOrder(direction: info.objectiveDirection).best(of: try store.trials()) else {
            print("no completed trial reported \(metric) yet")
            throw ExitCode(ExitCodes.noTrialCompleted)
        }
        let attempt = try store.attempts(trial: best.id).last { $0.status == .succeeded }
        print("trial      \(best.id)")
        print("\(metric.padding(toLength: max(10, metric.count), withPad: " ", startingAt: 0)) \(Format.value(best.objective)) (\(info.objectiveDirection ?? ""))")
        for (name, value) in best.parameters.sortedPairs {
            print("  \(name) = \(value.text)")
        }
        if let attempt {
            print("command    \(attempt.argv.map(shellQuoted).joined(separator: " "))")
            print("wall       \(attempt.wallMillis.map { Format.duration(seconds: Double($0) / 1000) } ?? "-")  worker \(attempt.worker)")
            print("logs       intern logs \(best.id)")
        }
    }
}

/// Quotes an argument for display so that it can be pasted into a POSIX shell.
func shellQuoted(_ argument: String) -> String {
    let safe = argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
    if safe, !argument.isEmpty { return argument }
    return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
