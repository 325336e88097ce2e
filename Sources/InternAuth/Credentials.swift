import Foundation

/// A campaign's credentials as a node holds them: the shared secret, and where the TLS files
/// are when they came from a directory made by `intern init-auth`.
///
/// Sources, first found wins: `--auth DIR`, `$INTERN_AUTH_DIR`, `$INTERN_SECRET` (the secret
/// alone, as hexadecimal; enough for tcp://, not for tls+tcp://). Files that hold a secret
/// (the secret, private keys) must be readable by their owner only; anything else is refused
/// before it is read.
public struct Credentials: Sendable {
    /// File names inside a credentials directory.
    public enum File {
        public static let secret = "secret"
        public static let caCertificate = "ca.crt"
        public static let caKey = "ca.key"
        public static let coordinator = "coordinator.pem"
        public static let worker = "worker.pem"
        /// The files that must not be readable by group or others.
        public static let privateFiles = [secret, caKey, coordinator, worker]
    }

    public var secret: CampaignSecret
    /// The directory the credentials came from (`nil` for `$INTERN_SECRET`).
    public var directory: String?

    /// Where this came from, for messages (never the secret itself).
    public var source: String { directory.map { "credentials in \($0)" } ?? "$INTERN_SECRET" }

    public init(secret: CampaignSecret, directory: String?) {
        self.secret = secret
        self.directory = directory
    }

    /// The path of `name` in the credentials directory if it exists there (checked private
    /// when it is one of ``File/privateFiles``).
    public func file(_ name: String) throws(CredentialError) -> String? {
        guard let directory else { return nil }
        let path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        if File.privateFiles.contains(name) { try Self.requirePrivate(path) }
        return path
    }

    /// Loads `directory`'s secret.
    public static func load(directory: String) throws(CredentialError) -> Credentials {
        let path = (directory as NSString).appendingPathComponent(File.secret)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CredentialError("\(path) does not exist: make the campaign's credentials with `intern init-auth \(directory)`")
        }
        try requirePrivate(path)
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CredentialError("cannot read \(path): \((error as NSError).localizedDescription)")
        }
        return Credentials(secret: try CampaignSecret(hex: text, source: path), directory: directory)
    }

    /// The credentials named by `--auth` or the environment, or `nil` when none are.
    public static func resolve(directory: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(CredentialError) -> Credentials? {
        if let directory { return try load(directory: directory) }
        if let directory = environment["INTERN_AUTH_DIR"], !directory.isEmpty { return try load(directory: directory) }
        if let hex = environment["INTERN_SECRET"], !hex.isEmpty {
            return Credentials(secret: try CampaignSecret(hex: hex, source: "$INTERN_SECRET"), directory: nil)
        }
        return nil
    }

    /// Refuses a file that group or others may read or write, or that is not a regular file.
    public static func requirePrivate(_ path: String) throws(CredentialError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw CredentialError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw CredentialError("\(path) is not a regular file") }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw CredentialError("\(path) is accessible to group or others (mode \(String(mode, radix: 8))); it holds a secret: run `chmod 600 \(path)`")
        }
    }

    /// Creates `directory` (mode 0700) with a new secret (mode 0600); refuses to overwrite one.
    /// The TLS files are added by the caller (see `CertificateAuthority`).
    public static func createDirectory(_ directory: String) throws(CredentialError) -> Credentials {
        let path = (directory as NSString).appendingPathComponent(File.secret)
        if FileManager.default.fileExists(atPath: path) {
            throw CredentialError("\(path) exists: credentials are never overwritten (rotate by making a new directory)")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            _ = chmod(directory, 0o700)
        } catch {
            throw CredentialError("cannot create \(directory): \((error as NSError).localizedDescription)")
        }
        let secret = CampaignSecret.generate()
        try writePrivate(secret.hexText + "\n", to: path)
        return Credentials(secret: secret, directory: directory)
    }

    /// Writes `text` to a new file readable by its owner only (created 0600, never widened).
    public static func writePrivate(_ text: String, to path: String, mode: mode_t = 0o600) throws(CredentialError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CredentialError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw CredentialError("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
        guard fsync(fd) == 0 else { throw CredentialError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
