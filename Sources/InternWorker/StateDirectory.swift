import Glibc

/// The checks a worker makes before it trusts its state directory (its spool, its list of running
/// jobs, its lock), as OpenSSH checks the files it trusts: a directory someone else could write to
/// lets them plant a `jobs` file (the worker would SIGKILL the processes it names) or a symlink
/// (the worker would truncate what it points to).
///
/// The directory is made owner-only (0700) when it is missing. It, and each directory above it,
/// must be owned by this user or root and writable by no one else, unless sticky (as /tmp is);
/// the directory itself and the one it is in must not be symbolic links, and the directory itself
/// must be this user's and not group- or other-accessible for writing, sticky or not.
enum StateDirectory {
    /// Makes `directory` (and what is missing above it, 0700) and checks it; throws why it is not
    /// to be trusted.
    static func prepare(_ directory: String) throws(SpoolError) {
        try SpoolFiles.makeDirectories(directory)
        let me = geteuid()
        var path = directory
        var depth = 0
        while true {
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw SpoolError("cannot check \(path): \(String(cString: strerror(errno)))")
            }
            let isLink = info.st_mode & S_IFMT == S_IFLNK
            if isLink, depth <= 1 {
                throw SpoolError("\(path) is a symbolic link: a worker's state directory must be a plain directory (remove it, or give --state-dir)")
            }
            if !isLink {
                guard info.st_mode & S_IFMT == S_IFDIR else { throw SpoolError("\(path) is not a directory") }
                let owner = info.st_uid
                let sticky = info.st_mode & S_ISVTX != 0
                let writableByOthers = info.st_mode & 0o022 != 0
                if depth == 0, owner != me || writableByOthers {
                    throw SpoolError(
                        "the state directory \(path) is owned by uid \(owner) with mode \(String(info.st_mode & 0o7777, radix: 8)): another user could plant files in it; it must be this user's (uid \(me)) and writable by no one else (remove it, or give --state-dir)")
                }
                if owner != me, owner != 0 {
                    throw SpoolError("\(path), above the state directory, is owned by uid \(owner): another user could replace what is in it (remove it, or give --state-dir)")
                }
                if writableByOthers, !sticky || depth <= 1 {
                    throw SpoolError(
                        "\(path), above the state directory, has mode \(String(info.st_mode & 0o7777, radix: 8)): others could replace what is in it (chmod go-w it, or give --state-dir)")
                }
            }
            guard path != "/", let slash = path.lastIndex(of: "/") else { break }
            path = slash == path.startIndex ? "/" : String(path[..<slash])
            depth += 1
        }
    }

    /// Opens a file of the state directory for reading when it is a regular file this user owns
    /// and no one else may write (never through a symbolic link); -1 otherwise.
    static func openTrusted(_ path: String) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return -1 }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    /// Creates `path` afresh for writing (0600): whatever is there (a file, a planted symbolic
    /// link) is removed first, and the new file is never reached through a link.
    static func createFresh(_ path: String) -> Int32 {
        unlink(path)
        return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    }
}
