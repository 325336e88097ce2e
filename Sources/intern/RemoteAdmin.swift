import ArgumentParser
import Foundation
import InternAuth
import InternCoordinator
import InternJob
import InternProtocol
import InternWorker
import NNG

/// `--coordinator URL`: run an admin command on a remote coordinator instead of reading the
/// campaign directory here. The command travels as an ``AdminRequest`` over the coordinator's
/// socket, authenticated like a worker (the campaign's credentials), and the coordinator runs
/// it on its own campaign directory; what it printed and its exit status come back.
struct RemoteOptions: ParsableArguments {
    @Option(name: .long, help: "Ask the coordinator at this URL (tcp://host:port, tls+tcp://host:port, ipc://path) instead of reading a campaign directory here.")
    var coordinator: String?

    @OptionGroup var security: AuthOptions

    /// The options that choose where a command runs: never forwarded.
    static let own: Set<String> = ["--coordinator", "--auth", "--insecure", "--log-level"]
    static let flags: Set<String> = ["--insecure"]

    /// When `--coordinator` is given: runs `intern ARGS` there (ARGS as typed, minus the options
    /// above), prints its output and exits with its status; returns false otherwise.
    func forward() async throws -> Bool {
        guard coordinator != nil else { return false }
        var arguments: [String] = []
        var raw = CommandLine.arguments.dropFirst()
        while let argument = raw.popFirst() {
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if Self.own.contains(name) {
                if !argument.contains("="), !Self.flags.contains(name) { _ = raw.popFirst() }
                continue
            }
            arguments.append(argument)
        }
        let reply = try await connect().run(arguments)
        FileHandle.standardOutput.write(Data(reply.stdout))
        FileHandle.standardError.write(Data(reply.stderr))
        if reply.exitCode != 0 { throw ExitCode(Int32(clamping: reply.exitCode)) }
        return true
    }

    /// A connection to the coordinator named by `--coordinator`, authenticated as a worker is.
    func connect() throws -> AdminConnection {
        guard let url = coordinator else { throw ValidationError("--coordinator is required") }
        let (credentials, tls) = try security.security(for: [url], option: "--coordinator", side: .client)
        return try AdminConnection(url: url, credentials: credentials, tls: tls)
    }
}

/// One REQ socket to a coordinator for the life of an admin command (`logs --follow` asks many
/// times on it), one request at a time.
final class AdminConnection: Sendable {
    private let socket: Socket
    private let context: Context
    private let link: CoordinatorLink
    private let url: String
    init(url: String, credentials: Credentials?, tls: TLSSettings?) throws {
        self.url = url
        socket = try Socket.request(maxMessageSize: 64 << 20)
        try socket.dial(url, tls: tls)
        context = try socket.openContext()
        // One-shot: a hang-up is an answer (the coordinator tells strangers nothing).
        link = CoordinatorLink(codec: MessageCodec(maxMessageBytes: 64 << 20), credentials: credentials, hangUpsTolerated: 1)
    }

    func run(_ arguments: [String]) async throws -> AdminReply {
        let request = AdminRequest(requestId: UInt64.random(in: 1...UInt64.max), arguments: arguments)
        let reply: Message
        do {
            reply = try await link.request(.adminRequest(request), on: context, timeout: .seconds(30))
        } catch let error as NNGError where error == .timedOut {
            throw ValidationError("the coordinator at \(url) did not answer within 30 s (is it running, and is the address right?)")
        } catch let error as AuthError {
            throw ValidationError("the coordinator at \(url) refused: \(error)")
        } catch let error as HungUp {
            throw ValidationError("the coordinator at \(url) refused: \(error)")
        }
        switch reply {
        case .adminReply(let answer): return answer
        case .rejected(let rejected): throw ValidationError("the coordinator at \(url) refused: \(rejected.reason)")
        default: throw ValidationError("unexpected reply from \(url): \(reply.kind)")
        }
    }
}

/// The coordinator's side: runs an admin command as `intern ARGS --dir CAMPAIGN` (a child
/// process, so the coordinator's thread never waits on a query and the output is exactly what
/// the command prints locally). Only admin commands run; options that would reach another
/// directory, follow forever, or forward again are refused.
enum AdminRunner {
    static let commands: Set<String> = ["status", "trials", "logs", "best", "metrics", "failures", "report", "digest", "samples", "grep", "diff", "cancel", "drain", "pause", "resume", "add", "validate"]
    static let refused: Set<String> = ["--dir", "--root", "--campaign", "--coordinator", "--auth", "--insecure", "--follow", "-f", "--workers", "--slots", "--http", "--http-token-file"]
    /// Exit status of `logs --from-byte` while the attempt may print more.
    static let moreToCome: Int32 = 75

    static func handler(directory: String, maxOutputBytes: Int) -> @Sendable ([String]) async -> AdminOutput {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        return { arguments in
            guard let command = arguments.first, commands.contains(command) else {
                return AdminOutput(exitCode: ExitCodes.usage, stderr: "intern: \(arguments.first ?? "(nothing)") is not an admin command; the coordinator runs \(commands.sorted().joined(separator: ", "))\n")
            }
            if let bad = arguments.dropFirst().first(where: { refused.contains($0.split(separator: "=").first.map(String.init) ?? $0) }) {
                return AdminOutput(exitCode: ExitCodes.usage, stderr: "intern: \(bad) cannot be used with --coordinator\n")
            }
            let child = command == "resume" ? [command, directory] + arguments.dropFirst() : arguments + ["--dir", directory]
            return await capture(executable: executable, arguments: child, limit: maxOutputBytes)
        }
    }

    /// Runs the child (``ShortCommand``: no shell, its own process group), its output collected
    /// up to `limit` bytes, for at most 60 s, without holding one of Swift's few cooperative
    /// threads (the coordinator's clock and sockets run there).
    static func capture(executable: String, arguments: [String], limit: Int) async -> AdminOutput {
        guard let result = await ShortCommand.run(
            [executable] + arguments, environment: ProcessInfo.processInfo.environment,
            in: FileManager.default.currentDirectoryPath, timeout: .seconds(60), limit: limit)
        else {
            return AdminOutput(exitCode: ExitCodes.failure, stderr: "intern: cannot run the admin command \(executable)\n")
        }
        var stderr = Array(result.stderr.suffix(64 << 10))
        if result.cut { stderr += Array("intern: output cut at \(limit) bytes\n".utf8) }
        if result.timedOut { stderr += Array("intern: the admin command was stopped after 60 s\n".utf8) }
        return AdminOutput(exitCode: result.exitCode, stdout: result.stdout, stderr: stderr)
    }
}
