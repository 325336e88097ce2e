#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Descendants that leave their job's process group.
///
/// A job is a process group, and stopping a job signals that group. A descendant that calls
/// `setsid()` or `setpgid()` (a daemonizing helper, a double fork, `setsid sleep 600 &`) leaves
/// the group, so a timeout or a cancel no longer reaches it and it outlives its job. A process
/// that calls ``adoptOrphans()`` becomes their subreaper (`PR_SET_CHILD_SUBREAPER`): an orphan
/// of one of its jobs is re-parented to it instead of to init. Every job it then starts carries
/// `INTERN_JOB_TOKEN` in its environment, which its descendants inherit; when a job ends, the
/// orphans that carry its token are SIGKILLed with their groups and reaped, and the orphans of
/// those in turn, until none is left. An orphan that scrubbed its environment cannot be told
/// apart: it is stopped when no job of this process runs any more. Orphans that ended by
/// themselves are reaped (they would stay zombies).
///
/// What this does not reach: a descendant that escapes while its parent lives on and is never
/// orphaned stays with that parent (which is in the group, or an orphan itself), and a process
/// that re-parents itself elsewhere (another subreaper, a container runtime) is out of reach;
/// a cgroup per job would reach those too (docs/security.md).
public enum Orphans {
    private static let state = Mutex(State())

    private struct State {
        var adopting = false
        /// The leaders of the jobs started here and not reaped yet (each the id of its group).
        var leaders: Set<pid_t> = []
        var nextToken = 0
    }

    /// Makes this process the subreaper of its jobs' orphans; true when the kernel agreed (Linux
    /// 3.4 and later). Call once, early, in a process that runs jobs and reaps only its own
    /// children by pid (as `JobProcess` does).
    @discardableResult
    public static func adoptOrphans() -> Bool {
        guard let prctl = prctl, prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0) == 0 else { return false }
        state.withLock { $0.adopting = true }
        return true
    }

    /// Whether this process adopts its jobs' orphans.
    public static var adopting: Bool { state.withLock { $0.adopting } }

    /// The name of the variable that marks a job's descendants.
    public static let tokenVariable = "INTERN_JOB_TOKEN"

    /// A new token for a job about to start, when this process adopts orphans.
    static func newToken() -> String? {
        state.withLock { state in
            guard state.adopting else { return nil }
            state.nextToken += 1
            return "\(getpid())-\(state.nextToken)"
        }
    }

    /// Spawns a job's leader and counts it among the leaders in one step, so that no sweep
    /// running meanwhile can take it, or its zombie, for an orphan.
    static func spawnLeader<Child>(_ spawn: () throws(JobError) -> Child, pid: (Child) -> pid_t) throws(JobError) -> Child {
        try state.withLock { (state: inout State) throws(JobError) -> Child in
            let child = try spawn()
            state.leaders.insert(pid(child))
            return child
        }
    }

    /// A job's leader was reaped (its pid may be reused from now on): it is no longer a leader.
    static func reaped(leader: pid_t) {
        state.withLock { _ = $0.leaders.remove(leader) }
    }

    /// After a job ended: stops what its descendants left behind.
    static func ended(token: String?) {
        let (adopting, othersRun) = state.withLock { ($0.adopting, !$0.leaders.isEmpty) }
        guard adopting else { return }
        sweep(token: token, includingUnmarked: !othersRun)
    }

    /// Kills and reaps the orphans that carry `token` (and, with `includingUnmarked`, those that
    /// carry no token at all), round after round, as each one's own orphans are re-parented here;
    /// reaps orphans that already ended. Returns how many it killed.
    @discardableResult
    static func sweep(token: String?, includingUnmarked: Bool) -> Int {
        let me = getpid()
        let myGroup = getpgrp()
        let marker = token.map { Array("\(tokenVariable)=\($0)".utf8) + [0] }
        var killed = 0
        for _ in 0..<64 {
            let leaders = state.withLock { $0.leaders }
            var found = false
            for process in children(of: me) {
                // Our own children: job leaders (reaped by their readers) and helpers started in
                // this process's group (probes), never touched here.
                guard !leaders.contains(process.pid), process.group != myGroup else { continue }
                if process.state == UInt8(ascii: "Z") {
                    // Under the lock: a leader spawned since the list was read is not taken.
                    state.withLock { state in
                        guard !state.leaders.contains(process.pid) else { return }
                        var status: Int32 = 0
                        _ = waitpid(process.pid, &status, WNOHANG)
                    }
                    continue
                }
                let environment = readEnvironment(of: process.pid)
                let marked = environment.map { Self.contains($0, Array("\(tokenVariable)=".utf8)) } ?? false
                let ours = marker.map { marker in environment.map { Self.contains($0, marker) } ?? false } ?? false
                guard ours || (includingUnmarked && !marked) else { continue }
                // Decided under the lock, as a job is spawned: a leader spawned meanwhile (between
                // its clone and its exec it still shows this process's environment, unmarked) is
                // never taken for an orphan.
                let signalled = state.withLock { state -> Bool in
                    guard !state.leaders.contains(process.pid) else { return false }
                    if !state.leaders.contains(process.group) { _ = kill(-process.group, SIGKILL) }
                    return kill(process.pid, SIGKILL) == 0
                }
                // Waited for only when the signal went out (a wait for a process that lives on
                // would hang this thread).
                guard signalled else { continue }
                var status: Int32 = 0
                while waitpid(process.pid, &status, 0) < 0 && errno == EINTR {}
                killed += 1
                found = true
            }
            if !found { break }
        }
        return killed
    }

    struct ProcessEntry {
        var pid: pid_t
        var state: UInt8
        var group: pid_t
    }

    /// The processes whose parent is `parent` (this process): the pids its main thread's
    /// `/proc/self/task/PID/children` lists (one small read), or every process's when the kernel
    /// has no such file; each with its state and group from `/proc/PID/stat`.
    static func children(of parent: pid_t) -> [ProcessEntry] {
        let candidates = listedChildren() ?? allProcesses()
        var found: [ProcessEntry] = []
        for pid in candidates {
            guard let stat = readFile("/proc/\(pid)/stat", limit: 1024),
                  let close = stat.lastIndex(of: UInt8(ascii: ")")) else { continue }
            // After the command name: state, ppid, pgrp.
            let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
            guard fields.count > 2, let state = fields[0].first,
                  let ppid = pid_t(String(decoding: fields[1], as: UTF8.self)), ppid == parent,
                  let group = pid_t(String(decoding: fields[2], as: UTF8.self)) else { continue }
            found.append(ProcessEntry(pid: pid, state: state, group: group))
        }
        return found
    }

    private static func directoryEntries(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            names.append(withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            })
        }
        return names
    }

    /// The children of this process's main thread, as its `children` file lists them; nil without
    /// it. An orphan goes to the first live thread of its subreaper, the main thread (the kernel's
    /// `find_new_reaper`), so it is listed there; the other threads' children are the jobs'
    /// leaders (each spawned by its reader thread) and helpers in this process's group, which a
    /// sweep leaves alone. Reading every thread's file cost 20-odd opens after each job.
    private static func listedChildren() -> [pid_t]? {
        guard let text = readFile("/proc/self/task/\(getpid())/children", limit: 1 << 20) else { return nil }
        return text.split(separator: UInt8(ascii: " ")).compactMap { pid_t(String(decoding: $0, as: UTF8.self)) }
    }

    private static func allProcesses() -> [pid_t] {
        (directoryEntries("/proc") ?? []).compactMap { pid_t($0) }
    }

    static func readEnvironment(of pid: pid_t) -> [UInt8]? {
        readFile("/proc/\(pid)/environ", limit: 1 << 20).map { [0] + $0 }
    }

    private static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    /// Whether `haystack` holds `needle` right after a NUL (a variable of the environment).
    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count < haystack.count else { return false }
        var index = 0
        while index + needle.count < haystack.count {
            if haystack[index] == 0, haystack[(index + 1)...].starts(with: needle) { return true }
            index += 1
        }
        return false
    }

    private typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    private static let prctl: Prctl? = dlsym(nil, "prctl").map { unsafeBitCast($0, to: Prctl.self) }
}
