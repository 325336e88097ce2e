import Foundation
import InternProtocol
import InternTestKit
import Testing

/// `intern --help` and every command's `--help` read as prose: the root groups its commands (run,
/// inspect, steer, operate), and no sentence is broken in the middle of a line (a discussion
/// string with hard newlines inside a paragraph was wrapped again by ArgumentParser, leaving
/// lines of two or three words).
@Suite struct HelpEndToEndTests {
    static let commands = [
        "run", "resume", "coordinator", "worker", "status", "trials", "logs", "best", "metrics", "failures", "report", "digest", "samples",
        "grep", "diff", "serve", "pause", "add", "cancel", "drain", "init-auth",
    ]

    @Test func theRootGroupsItsCommands() async throws {
        let help = try await InternBinary.run(["--help"], in: FileManager.default.temporaryDirectory.path)
        #expect(help.status == 0)
        for group in ["RUN SUBCOMMANDS:", "INSPECT SUBCOMMANDS:", "STEER SUBCOMMANDS:", "OPERATE SUBCOMMANDS:"] {
            #expect(help.stdout.contains(group), "\(help.stdout)")
        }
        for command in Self.commands {
            #expect(help.stdout.contains("\n  \(command) "), "\(command) is missing from --help")
        }
        #expect(!help.stdout.contains("synth-campaign") && !help.stdout.contains("parse-cost"))
    }

    @Test func theRootSaysItsVersion() async throws {
        let version = try await InternBinary.run(["--version"], in: FileManager.default.temporaryDirectory.path)
        #expect(version.status == 0)
        // One line: the number first, then the commit it was built from and the protocol version.
        let line = version.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n"), "\(version.stdout)")
        let number = line.split(separator: " ").first ?? ""
        #expect(number.split(separator: ".").count == 3 && number.split(separator: ".").allSatisfy { Int($0) != nil }, "\(version.stdout)")
        #expect(line.hasSuffix(", protocol \(ProtocolVersion.current))"), "\(version.stdout)")
        // Built in a git checkout, the commit is known (12 hex digits, -dirty with changes); outside one, unknown.
        let commit = line.components(separatedBy: "(commit ").last?.split(separator: ",").first.map(String.init) ?? ""
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: package.appendingPathComponent(".git").path) {
            #expect(commit.prefix(12).count == 12 && commit.prefix(12).allSatisfy(\.isHexDigit), "\(version.stdout)")
        } else {
            #expect(commit == "unknown", "\(version.stdout)")
        }
    }

    @Test(arguments: [""] + commands)
    func noSentenceIsBrokenMidLine(command: String) async throws {
        let help = try await InternBinary.run((command.isEmpty ? [] : [command]) + ["--help"], in: FileManager.default.temporaryDirectory.path)
        #expect(help.status == 0)
        // The overview and discussion: everything before USAGE.
        let prose = help.stdout.components(separatedBy: "\nUSAGE:")[0].split(separator: "\n", omittingEmptySubsequences: false)
        for (line, next) in zip(prose, prose.dropFirst()) where !line.isEmpty && !next.isEmpty {
            // Example command lines stand alone; any other line followed by more of its paragraph
            // was wrapped by ArgumentParser at 80 columns, so it is long.
            guard !line.hasPrefix("intern "), !next.hasPrefix("intern ") else { continue }
            #expect(line.count >= 50, "`intern \(command) --help` breaks a line short: \"\(line)\" / \"\(next)\"")
        }
    }
}
