import ArgumentParser
import Logging

/// `intern`: runs ML experiment campaigns across worker processes.
@main
struct Intern: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intern",
        abstract: "Run ML experiment campaigns (sweeps, evaluations) across worker processes.",
        discussion: """
            Start with `intern run CAMPAIGN.yaml --workers 2`: a coordinator and two local workers run \
            the campaign; its store lands in ./.intern/<campaign>/. Then inspect it with `intern status`, \
            `intern trials`, `intern logs TRIAL` and `intern best`.
            """,
        version: InternVersion.description,
        subcommands: [SamplerCost.self, SamplerBench.self, SynthCampaign.self, ParseCost.self, SynthLab.self, LabBench.self],  // hidden: benchmarks and tests
        groupedSubcommands: [
            CommandGroup(name: "Run", subcommands: [Run.self, Validate.self, Resume.self, CoordinatorCommand.self, WorkerCommand.self]),
            CommandGroup(name: "Inspect", subcommands: [
                Status.self, Trials.self, Logs.self, Best.self, Metrics.self, Failures.self, Report.self, Digest.self, Samples.self, Grep.self, Diff.self, Serve.self,
            ]),
            CommandGroup(name: "Lab (every campaign under the root)", subcommands: [Campaigns.self, RecallCommand.self, Note.self]),
            CommandGroup(name: "Steer", subcommands: [Pause.self, Add.self, Cancel.self, Drain.self]),
            CommandGroup(name: "Operate", subcommands: [InitAuth.self, Token.self]),
            CommandGroup(name: "Agents", subcommands: [MCPCommand.self, AgentCommand.self]),
        ])

    /// ArgumentParser's entry point; a long-running command first sets how it returns memory
    /// (``ProcessMemory``). Parsing twice costs microseconds and has no effect.
    static func main() async {
        if (try? parseAsRoot()) is LongRunningCommand { ProcessMemory.returnFreedMemory() }
        await main(nil)
    }
}

/// Exit codes scripts can rely on.
enum ExitCodes {
    /// The campaign finished and at least one trial completed.
    static let success: Int32 = 0
    /// Something went wrong (store, network, a refused worker).
    static let failure: Int32 = 1
    /// Bad usage or a bad campaign file (ArgumentParser's validation errors, EX_USAGE).
    static let usage: Int32 = 64
    /// The campaign finished but no trial completed.
    static let noTrialCompleted: Int32 = 3
    /// The campaign finished, trials completed, but none reported an objective metric (a misspelt
    /// `objective.metric`, or a job that does not print it): no trial can be called the best.
    static let objectiveNeverReported: Int32 = 4
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .warning

    /// Sets up swift-log once for the process: human-readable lines on stderr.
    func bootstrapLogging() {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
