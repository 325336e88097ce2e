import ArgumentParser
import Foundation

/// `intern mcp`: starts `intern-mcp`, the MCP server, installed beside `intern` (a program of its
/// own: the MCP SDK brings Foundation's networking and libcurl, which would make every intern
/// process start slower). Its options are `intern-mcp`'s (`intern mcp --help`); docs/agents.md.
struct MCPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve campaigns to an agent over the Model Context Protocol (stdio): read and steering tools, answers within a token budget, guardrails.",
        discussion: "Runs intern-mcp, installed beside intern, with these arguments; `intern-mcp serve --help` lists its options (--root, --dir, --coordinator, --auth, --tokens, the policy flags).")

    @Argument(parsing: .allUnrecognized, help: "intern-mcp's options.")
    var arguments: [String] = []

    func run() throws {
        try execSibling(["serve"] + arguments, for: "intern mcp")
    }
}

/// `intern agent`: the planner loop on an OpenAI-compatible model server, in `intern-mcp` (its HTTP
/// client brings Foundation's networking, as the MCP SDK does); docs/agents.md.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Let a model steer a campaign through intern's tools and guardrails: intern agent CAMPAIGN --endpoint URL --model NAME; intern agent log CAMPAIGN.",
        discussion: "Runs `intern-mcp agent` with these arguments; `intern-mcp agent run --help` lists its options.")

    @Argument(parsing: .allUnrecognized, help: "intern-mcp agent's arguments.")
    var arguments: [String] = []

    func run() throws {
        try execSibling(["agent"] + arguments, for: "intern agent")
    }
}

/// Replaces this process with `intern-mcp ARGUMENTS`, installed beside `intern`.
func execSibling(_ arguments: [String], for command: String) throws {
    let program = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("intern-mcp").path
    guard FileManager.default.isExecutableFile(atPath: program) else {
        throw ValidationError("\(command) needs intern-mcp beside intern (\(program)): `swift build` (or `make install`) builds it")
    }
    let argv = [program] + arguments
    var pointers = argv.map { strdup($0) } + [nil]
    execv(program, &pointers)
    throw ValidationError("cannot start \(program): \(String(cString: strerror(errno)))")
}
