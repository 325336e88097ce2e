import ArgumentParser
import Foundation
import InternCore
import InternReport
import InternStore
import Zstd

/// `intern logs`: a trial's output, decompressed from the frames as stored.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
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

    @OptionGroup var remote: RemoteOptions

    @Option(name: .long, help: ArgumentHelp("Print the output from this byte on, at most 4 MiB, after a first stderr line `attempt N`; exit 75 while more may come (how --coordinator reads logs).", visibility: .hidden))
    var fromByte: UInt64?

    /// The most output one `--from-byte` answer carries.
    static let chunk = 4 << 20

    @Flag(name: .long, help: "Condense: progress bars at their last state, repeated lines folded, metric runs summarised, tracebacks reduced to their last frames.")
    var condensed = false

    func validate() throws {
        guard StoredStream(name: stream) != nil else { throw ValidationError("--stream must be stdout or stderr") }
        if condensed && follow { throw ValidationError("--condensed reads the whole log: leave out --follow") }
    }

    func run() async throws {
        if condensed {
            // Remotely, the coordinator runs the same command on its copy of the store.
            if try await remote.forward() { return }
            return try printCondensed()
        }
        if remote.coordinator != nil { return try await followRemotely() }
        if let fromByte { return try printChunk(from: fromByte) }
        let store = try location.open()
        let stream = StoredStream(name: stream)!
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
                // What the file holds is shown; what it lacks of the indexed log is then said, and
                // the command fails (a log cut short is never passed off as whole).
                let (bytes, missing) = try store.readAvailable(log, from: printed, to: log.length)
                output.removeAll(keepingCapacity: true)
                try decompressor.decompress(bytes, into: &output)
                FileHandle.standardOutput.write(Data(output))
                if missing > 0 { throw CampaignStore.truncation(log, missing: missing) }
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

    /// The chosen attempt's log, condensed (`LogCondenser`), with the campaign's metric prefix.
    private func printCondensed() throws {
        let store = try location.open()
        let choice = AttemptChoice(trial: trial, number: attempt)
        let attempts = try store.attempts(trial: trial)
        guard let record = choice.pick(from: attempts) else { throw choice.missing(in: attempts) }
        let prefix = try store.info().flatMap { try? StageView(info: $0).spec.metricPrefix }
        // Streaming: a running attempt's log ends in an open (flushed) frame.
        let log = try store.storedLog(trial: trial, attempt: record.id, stream: StoredStream(name: stream)!)
        var bytes: [UInt8] = []
        try ZstdDecompressor().decompress(try store.readCompressed(log, from: 0, to: log.length), into: &bytes)
        for line in LogCondenser(metricPrefix: prefix).condense(bytes) { print(line) }
    }

    /// One chunk of the chosen attempt's output from `offset` (decompressed bytes): what a remote
    /// client asks for, repeatedly. The stored log is one zstd stream, so the chunk is found by
    /// decompressing from the start.
    private func printChunk(from offset: UInt64) throws {
        let store = try location.open()
        let stream = StoredStream(name: stream)!
        let choice = AttemptChoice(trial: trial, number: attempt)
        let attempts = try store.attempts(trial: trial)
        guard let record = choice.pick(from: attempts) else {
            // Nothing yet: a follower waits for the first attempt.
            if attempts.isEmpty { throw ExitCode(AdminRunner.moreToCome) }
            throw choice.missing(in: attempts)
        }
        let ended = record.status.isTerminal
        let log = try store.storedLog(trial: trial, attempt: record.id, stream: stream)
        FileHandle.standardError.write(Data("attempt \(record.number)\n".utf8))
        var output: [UInt8] = []
        if log.length > 0 {
            try ZstdDecompressor().decompress(try store.readCompressed(log, from: 0, to: log.length), into: &output)
        }
        let start = Int(min(UInt64(output.count), offset))
        let end = min(output.count, start + Self.chunk)
        FileHandle.standardOutput.write(Data(output[start..<end]))
        if !ended || end < output.count { throw ExitCode(AdminRunner.moreToCome) }
        if log.lostLength > 0 {
            FileHandle.standardError.write(Data("intern: \(log.lostLength) bytes of this \(stream) were lost: the worker's spool was full while the coordinator was unreachable (events show where)\n".utf8))
        }
    }

    /// `--coordinator`: asks for the output chunk by chunk; with --follow, until the attempt ends.
    private func followRemotely() async throws {
        let connection = try remote.connect()
        var offset: UInt64 = 0
        var following: String?
        while true {
            var arguments = ["logs", String(trial), "--stream", stream, "--from-byte", String(offset)]
            if let attempt { arguments += ["--attempt", String(attempt)] }
            let reply = try await connection.run(arguments)
            let errors = String(decoding: reply.stderr, as: UTF8.self)
            guard reply.exitCode == 0 || reply.exitCode == Int64(AdminRunner.moreToCome) else {
                FileHandle.standardError.write(Data(reply.stderr))
                throw ExitCode(Int32(clamping: reply.exitCode))
            }
            var lines = errors.split(separator: "\n", omittingEmptySubsequences: false)
            let header = lines.first.map(String.init) ?? ""
            if header.hasPrefix("attempt ") {
                lines.removeFirst()
                if let previous = following, previous != header {
                    // A retry started while following: continue with the new attempt's output.
                    FileHandle.standardError.write(Data("--- \(header) ---\n".utf8))
                    following = header
                    offset = 0
                    continue
                }
                following = header
            }
            FileHandle.standardOutput.write(Data(reply.stdout))
            offset += UInt64(reply.stdout.count)
            let rest = lines.joined(separator: "\n")
            if reply.exitCode == 0 {
                if !rest.isEmpty { FileHandle.standardError.write(Data(rest.utf8)) }
                return
            }
            if reply.stdout.isEmpty {
                if !follow { return }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
