import Glibc

/// The process groups of the jobs a worker runs, written to its state directory, so that a
/// worker restarted after `kill -9` (same `--id`, same state directory) stops the jobs its
/// previous incarnation left running: the coordinator has already declared them lost and runs
/// their trials elsewhere, so they would only burn the node (and its GPUs) for nothing.
///
/// Each line is `PID STARTTIME`: the job's process group leader and its start time in clock
/// ticks since boot (field 22 of `/proc/PID/stat`), so a recycled pid is never signalled.
struct JobRegistry: Sendable {
    let path: String

    init(directory: String) {
        path = "\(directory)/jobs"
    }

    /// SIGKILLs the process groups a previous incarnation recorded and still alive; returns them.
    func killLeftovers() -> [Int32] {
        guard let text = Self.read(path) else { return [] }
        var killed: [Int32] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let pid = Int32(fields[0]), pid > 1, let start = UInt64(fields[1]),
                  Self.startTime(of: pid) == start
            else { continue }
            if kill(-pid, SIGKILL) == 0 { killed.append(pid) }
        }
        write([])
        return killed
    }

    /// Records the jobs running now (replaces the file atomically).
    func write(_ pids: [Int32]) {
        var text = ""
        for pid in pids {
            guard let start = Self.startTime(of: pid) else { continue }
            text += "\(pid) \(start)\n"
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        rename(temporary, path)
    }

    /// Field 22 of `/proc/PID/stat` (after the parenthesised command name, which may hold spaces).
    static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += buffer[..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// An exclusive lock on a worker's state directory (`flock` on `DIR/lock`), released when the
/// process ends however it ends: two workers never share a spool or a job list.
final class StateDirectoryLock: Sendable {
    private let fd: Int32

    init(directory: String) throws(SpoolError) {
        try SpoolFiles.makeDirectories(directory)
        fd = open("\(directory)/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot open \(directory)/lock: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw SpoolError("another worker is using the state directory \(directory) (same --id on this host?)")
        }
    }

    deinit { close(fd) }
}
