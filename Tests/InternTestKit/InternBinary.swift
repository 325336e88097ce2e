import Foundation

/// The real `intern` executable built by `swift build`, and helpers to run it as a child process.
public enum InternBinary {
    /// The path of the built executable next to the test bundle (`.build/<config>/intern`).
    public static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["INTERN_BINARY"] { return explicit }
        // The test bundle lives in .build/<triple>/<config>/; the executable beside it.
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("intern").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent()
        return bundle?.appendingPathComponent("intern").path ?? ".build/debug/intern"
    }

    /// What a finished child process left behind.
    public struct Result: Sendable {
        public var status: Int32
        /// Standard output exactly as written.
        public var stdoutBytes: Data
        public var stderr: String
        /// Standard output as text (invalid UTF-8 replaced).
        public var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    }

    /// Runs `intern ARGUMENTS` to completion in `directory`, with a time limit.
    public static func run(_ arguments: [String], in directory: String, timeout: Duration = .seconds(120),
                           environment: [String: String] = [:]) async throws -> Result {
        let process = try start(arguments, in: directory, environment: environment)
        return try await process.finish(timeout: timeout)
    }

    /// Starts `intern ARGUMENTS` in `directory` without waiting. `TMPDIR` is `directory` unless
    /// given: workers keep their state (spool, job list) under it, so tests never share one.
    /// With `namespace`, it runs inside that network namespace (`ip netns exec`, which execs, so
    /// the child's pid is intern's).
    public static func start(
        _ arguments: [String], in directory: String, environment: [String: String] = [:], namespace: String? = nil
    ) throws -> ChildProcess {
        var environment = environment
        if environment["TMPDIR"] == nil { environment["TMPDIR"] = directory }
        if let namespace {
            return try ChildProcess(
                executable: NetworkNamespaces.ip, arguments: ["netns", "exec", namespace, path] + arguments, directory: directory,
                environment: environment)
        }
        return try ChildProcess(executable: path, arguments: arguments, directory: directory, environment: environment)
    }
}

extension InternBinary {
    /// Starts any program (not intern) in `directory` without waiting, its output collected like
    /// intern's (`stdoutSoFar`, `finish`).
    public static func startProgram(_ command: [String], in directory: String, environment: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()), directory: directory, environment: environment)
    }
}

/// Runs any program (not intern) to completion, its output collected like intern's.
public enum ProcessRunner {
    public static func run(
        _ command: [String], in directory: String = FileManager.default.temporaryDirectory.path, timeout: Duration
    ) async throws -> InternBinary.Result {
        let process = try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()), directory: directory, environment: [:])
        return try await process.finish(timeout: timeout)
    }
}

/// A child process whose output is collected in temporary files (no pipe can fill up and block it).
public final class ChildProcess: @unchecked Sendable {
    // Unchecked: `process` is only touched through Foundation's thread-safe Process API, and the
    // file paths are immutable.
    public let process: Process
    private let stdoutPath: String
    private let stderrPath: String

    init(executable: String, arguments: [String], directory: String, environment: [String: String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let id = UUID().uuidString.prefix(8)
        stdoutPath = "\(FileManager.default.temporaryDirectory.path)/intern-child-\(id).out"
        stderrPath = "\(FileManager.default.temporaryDirectory.path)/intern-child-\(id).err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// A test that ends early (a failed expectation, a thrown error) leaves no process behind.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Sends a signal to the process.
    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// What the process has written to its standard error so far (it may still be running).
    public var stderrSoFar: String {
        String(decoding: FileManager.default.contents(atPath: stderrPath) ?? Data(), as: UTF8.self)
    }

    /// What the process has written to its standard output so far (it may still be running).
    public var stdoutSoFar: String {
        String(decoding: FileManager.default.contents(atPath: stdoutPath) ?? Data(), as: UTF8.self)
    }

    /// Waits for the process to exit (killing it after `timeout`) and returns its output.
    public func finish(timeout: Duration) async throws -> InternBinary.Result {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
                let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
                throw TimeoutError(message: "process timed out after \(timeout)\nstdout:\n\(out)\nstderr:\n\(err)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(atPath: stdoutPath)
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
        return InternBinary.Result(
            status: process.terminationStatus,
            stdoutBytes: FileManager.default.contents(atPath: stdoutPath) ?? Data(),
            stderr: String(decoding: FileManager.default.contents(atPath: stderrPath) ?? Data(), as: UTF8.self))
    }
}

/// A child process ran past its time limit, or a condition awaited with `eventually` never held.
public struct TimeoutError: Error, CustomStringConvertible {
    public var message: String
    /// Creates the error.
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Whether a process exists and is not a zombie (a killed job whose parent has not reaped it
/// yet counts as gone).
public func processIsAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
}
