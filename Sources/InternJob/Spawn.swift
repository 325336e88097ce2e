#if canImport(Glibc)
import Glibc
#endif

/// The descriptors and identity of a freshly spawned child.
struct SpawnedChild {
    let pid: pid_t
    let executablePath: String
    /// Parent (read) ends, O_CLOEXEC | O_NONBLOCK.
    let stdoutRead: Int32
    let stderrRead: Int32
}

/// Starts the child with `posix_spawn` (glibc: clone(CLONE_VM|CLONE_VFORK), never
/// fork, so it is safe in a process that runs NNG threads).
///
/// On failure nothing is left: no child, no descriptor, no allocation.
func spawnChild(_ spec: JobSpec) throws(JobError) -> SpawnedChild {
    let argv = spec.arguments.isEmpty ? [spec.executable] : spec.arguments
    try validate(spec, argv: argv)
    let workingDirectory = try checkWorkingDirectory(spec.workingDirectory)
    let executablePath = try resolveExecutable(spec, workingDirectory: workingDirectory)

    guard let addchdir = GNU.addchdir else {
        throw JobError.make(
            .spawnFailed, ENOSYS, path: spec.workingDirectory,
            "posix_spawn_file_actions_addchdir_np is missing (glibc < 2.29)")
    }

    let outPipe = try makePipe().get()
    let errPipe: (read: Int32, write: Int32)
    do {
        errPipe = try makePipe().get()
    } catch {
        closeIfOpen(outPipe.read)
        closeIfOpen(outPipe.write)
        throw error
    }
    // A chatty job fills the default 64 KiB pipe in microseconds and then sleeps until the
    // reader drains it: a 1 MiB pipe (Linux's default pipe-max-size) lets the reader take larger
    // bites with fewer wake-ups. Best effort: a smaller limit leaves the default.
    for fd in [outPipe.read, errPipe.read] { _ = fcntl(fd, 1031 /* F_SETPIPE_SZ */, 1 << 20) }
    // Only the parent's read ends are non-blocking; the child's write ends are
    // separate open file descriptions and stay blocking.
    _ = fcntl(outPipe.read, F_SETFL, O_NONBLOCK)
    _ = fcntl(errPipe.read, F_SETFL, O_NONBLOCK)

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    let cArgv = CStringArray(argv)
    let cEnv = CStringArray(spec.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
    defer {
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attr)
        cArgv.free()
        cEnv.free()
        // The child has its own copies (dup2'ed onto 1 and 2); the parent keeps only the read ends.
        closeIfOpen(outPipe.write)
        closeIfOpen(errPipe.write)
    }

    // fd 0 = /dev/null, 1 and 2 = the pipes (dup2 clears O_CLOEXEC on the
    // copies; glibc >= 2.29 clears it too when the pipe already is fd 1 or 2).
    var rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    if rc == 0 { rc = posix_spawn_file_actions_adddup2(&actions, outPipe.write, 1) }
    if rc == 0 { rc = posix_spawn_file_actions_adddup2(&actions, errPipe.write, 2) }
    // Everything else is closed in the child, including descriptors that other
    // code in the worker opened without O_CLOEXEC. Without addclosefrom_np
    // (glibc < 2.34) only O_CLOEXEC protects them.
    if rc == 0, let addclosefrom = GNU.addclosefrom { rc = addclosefrom(&actions, 3) }
    if rc == 0 { rc = addchdir(&actions, workingDirectory) }

    // Own process group (pgid == pid), so the whole tree can be signalled;
    // an empty signal mask and default dispositions for every signal, so the
    // job does not inherit the worker's blocked or ignored signals (SIGPIPE!).
    var emptySet = sigset_t()
    sigemptyset(&emptySet)
    var fullSet = sigset_t()
    sigfillset(&fullSet)
    if rc == 0 { rc = posix_spawnattr_setpgroup(&attr, 0) }
    if rc == 0 { rc = posix_spawnattr_setsigmask(&attr, &emptySet) }
    if rc == 0 { rc = posix_spawnattr_setsigdefault(&attr, &fullSet) }
    if rc == 0 {
        rc = posix_spawnattr_setflags(
            &attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    }
    if rc != 0 {
        closeIfOpen(outPipe.read)
        closeIfOpen(errPipe.read)
        throw JobError.make(.spawnFailed, rc, path: executablePath, "cannot prepare posix_spawn")
    }

    var pid: pid_t = 0
    rc = posix_spawn(&pid, executablePath, &actions, &attr, cArgv.pointer, cEnv.pointer)
    if rc != 0 {
        closeIfOpen(outPipe.read)
        closeIfOpen(errPipe.read)
        throw classifySpawnFailure(rc, executablePath: executablePath, spec: spec)
    }
    return SpawnedChild(
        pid: pid, executablePath: executablePath,
        stdoutRead: outPipe.read, stderrRead: errPipe.read)
}

/// posix_spawn reports the child's chdir and execve failures as one errno;
/// the pre-checks make the common cases unambiguous, this handles races and the rest.
private func classifySpawnFailure(_ rc: Int32, executablePath: String, spec: JobSpec) -> JobError {
    if case .failure(let e) = Result(catching: { () throws(JobError) in
        _ = try checkWorkingDirectory(spec.workingDirectory)
    }) {
        return e
    }
    var st = stat()
    let exists = stat(executablePath, &st) == 0
    if rc == ENOENT && !exists {
        return .make(.executableNotFound, rc, path: executablePath, "cannot execute \(executablePath)")
    }
    if rc == ENOENT {
        return .make(
            .spawnFailed, rc, path: executablePath,
            "cannot execute \(executablePath) (it exists, so its #! interpreter or ELF loader is missing)")
    }
    return .make(.spawnFailed, rc, path: executablePath, "cannot execute \(executablePath)")
}

private func validate(_ spec: JobSpec, argv: [String]) throws(JobError) {
    for arg in argv where arg.utf8.contains(0) {
        throw JobError(
            code: .invalidSpec, errno: EINVAL, path: spec.executable,
            message: "an argument contains a NUL byte: \(arg.debugDescription)")
    }
    if spec.executable.isEmpty || spec.executable.utf8.contains(0) {
        throw JobError(
            code: .invalidSpec, errno: EINVAL, path: spec.executable,
            message: "executable must be non-empty and without NUL: \(spec.executable.debugDescription)")
    }
    for (key, value) in spec.environment {
        if key.isEmpty || key.utf8.contains(UInt8(ascii: "=")) || key.utf8.contains(0) {
            throw JobError(
                code: .invalidSpec, errno: EINVAL, path: "",
                message: "invalid environment variable name \(key.debugDescription)")
        }
        if value.utf8.contains(0) {
            throw JobError(
                code: .invalidSpec, errno: EINVAL, path: "",
                message: "environment variable \(key) contains a NUL byte")
        }
    }
}

/// Returns the absolute path of the working directory, or throws `.workingDirectoryInvalid`.
private func checkWorkingDirectory(_ path: String) throws(JobError) -> String {
    if path.utf8.contains(0) {
        throw JobError(
            code: .workingDirectoryInvalid, errno: EINVAL, path: path,
            message: "working directory contains a NUL byte: \(path.debugDescription)")
    }
    var st = stat()
    if stat(path, &st) != 0 {
        let e = errno
        throw JobError.make(.workingDirectoryInvalid, e, path: path, "working directory \(path)")
    }
    if st.st_mode & S_IFMT != S_IFDIR {
        throw JobError.make(.workingDirectoryInvalid, ENOTDIR, path: path, "working directory \(path)")
    }
    if access(path, X_OK) != 0 {
        let e = errno
        throw JobError.make(.workingDirectoryInvalid, e, path: path, "working directory \(path)")
    }
    if path.hasPrefix("/") { return path }
    guard let cwd = getcwd(nil, 0) else {
        let e = errno
        throw JobError.make(
            .workingDirectoryInvalid, e, path: path,
            "cannot make working directory \(path) absolute")
    }
    defer { Glibc.free(cwd) }
    return join(String(cString: cwd), path)
}

private func join(_ directory: String, _ name: String) -> String {
    if name.hasPrefix("/") { return name }
    if directory.isEmpty { return name }
    return directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// The errno for why `path` cannot be exec'ed, or 0 when it looks executable.
private func executableProblem(_ path: String) -> Int32 {
    var st = stat()
    if stat(path, &st) != 0 { return errno }
    if st.st_mode & S_IFMT == S_IFDIR { return EISDIR }
    if st.st_mode & S_IFMT != S_IFREG { return EACCES }
    if access(path, X_OK) != 0 { return errno }
    return 0
}

/// The search path of a job whose environment has no `PATH`.
let defaultSearchPath = "/bin:/usr/bin"

/// Where a job's exec would find `name`: a name with a `/` relative to `workingDirectory`,
/// otherwise the first executable regular file of that name on `path` (`nil`: the default search
/// path; an empty entry is the working directory, relative entries are relative to it); `nil`
/// when there is none. What the worker's provenance uses to tell which interpreter a job runs.
public func locateExecutable(_ name: String, path: String?, workingDirectory: String) -> String? {
    if name.contains("/") {
        let candidate = join(workingDirectory, name)
        return executableProblem(candidate) == 0 ? candidate : nil
    }
    for entry in (path ?? defaultSearchPath).split(separator: ":", omittingEmptySubsequences: false) {
        let candidate = join(join(workingDirectory, entry.isEmpty ? "." : String(entry)), name)
        if executableProblem(candidate) == 0 { return candidate }
    }
    return nil
}

/// Resolves `executable` the way the child's execvp would, from inside `workingDirectory`.
private func resolveExecutable(_ spec: JobSpec, workingDirectory: String) throws(JobError) -> String {
    let name = spec.executable
    if name.contains("/") {
        let path = join(workingDirectory, name)
        switch executableProblem(path) {
        case 0:
            return path
        case let e where e == ENOENT || e == ENOTDIR:
            throw JobError.make(.executableNotFound, e, path: path, "executable \(path)")
        case EISDIR:
            throw JobError.make(.spawnFailed, EACCES, path: path, "executable \(path) is a directory")
        case let e:
            throw JobError.make(.spawnFailed, e, path: path, "executable \(path)")
        }
    }
    let searchPath = spec.environment["PATH"] ?? defaultSearchPath
    if let found = locateExecutable(name, path: searchPath, workingDirectory: workingDirectory) { return found }
    // Not found: say why (a candidate without permission, or none at all).
    var denied: String?
    for entry in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
        let directory = join(workingDirectory, entry.isEmpty ? "." : String(entry))
        let candidate = join(directory, name)
        switch executableProblem(candidate) {
        case 0:
            return candidate
        case ENOENT, ENOTDIR, EISDIR:
            continue
        default:
            if denied == nil { denied = candidate }
        }
    }
    if let denied {
        throw JobError.make(.spawnFailed, EACCES, path: denied, "executable \(denied) found via PATH")
    }
    throw JobError(
        code: .executableNotFound, errno: ENOENT, path: name,
        message: "executable \(name) not found in PATH \(searchPath)")
}

/// A NULL-terminated `char *[]` for argv/envp, owning its strings until `free()`.
struct CStringArray {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    init(_ strings: [String]) {
        pointer = .allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() {
            pointer[i] = strdup(s)
        }
        pointer[strings.count] = nil
    }

    func free() {
        var i = 0
        while let s = pointer[i] {
            Glibc.free(s)
            i += 1
        }
        pointer.deallocate()
    }
}
