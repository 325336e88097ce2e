import Glibc
import Synchronization

/// The process groups of the jobs a worker runs, written to its state directory, so that a
/// worker restarted after `kill -9` (same `--id`, same state directory) stops the jobs its
/// previous incarnation left running: the coordinator has already declared them lost and runs
/// their trials elsewhere, so they would only burn the node (and its GPUs) for nothing.
///
/// Each line is `PID STARTTIME UID COMM`: the job's process group leader, its start time in
/// clock ticks since boot (field 22 of `/proc/PID/stat`), its owner and its command name. A
/// process is signalled only when its pid, start time and owner are as recorded, so a recycled
/// pid, or a process that is not this worker's job, is never signalled. The command name is not
/// compared: a job's changes when it `exec`s (`sh -c "exec python ..."`, `conda run`, a launcher),
/// and the list is written as the job starts, often before that. The file is read
/// only when this user owns it and no one else may write it, never through a symbolic link
/// (``PrivateDirectory``).
///
/// The file is made once (fresh: a planted file or link in its place is removed first) and then
/// rewritten in place, twice per attempt: no new inode per write, which on ext4 cost more CPU than
/// anything else the worker did per trial (allocating inodes skips the recently deleted ones that
/// a create-and-rename per write leaves behind). A worker killed between the write and the
/// truncation leaves old lines after the new ones: harmless, every line is checked before a kill.
final class JobRegistry: Sendable {
    let path: String
    /// The file, open for writing once made (-1 before).
    private let file = Mutex<Int32>(-1)

    init(directory: String) {
        path = "\(directory)/jobs"
    }

    deinit {
        file.withLock { if $0 >= 0 { close($0) } }
    }

    /// SIGKILLs the process groups a previous incarnation recorded and still alive (the same
    /// process: start time and owner as recorded, owned by this user); returns them.
    func killLeftovers() -> [Int32] {
        let fd = PrivateDirectory.openTrusted(path)
        guard fd >= 0, let text = Self.read(fd: fd) else { return [] }
        let me = geteuid()
        var killed: [Int32] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 3)
            guard fields.count == 4, let pid = Int32(fields[0]), pid > 1, let start = UInt64(fields[1]),
                  let uid = UInt32(fields[2]), uid == me, let process = Self.identity(of: pid),
                  process.start == start, process.uid == uid
            else { continue }
            if kill(-pid, SIGKILL) == 0 { killed.append(pid) }
        }
        reset()
        return killed
    }

    /// Records the jobs running now (one write, then the file cut to it).
    func write(_ pids: [Int32]) {
        var text = ""
        for pid in pids {
            guard let process = Self.identity(of: pid) else { continue }
            text += "\(pid) \(process.start) \(process.uid) \(process.command)\n"
        }
        let bytes = Array(text.utf8)
        file.withLock { fd in
            if fd < 0 { fd = PrivateDirectory.createFresh(path) }
            guard fd >= 0 else { return }
            _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            _ = ftruncate(fd, off_t(bytes.count))
        }
    }

    /// Makes the file afresh (empty) and rewrites that one from now on.
    private func reset() {
        file.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = PrivateDirectory.createFresh(path)
        }
    }

    /// A process as `/proc/PID/stat` and the owner of `/proc/PID` say: its start time (field 22,
    /// after the parenthesised command name, which may hold spaces), owner and command name (with
    /// no newline).
    static func identity(of pid: Int32) -> (start: UInt64, uid: UInt32, command: Substring)? {
        let fd = Glibc.open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0, let text = read(fd: fd), let opening = text.firstIndex(of: "("), let closing = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: closing)...].split(separator: " ")
        // fields[0] is the state (field 3), so field 22 is fields[19].
        guard fields.count > 19, let start = UInt64(fields[19]) else { return nil }
        var info = Glibc.stat()
        guard lstat("/proc/\(pid)", &info) == 0 else { return nil }
        let command = text[text.index(after: opening)..<closing].filter { $0 != "\n" }
        return (start, info.st_uid, Substring(command.isEmpty ? "-" : command))
    }

    /// Everything `fd` holds (read, then closed).
    private static func read(fd: Int32) -> String? {
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
        do {
            try PrivateDirectory.prepare(directory)
        } catch {
            throw SpoolError(error.description)
        }
        fd = open("\(directory)/lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot open \(directory)/lock: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw SpoolError("another worker is using the state directory \(directory) (same --id on this host?)")
        }
    }

    deinit { close(fd) }
}
