#if canImport(Glibc)
import Glibc
#endif

/// The reader thread's loop. Lives and dies on that one thread; not `Sendable`.
///
/// Each turn: notice the child's exit (`waitid(WNOHANG|WNOWAIT)`, which leaves
/// the zombie in place so the pgid stays reserved; asked only when the pidfd
/// says so, or every turn without one), fire due deadlines (tick, memory
/// sample, timeout, SIGKILL after a terminate grace, output grace), then `poll`
/// stdout, stderr, the pidfd and the wake pipe until the nearest deadline, and
/// read at most one 256 KiB chunk per ready pipe.
///
/// A read that finds little in its pipe (a job writing line by line, unbuffered)
/// rests the pipes for ``readPause`` (the pidfd and the wake pipe are still
/// watched, so an exit is seen at once): the next read takes what came
/// meanwhile in one go, instead of one poll and one read per line.
final class JobReader<Handler: JobOutputHandler> {
    private let handler: Handler
    private let control: JobControl
    private let pid: pid_t
    private var stdoutFd: Int32
    private var stderrFd: Int32
    private let pidfd: Int32
    private let wakeRead: Int32
    private let tickInterval: Duration
    private let timeout: Duration?
    private let timeoutGrace: Duration
    private let outputGrace: Duration
    private let sampleInterval: Duration?
    private let start: ContinuousClock.Instant
    private let startedAtUnixMs: Int64
    /// The token the job's descendants carry (``Orphans``), when this process adopts orphans.
    private let token: String?

    static var chunkSize: Int { 256 * 1024 }
    /// A read shorter than this found the pipe nearly empty: the pipes rest for ``readPause``.
    static var shortRead: Int { 16 * 1024 }
    static var readPause: Duration { .milliseconds(1) }

    init(
        handler: consuming Handler, control: JobControl, spec: JobSpec, child: SpawnedChild,
        pidfd: Int32, wakeRead: Int32, tickInterval: Duration,
        start: ContinuousClock.Instant, startedAtUnixMs: Int64
    ) {
        self.handler = handler
        self.control = control
        self.pid = child.pid
        self.stdoutFd = child.stdoutRead
        self.stderrFd = child.stderrRead
        self.pidfd = pidfd
        self.wakeRead = wakeRead
        self.tickInterval = max(tickInterval, .milliseconds(1))
        self.timeout = spec.timeout
        self.timeoutGrace = spec.timeoutGrace
        self.outputGrace = spec.outputGrace
        self.sampleInterval = spec.memorySampleInterval.map { max($0, .milliseconds(10)) }
        self.start = start
        self.startedAtUnixMs = startedAtUnixMs
        self.token = spec.environment[Orphans.tokenVariable]
    }

    func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var memory = GroupMemorySampler(pgid: pid)

        var nextTick = start + tickInterval
        // First sample soon after start, so short jobs are still sampled once.
        var nextSample = sampleInterval.map { start + min($0, .milliseconds(100)) }
        var timeoutDeadline = timeout.map { start + $0 }
        var timedOut = false
        var killSentAt: ContinuousClock.Instant?
        var childExited = false
        var outputDeadline: ContinuousClock.Instant?
        var outputCutOff = false
        var fds = [pollfd](repeating: pollfd(), count: 4)
        // Whether to ask if the child exited: the first turn, and when its pidfd is ready.
        var exitMayHaveHappened = true
        // Until when the pipes rest after a short read.
        var restUntil: ContinuousClock.Instant?

        while true {
            let now = ContinuousClock.now
            if !childExited && (exitMayHaveHappened || pidfd < 0) && childHasExited() {
                childExited = true
                outputDeadline = now + outputGrace
                restUntil = nil  // what is left in the pipes is read at once
            }
            exitMayHaveHappened = false
            if childExited && stdoutFd < 0 && stderrFd < 0 { break }
            if let deadline = outputDeadline, now >= deadline {
                // A descendant still holds the pipes: stop waiting for it.
                control.sendKill()
                closeIfOpen(stdoutFd)
                closeIfOpen(stderrFd)
                stdoutFd = -1
                stderrFd = -1
                outputCutOff = true
                break
            }
            if let deadline = timeoutDeadline, now >= deadline {
                timeoutDeadline = nil
                timedOut = true
                control.terminate(grace: timeoutGrace)
            }
            let killDeadline = control.state.withLock { $0.killDeadline }
            if let deadline = killDeadline, now >= deadline, killSentAt.map({ $0 < deadline }) ?? true {
                killSentAt = now
                control.sendKill()
            }
            if now >= nextTick {
                handler.tick(now: now)
                let behind = (now - nextTick) / tickInterval
                nextTick += tickInterval * (Int(behind) + 1)
            }
            if let due = nextSample, let sampleInterval, now >= due {
                memory.sample()
                nextSample = now + sampleInterval
            }

            // Sleep until the nearest deadline or until something happens.
            var wakeAt = min(nextTick, nextSample ?? nextTick)
            if let d = timeoutDeadline { wakeAt = min(wakeAt, d) }
            if let d = outputDeadline { wakeAt = min(wakeAt, d) }
            if let d = killDeadline, killSentAt.map({ $0 < d }) ?? true { wakeAt = min(wakeAt, d) }
            if !childExited && pidfd < 0 {
                // No pidfd: poll for the exit; quickly once the pipes are
                // closed (EOF usually arrives just before the zombie appears).
                let bothClosed = stdoutFd < 0 && stderrFd < 0
                wakeAt = min(wakeAt, now + (bothClosed ? .milliseconds(5) : .milliseconds(100)))
            }

            let resting = restUntil.map { now < $0 } ?? false
            if resting, let restUntil { wakeAt = min(wakeAt, restUntil) }
            var count = 0
            for fd in [resting ? -1 : stdoutFd, resting ? -1 : stderrFd, childExited ? -1 : pidfd, wakeRead] where fd >= 0 {
                fds[count] = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                count += 1
            }
            let ready = fds.withUnsafeMutableBufferPointer { p in
                poll(p.baseAddress, nfds_t(count), (wakeAt - ContinuousClock.now).pollMilliseconds)
            }
            if ready <= 0 { continue }  // timeout, or EINTR
            var readLittle = false
            for i in 0..<count where fds[i].revents != 0 {
                let fd = fds[i].fd
                if fd == stdoutFd {
                    let (open, bytes) = drain(fd, .stdout, buffer)
                    stdoutFd = open
                    readLittle = readLittle || (open >= 0 && bytes < Self.shortRead)
                } else if fd == stderrFd {
                    let (open, bytes) = drain(fd, .stderr, buffer)
                    stderrFd = open
                    readLittle = readLittle || (open >= 0 && bytes < Self.shortRead)
                } else if fd == wakeRead {
                    _ = read(wakeRead, buffer.baseAddress, 64)
                } else if fd == pidfd {
                    // The next turn's waitid sees the exit.
                    exitMayHaveHappened = true
                }
            }
            restUntil = readLittle && !childExited ? ContinuousClock.now + Self.readPause : nil
        }

        // The child is a zombie now (its pid, hence the pgid, still reserved).
        // Forbid further signals, kill any descendant left in the group, reap.
        control.state.withLock { s in
            s.signalsAllowed = false
            _ = Glibc.kill(-pid, SIGKILL)
        }
        var status: Int32 = 0
        var usage = rusage()
        var reaped: pid_t
        repeat {
            reaped = wait4(pid, &status, 0, &usage)
        } while reaped < 0 && errno == EINTR
        Orphans.reaped(leader: pid)
        let end = ContinuousClock.now
        let endedAtUnixMs = unixMilliseconds()

        closeIfOpen(stdoutFd)
        closeIfOpen(stderrFd)
        closeIfOpen(pidfd)
        closeIfOpen(wakeRead)
        let terminationRequested = control.state.withLock { s in
            // Under the lock: terminate() only writes to this fd under the
            // lock, and only while signals are allowed (no longer the case).
            closeIfOpen(s.wakeWrite)
            s.wakeWrite = -1
            return s.terminationRequested
        }

        let exitStatus: JobExit.Status
        if reaped == pid {
            let low = status & 0x7f
            exitStatus = low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
        } else {
            exitStatus = .exited(-1)  // reaped by someone else (SIGCHLD ignored?)
        }
        let exit = JobExit(
            status: exitStatus,
            timedOut: timedOut,
            terminationRequested: terminationRequested,
            outputCutOff: outputCutOff,
            wallSeconds: (end - start).seconds,
            userCPUSeconds: reaped == pid ? usage.ru_utime.seconds : 0,
            systemCPUSeconds: reaped == pid ? usage.ru_stime.seconds : 0,
            peakRSSBytes: UInt64(max(memory.peakBytes, reaped == pid ? Int(usage.ru_maxrss) * 1024 : 0)),
            startedAt: startedAtUnixMs,
            endedAt: endedAtUnixMs)

        handler.finished(exit)
        let waiters = control.state.withLock { s in
            s.exit = exit
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters {
            waiter.resume(returning: exit)
        }
        // Then, off the path of the job's end: the descendants that left its group (setsid) and
        // were orphaned go with it (``Orphans``).
        Orphans.ended(token: token)
    }

    /// Reads one chunk from a ready pipe; returns the fd (or -1 once it hit EOF, and was closed)
    /// and how many bytes it read.
    private func drain(_ fd: Int32, _ stream: JobStream, _ buffer: UnsafeMutableRawBufferPointer) -> (Int32, Int) {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n > 0 {
            handler.output(stream: stream, bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            return (fd, n)
        }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return (fd, 0) }
        close(fd)  // EOF (or a read error, which pipes do not produce)
        return (-1, 0)
    }

    /// Whether the child has exited, without reaping it.
    private func childHasExited() -> Bool {
        var info = siginfo_t()
        while true {
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                return info.si_signo == SIGCHLD
            }
            if errno == EINTR { continue }
            return true  // ECHILD: already reaped elsewhere; nothing left to wait for
        }
    }
}

/// Tracks the peak of the summed resident memory of one process group by scanning `/proc`.
///
/// One sample opens `/proc/<pid>/stat` of every process on the machine
/// (a few hundred small reads, about a millisecond); field 5 is the pgrp,
/// field 24 the RSS in pages.
struct GroupMemorySampler {
    let pgid: pid_t
    private(set) var peakBytes = 0
    private let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    init(pgid: pid_t) {
        self.pgid = pgid
    }

    mutating func sample() {
        guard let dir = opendir("/proc") else { return }
        defer { closedir(dir) }
        let dirFd = dirfd(dir)
        var total = 0
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1024) { text in
            while let entry = readdir(dir) {
                let pages = withUnsafePointer(to: &entry.pointee.d_name) { namePointer in
                    namePointer.withMemoryRebound(to: CChar.self, capacity: 256) { name in
                        Self.rssPages(dirFd: dirFd, name: name, pgid: pgid, text: text)
                    }
                }
                total += pages
            }
        }
        peakBytes = max(peakBytes, total * pageSize)
    }

    /// RSS pages of `/proc/<name>` when it is a process in `pgid`, else 0.
    private static func rssPages(
        dirFd: Int32, name: UnsafePointer<CChar>, pgid: pid_t, text: UnsafeMutableBufferPointer<CChar>
    ) -> Int {
        // "<digits>/stat\0" into `text`, skipping non-numeric entries.
        var length = 0
        while name[length] != 0 {
            guard name[length] >= 0x30 && name[length] <= 0x39, length < 32 else { return 0 }
            text[length] = name[length]
            length += 1
        }
        if length == 0 { return 0 }
        for c in "/stat\0".utf8 {
            text[length] = CChar(bitPattern: c)
            length += 1
        }
        let fd = openat(dirFd, text.baseAddress!, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return 0 }
        let n = read(fd, text.baseAddress, text.count)
        close(fd)
        if n <= 0 { return 0 }
        // Fields after the last ')' (the command name may contain anything):
        // index 0 = state (field 3), 2 = pgrp (field 5), 21 = rss (field 24).
        var i = n - 1
        while i > 0 && text[i] != 0x29 { i -= 1 }
        i += 1
        var field = -1
        var value = 0
        var pgrp = -1
        while i < n {
            let c = text[i]
            if c == 0x20 || c == 0x0a {
                if field == 2 { pgrp = value }
                if field == 21 { return pgrp == Int(pgid) ? value : 0 }
                if field == 2 && pgrp != Int(pgid) { return 0 }
                field += 1
                value = 0
            } else if c >= 0x30 && c <= 0x39 {
                value = value * 10 + Int(c - 0x30)
            }
            i += 1
        }
        return 0
    }
}
