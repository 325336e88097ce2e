#if canImport(Glibc)
import Glibc
#endif
import InternJob
import Synchronization
import Testing

/// All InternJob tests, run one at a time: the leak tests count this
/// process's descriptors and threads, which concurrent jobs would disturb.
@Suite(.serialized) struct JobTests {}

let python = "/usr/bin/python3"

/// A spec with a minimal environment and /tmp as working directory.
func job(
    _ argv: [String],
    environment: [String: String] = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"],
    workingDirectory: String = "/tmp",
    timeout: Duration? = nil
) -> JobSpec {
    // `executable` left out: it defaults to argv[0].
    JobSpec(arguments: argv, environment: environment, workingDirectory: workingDirectory, timeout: timeout)
}

func shell(_ script: String) -> JobSpec {
    job(["/bin/sh", "-c", script])
}

/// A `Sendable` handler that records everything, for tests that inspect
/// output while the job runs.
final class Capture: JobOutputHandler, Sendable {
    struct State {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var ticks: [ContinuousClock.Instant] = []
        var threads: Set<UInt> = []
        var finishedCalls = 0
        var callsAfterFinished = 0
    }

    let state = Mutex(State())

    func output(stream: JobStream, bytes: UnsafeRawBufferPointer) {
        state.withLock { s in
            if s.finishedCalls > 0 { s.callsAfterFinished += 1 }
            s.threads.insert(UInt(pthread_self()))
            switch stream {
            case .stdout: s.stdout.append(contentsOf: bytes)
            case .stderr: s.stderr.append(contentsOf: bytes)
            }
        }
    }

    func tick(now: ContinuousClock.Instant) {
        state.withLock { s in
            if s.finishedCalls > 0 { s.callsAfterFinished += 1 }
            s.threads.insert(UInt(pthread_self()))
            s.ticks.append(now)
        }
    }

    func finished(_ exit: JobExit) {
        state.withLock { s in
            s.finishedCalls += 1
            s.threads.insert(UInt(pthread_self()))
        }
    }

    var stdout: [UInt8] { state.withLock { $0.stdout } }
    var stderr: [UInt8] { state.withLock { $0.stderr } }
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs a job to its end and returns its report and everything it printed.
func run(_ spec: JobSpec, tickInterval: Duration = .milliseconds(250)) async throws -> (JobExit, Capture) {
    let capture = Capture()
    let process = try JobProcess.spawn(spec, handler: capture, tickInterval: tickInterval)
    let exit = await process.wait()
    return (exit, capture)
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Reads a small file from /proc (or anywhere) as text; nil when it cannot be opened.
func readText(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The fields of /proc/<pid>/stat after the command name: [0] state, [1] ppid, [2] pgrp, ...
func statFields(_ pid: Int32) -> [Substring]? {
    guard let text = readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
    return text[text.index(after: close)...].split(separator: " ")
}

/// True when the process no longer runs: gone from /proc, or a zombie waiting
/// for a parent (orphans are reparented to a PID 1 that may never reap them).
func isDead(_ pid: Int32) -> Bool {
    guard let fields = statFields(pid) else { return true }
    return fields[0] == "Z" || fields[0] == "X"
}

/// Live (non-zombie) processes whose process group is `pgid`.
func liveGroupMembers(_ pgid: Int32) -> [Int32] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var members: [Int32] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        guard let pid = Int32(name), let fields = statFields(pid) else { continue }
        if fields[2] == "\(pgid)" && fields[0] != "Z" && fields[0] != "X" { members.append(pid) }
    }
    return members
}

/// What a /proc/.../fd/N link points to, such as `pipe:[1234]`.
func descriptorTarget(_ link: String) -> String? {
    var target = [UInt8](repeating: 0, count: 512)
    let n = target.withUnsafeMutableBufferPointer { p in
        p.withMemoryRebound(to: CChar.self) { readlink(link, $0.baseAddress!, $0.count) }
    }
    return n > 0 ? String(decoding: target[0..<n], as: UTF8.self) : nil
}

/// Entries of a directory, without "." and "..".
func directoryEntries(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

func openDescriptorCount() -> Int {
    // opendir itself holds one descriptor while listing; it is the same before and after.
    directoryEntries("/proc/self/fd").count
}

/// A fresh directory under /tmp, with its physical path.
func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/intern-job-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard let made else { fatalError("mkdtemp failed") }
    let path = String(cString: made)
    guard let real = realpath(path, nil) else { return path }
    defer { free(real) }
    return String(cString: real)
}

func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    precondition(fd >= 0, "cannot create \(path)")
    var bytes = Array(text.utf8)
    _ = write(fd, &bytes, bytes.count)
    close(fd)
    chmod(path, mode)
}

/// An FNV-style hash over the byte stream (8 bytes per step, so a debug
/// build hashes 100 MB quickly), to compare large streams without keeping them.
/// Chunk boundaries do not matter: leftover bytes wait for the next chunk.
struct StreamHash {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    private(set) var count = 0
    private var pending: [UInt8] = []

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        count += bytes.count
        var rest = bytes[...]
        while !pending.isEmpty && !rest.isEmpty {
            pending.append(rest.removeFirst())
            if pending.count == 8 {
                let word = pending.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                mix(word)
                pending.removeAll()
            }
        }
        let base = UnsafeRawBufferPointer(rebasing: rest)
        let words = base.count / 8
        for i in 0..<words {
            mix(base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
        }
        pending.append(contentsOf: base[(words * 8)...])
    }

    /// The hash including any trailing partial word.
    var final: UInt64 {
        var copy = self
        for b in pending { copy.mix(UInt64(b)) }
        return copy.value
    }

    private mutating func mix(_ word: UInt64) {
        value = (value ^ word) &* 0x0000_0100_0000_01B3
    }
}
