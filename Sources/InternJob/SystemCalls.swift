#if canImport(Glibc)
import Glibc
#endif

/// glibc functions that Swift's Glibc module does not show.
///
/// They are declared under `_GNU_SOURCE`, which the module is not built with,
/// and this target must stay pure Swift (no C shim, no unsafe flags). They are
/// ordinary non-variadic C functions, so calling them through a `dlsym`
/// pointer of the exact C type is well defined. Each is `nil` when the running
/// glibc lacks it: addchdir_np needs glibc 2.29, addclosefrom_np 2.34,
/// pidfd_open 2.36 (and Linux 5.3); pipe2 has been there since 2.9.
enum GNU {
    typealias AddChdir = @convention(c) (
        UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?
    ) -> Int32
    typealias AddClosefrom = @convention(c) (
        UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32
    ) -> Int32
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    typealias SetThreadName = @convention(c) (pthread_t, UnsafePointer<CChar>?) -> Int32

    static let addchdir: AddChdir? = lookup("posix_spawn_file_actions_addchdir_np")
    static let addclosefrom: AddClosefrom? = lookup("posix_spawn_file_actions_addclosefrom_np")
    static let pidfdOpen: PidfdOpen? = lookup("pidfd_open")
    static let pipe2: Pipe2? = lookup("pipe2")
    /// Names threads for `top -H` and debuggers (15 bytes at most).
    static let setThreadName: SetThreadName? = lookup("pthread_setname_np")

    private static func lookup<F>(_ name: String) -> F? {
        // A nil handle is RTLD_DEFAULT: search the global symbol scope.
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: F.self)
    }
}

/// Wall-clock milliseconds since the Unix epoch.
func unixMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

extension Duration {
    /// The duration as floating-point seconds.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }

    /// Whole milliseconds, rounded up, clamped to what `poll` accepts.
    var pollMilliseconds: Int32 {
        if self <= .zero { return 0 }
        let c = components
        let ms = c.seconds * 1000 + (c.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }
}

extension timeval {
    var seconds: Double { Double(tv_sec) + Double(tv_usec) * 1e-6 }
}

/// Closes `fd` if it is open (>= 0), ignoring EINTR as Linux does (the fd is gone either way).
func closeIfOpen(_ fd: Int32) {
    if fd >= 0 { _ = close(fd) }
}

/// Creates a pipe with O_CLOEXEC on both ends, atomically (pipe2), so that no
/// concurrent spawn elsewhere in the worker can inherit it; returns (read, write).
func makePipe(extraFlags: Int32 = 0) -> Result<(read: Int32, write: Int32), JobError> {
    guard let pipe2 = GNU.pipe2 else {
        return .failure(.make(.spawnFailed, ENOSYS, path: "", "pipe2 is missing"))
    }
    var fds: [Int32] = [-1, -1]
    if pipe2(&fds, O_CLOEXEC | extraFlags) != 0 {
        let e = errno
        return .failure(.make(.spawnFailed, e, path: "", "cannot create a pipe"))
    }
    return .success((fds[0], fds[1]))
}
