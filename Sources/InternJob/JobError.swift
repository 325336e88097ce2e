#if canImport(Glibc)
import Glibc
#endif

/// Why a job could not be started.
///
/// Thrown only by `JobProcess.spawn`; when it is thrown, no child process
/// exists and every descriptor the attempt opened has been closed again.
public struct JobError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; callers branch on it.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The wrapper's own identifier for the category.
        public let rawValue: Int

        /// Creates a code from its raw identifier.
        public init(rawValue: Int) {
            self.rawValue = rawValue
        }

        /// `executable` does not exist, or no `PATH` entry holds it.
        public static let executableNotFound = Code(rawValue: 1)
        /// `workingDirectory` does not exist, is not a directory, or cannot be entered.
        public static let workingDirectoryInvalid = Code(rawValue: 2)
        /// The executable exists but could not be started (permission, bad
        /// format, missing interpreter), or a resource (pipes, threads) ran out.
        public static let spawnFailed = Code(rawValue: 3)
        /// The spec itself is unusable: NUL in an argument or in the
        /// environment, or an environment key that is empty or contains `=`.
        public static let invalidSpec = Code(rawValue: 4)

        /// A short name for the category.
        public var description: String {
            switch self {
            case .executableNotFound: "executableNotFound"
            case .workingDirectoryInvalid: "workingDirectoryInvalid"
            case .spawnFailed: "spawnFailed"
            case .invalidSpec: "invalidSpec"
            default: "code(\(rawValue))"
            }
        }
    }

    /// The category callers should branch on.
    public let code: Code
    /// The `errno` value behind the failure (`ENOENT`, `EACCES`, `EINVAL`, ...).
    public let errno: Int32
    /// The path the failure is about (executable or working directory); empty when none applies.
    public let path: String
    /// A human-readable explanation that names `path`.
    public let message: String

    /// Creates an error; mostly useful for tests.
    public init(code: Code, errno: Int32, path: String, message: String) {
        self.code = code
        self.errno = errno
        self.path = path
        self.message = message
    }

    /// A one-line summary such as `job executableNotFound: ... (errno 2)`.
    public var description: String {
        "job \(code): \(message) (errno \(errno))"
    }

    /// Builds an error whose message ends with the `strerror` text of `errorNumber`.
    static func make(_ code: Code, _ errorNumber: Int32, path: String, _ what: String) -> JobError {
        JobError(
            code: code, errno: errorNumber, path: path,
            message: "\(what): \(String(cString: strerror(errorNumber)))")
    }
}
