import Foundation
import Glibc

/// The checks intern makes before it trusts a directory of its own: a worker's state directory
/// (its spool, its list of running jobs, its lock) and the private directory of fallback ipc
/// sockets, as OpenSSH checks the files it trusts: a directory someone else could write to lets
/// them plant a `jobs` file (the worker would SIGKILL the processes it names), a symlink (the
/// worker would truncate what it points to), or a socket (a worker would take its commands).
///
/// The directory is made owner-only (0700) when it is missing. It, and each directory above it,
/// must be owned by this user or root and writable by no one else, unless sticky (as /tmp is);
/// the directory itself and the one it is in must not be symbolic links, and the directory itself
/// must be this user's and not group- or other-accessible for writing, sticky or not.
public enum PrivateDirectory {
    /// Makes `directory` (and what is missing above it, 0700) and checks it; throws why it is not
    /// to be trusted. `what` names it in messages (`the state directory`), `remedy` says what to do
    /// (`remove it, or give --state-dir`).
    public static func prepare(
        _ directory: String, what: String = "the state directory", remedy: String = "remove it, or give --state-dir"
    ) throws(PrivateDirectoryError) {
        do {
            try SpoolFiles.makeDirectories(directory)
        } catch {
            throw PrivateDirectoryError(description: error.description)
        }
        try check(directory, strict: true, what: what, remedy: remedy)
    }

    /// Checks `path` and the directories above it (see the type); `strict`: `path` itself must be
    /// this user's, not writable by others and not a link, as must the directory it is in.
    static func check(_ directory: String, strict: Bool, what: String, remedy: String) throws(PrivateDirectoryError) {
        let me = geteuid()
        var path = directory
        var depth = 0
        while true {
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw PrivateDirectoryError(description: "cannot check \(path): \(String(cString: strerror(errno)))")
            }
            let isLink = info.st_mode & S_IFMT == S_IFLNK
            if isLink, strict, depth <= 1 {
                throw PrivateDirectoryError(description: "\(path) is a symbolic link: \(what) must be a plain directory (\(remedy))")
            }
            if !isLink {
                guard info.st_mode & S_IFMT == S_IFDIR else { throw PrivateDirectoryError(description: "\(path) is not a directory") }
                let owner = info.st_uid
                let sticky = info.st_mode & S_ISVTX != 0
                let writableByOthers = info.st_mode & 0o022 != 0
                if strict, depth == 0, owner != me || writableByOthers {
                    throw PrivateDirectoryError(description:
                        "\(what) \(path) is owned by uid \(owner) with mode \(String(info.st_mode & 0o7777, radix: 8)): another user could plant files in it; it must be this user's (uid \(me)) and writable by no one else (\(remedy))")
                }
                if owner != me, owner != 0 {
                    throw PrivateDirectoryError(description: "\(path), above \(what), is owned by uid \(owner): another user could replace what is in it (\(remedy))")
                }
                if writableByOthers, !sticky || (strict && depth <= 1) {
                    throw PrivateDirectoryError(description:
                        "\(path), above \(what), has mode \(String(info.st_mode & 0o7777, radix: 8)): others could replace what is in it (chmod go-w it, or \(remedy))")
                }
            }
            guard path != "/", let slash = path.lastIndex(of: "/") else { break }
            path = slash == path.startIndex ? "/" : String(path[..<slash])
            depth += 1
        }
    }

    /// Before a worker dials `ipc://PATH`: the socket file, when it exists, must be this user's or
    /// root's, and the directories above it no one else's to replace it in (a sticky one such as
    /// /tmp is fine). The peer's own uid is checked when it connects (`Socket.restrictIPCPeers`).
    public static func checkSocket(_ path: String) throws(PrivateDirectoryError) {
        var info = stat()
        if lstat(path, &info) == 0, info.st_uid != geteuid(), info.st_uid != 0 {
            throw PrivateDirectoryError(description: "ipc://\(path) belongs to uid \(info.st_uid): another user's process could be listening there, and this worker would run what it says")
        }
        let parent = (path as NSString).deletingLastPathComponent
        try check(parent.isEmpty ? "/" : parent, strict: false, what: "the socket ipc://\(path)", remedy: "use a directory of your own")
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

/// A directory intern would have to trust is not to be trusted; the description says why and what
/// to do.
public struct PrivateDirectoryError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
