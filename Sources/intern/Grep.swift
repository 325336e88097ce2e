import ArgumentParser
import Foundation
import InternCore
import InternReport
import InternStore

/// `intern grep PATTERN`: every stored log of the campaign searched, in parallel.
struct Grep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grep",
        abstract: "Search every stored log of the campaign; print trial, attempt, stream and line of each match.")

    @Argument(help: "The text to find (a regular expression with --regex).")
    var pattern: String

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Option(name: .long, help: "Only trials of this pipeline stage.")
    var stage: String?

    @Option(name: .long, help: "Only trials with this status (pending, running, completed, infeasible, failed, cancelled, pruned).")
    var status: String?

    @Option(name: .long, help: "stdout, stderr or both.")
    var stream = "both"

    @Flag(name: [.customShort("i"), .long], help: "Ignore ASCII case.")
    var ignoreCase = false

    @Flag(name: .long, help: "PATTERN is a regular expression (slower: tried line by line).")
    var regex = false

    @Option(name: .long, help: "Print at most this many matches.")
    var max = 1_000

    @Flag(name: .long, help: "Say on stderr how many logs and bytes were searched, and how fast.")
    var stats = false

    func validate() throws {
        if pattern.isEmpty { throw ValidationError("the pattern is empty") }
        if let status, status != "infeasible", TrialStatus(rawValue: status) == nil {
            throw ValidationError("--status \(status): use one of pending, running, completed, infeasible, failed, cancelled, pruned")
        }
        if !["stdout", "stderr", "both"].contains(stream) { throw ValidationError("--stream must be stdout, stderr or both") }
        if max < 1 { throw ValidationError("--max must be >= 1") }
    }

    func run() async throws {
        if try await remote.forward() { return }
        let store = try location.open()
        var stageIndex: Int?
        if let stage {
            guard let info = try store.info() else { throw ValidationError("the campaign directory is empty") }
            let names = try StageView(info: info).stages.map(\.name)
            guard let index = names.firstIndex(of: stage) else {
                throw ValidationError("no stage '\(stage)' (stages: \(names.joined(separator: ", ")))")
            }
            stageIndex = index
        }
        let status = self.status
        let search = LogSearch(pattern: regex ? .regex(pattern, ignoreCase: ignoreCase) : .fixed(pattern, ignoreCase: ignoreCase))
        let result: LogSearch.Result
        do {
            let streams: Set<StoredStream> = stream == "both" ? [.stdout, .stderr] : [StoredStream(name: stream)!]
            result = try search.run(store: store, limit: max, streams: streams) { trial in
                (stageIndex == nil || trial.stage == stageIndex)
                    && (status == nil || (status == "infeasible" ? trial.feasible == false : trial.status.rawValue == status))
            }
        } catch let error as ReportError {
            throw ValidationError(error.description)
        }
        var out = ""
        for match in result.matches {
            out += "trial \(match.trial) attempt \(match.number) \(match.stream):\(match.line): \(match.text)\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
        for problem in result.unreadable { FileHandle.standardError.write(Data("intern: could not search a log: \(problem)\n".utf8)) }
        if result.more > 0 { FileHandle.standardError.write(Data("intern: \(result.more) more matches not shown (--max \(max))\n".utf8)) }
        if stats {
            let megabytes = Double(result.bytes) / 1_000_000
            FileHandle.standardError.write(Data(String(
                format: "searched %d logs, %.1f MB in %.3f s: %.1f MB/s\n", result.logs, megabytes, result.seconds,
                megabytes / Swift.max(result.seconds, 1e-9)).utf8))
        }
        // As grep: 2 when a log could not be searched (whatever was found), 1 when nothing matched.
        if !result.unreadable.isEmpty { throw ExitCode(2) }
        if result.matches.isEmpty { throw ExitCode(1) }
    }
}
