import ArgumentParser
import Foundation

/// `intern mcp`: starts `intern-mcp`, the MCP server, installed beside `intern` (a program of its
/// own: the MCP SDK brings Foundation's networking and libcurl, which would make every intern
/// process start slower). Its options are `intern-mcp`'s (`intern mcp --help`); docs/agents.md.
struct MCPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve campaigns to an agent over the Model Context Protocol (stdio): read tools, answers within a token budget.",
        discussion: "Runs intern-mcp, installed beside intern, with these arguments; `intern-mcp --help` lists its options (--root, --dir, --coordinator, --auth, --insecure, --tokens).")

    @Argument(parsing: .allUnrecognized, help: "intern-mcp's options.")
    var arguments: [String] = []

    func run() throws {
        let program = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("intern-mcp").path
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw ValidationError("intern mcp needs intern-mcp beside intern (\(program)): `swift build` (or `make install`) builds it")
        }
        let argv = [program] + arguments
        var pointers = argv.map { strdup($0) } + [nil]
        execv(program, &pointers)
        throw ValidationError("cannot start \(program): \(String(cString: strerror(errno)))")
    }
}
