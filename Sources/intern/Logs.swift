import ArgumentParser
import Foundation
import InternCore
import InternStore
import Zstd

/// `intern logs`: a trial's output, decompressed from the frames as stored.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a trial's output (stdout by default) exactly as the job wrote it; --follow streams it live.")

    @OptionGroup var location: CampaignLocation

    @Argument(help: "The trial number.")
    var trial: Int

    @Option(name: .long, help: "The attempt number within the trial (default: the latest).")
    var attempt: Int?

    @Option(name: .long, help: "stdout or stderr.")
    var stream: String = "stdout"

    @Flag(name: .shortAndLong, help: "Keep printing new output until the attempt ends.")
    var follow = false

    func validate() throws {
        guard LogStream(name: stream) != nil else { throw ValidationError("--stream must be stdout or stderr") }
    }

    func run() async throws {
        let store = try location.open()
        let stream = LogStream(name: stream)!
        let decompressor = try ZstdDecompressor()
        var printed: UInt64 = 0
        var following: AttemptID?
        var output: [UInt8] = []
        while true {
            let attempts = try store.attempts(trial: trial)
            let choice = AttemptChoice(trial: trial, number: attempt)
            guard let record = choice.pick(from: attempts) else {
                if follow {
                    try await Task.sleep(for: .milliseconds(200))
                    continue
                }
                throw choice.missing(in: attempts)
            }
            if following != record.id {
                // A retry started while following: continue with the new attempt's output.
                if following != nil {
                    FileHandle.standardError.write(Data("--- attempt \(record.number) ---\n".utf8))
                }
                following = record.id
                decompressor.reset()
                printed = 0
            }
            let ended = record.status.isTerminal
            let log = try store.storedLog(trial: trial, attempt: record.id, stream: stream)
            if log.length > printed {
                let bytes = try store.readCompressed(log, from: printed, to: log.length)
                output.removeAll(keepingCapacity: true)
                try decompressor.decompress(bytes, into: &output)
                FileHandle.standardOutput.write(Data(output))
                printed = log.length
            }
            // The worker sends an attempt's last frame before (or with) its end, so an attempt
            // seen ended before its log was read has nothing more to come.
            if !follow || ended {
                if log.lostLength > 0 {
                    FileHandle.standardError.write(Data("intern: \(log.lostLength) bytes of this \(stream) were lost: the worker's spool was full while the coordinator was unreachable (events show where)\n".utf8))
                }
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
