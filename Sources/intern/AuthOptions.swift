import ArgumentParser
import Foundation
import InternAuth
import NNG

/// How a command authenticates to (or as) a campaign's coordinator over the network.
///
/// A worker executes commands, so every non-local transport is authenticated: the campaign's
/// credentials come from `--auth DIR`, `$INTERN_AUTH_DIR` or `$INTERN_SECRET`; without them a
/// tcp:// address is refused unless `--insecure` accepts that anyone who reaches it can run
/// commands on the workers.
struct AuthOptions: ParsableArguments {
    @Option(name: .long, help: "The campaign's credentials directory, made by `intern init-auth DIR` (default: $INTERN_AUTH_DIR, or the secret alone in $INTERN_SECRET).")
    var auth: String?

    @Flag(name: .long, help: "Allow tcp:// without authentication: anyone who reaches the address can run commands on the workers.")
    var insecure = false

    /// What a command needs to talk over `urls` as `side`: the campaign's credentials (`nil` when
    /// none are needed or `--insecure` was given) and, for a `tls+tcp://` URL, the TLS files; a
    /// usage error saying what to do when they are needed and missing or unusable. `option` names
    /// the command's URL option in messages.
    func security(for urls: [String], option: String, side: TLSRole) throws -> (credentials: Credentials?, tls: TLSSettings?) {
        let credentials = try credentials(for: urls, role: option)
        return (credentials, try tls(for: urls, credentials: credentials, role: side))
    }

    private func credentials(for urls: [String], role: String) throws -> Credentials? {
        let credentials: Credentials?
        do {
            credentials = try Credentials.resolve(directory: auth)
        } catch {
            throw ValidationError(error.message)
        }
        let network = urls.filter { !Self.isLocal($0) }
        if insecure {
            if auth != nil { throw ValidationError("--insecure and --auth contradict each other: pick one") }
            if let url = network.first(where: { $0.hasPrefix("tls+") }) {
                throw ValidationError("\(role) \(url): TLS needs the campaign's certificates (--auth DIR, made by `intern init-auth DIR`)")
            }
            for url in network {
                FileHandle.standardError.write(Data("warning: \(url) is not authenticated (--insecure): anyone who reaches it can run commands on the workers\n".utf8))
            }
            return nil
        }
        if let url = network.first, credentials == nil {
            throw ValidationError("""
                \(role) \(url) needs the campaign's credentials: make them once with `intern init-auth DIR`, copy DIR to \
                every node, and pass --auth DIR (or set INTERN_AUTH_DIR). --insecure runs without, and lets anyone who \
                reaches the address run commands on the workers.
                """)
        }
        return credentials
    }

    /// The TLS files for `role` when one of `urls` is `tls+tcp://` (`nil` otherwise): the
    /// campaign's CA and the role's certificate from the credentials directory.
    private func tls(for urls: [String], credentials: Credentials?, role: TLSRole) throws -> TLSSettings? {
        guard let url = urls.first(where: { $0.hasPrefix("tls+") }) else { return nil }
        do {
            guard let credentials, credentials.directory != nil,
                  let ca = try credentials.file(Credentials.File.caCertificate),
                  let own = try credentials.file(role == .coordinator ? Credentials.File.coordinator : Credentials.File.worker)
            else {
                throw CredentialError("\(url) needs the campaign's certificates: --auth DIR made by `intern init-auth DIR` (with \(Credentials.File.caCertificate) and \(role == .coordinator ? Credentials.File.coordinator : Credentials.File.worker))")
            }
            return TLSSettings(caFile: ca, certificateKeyFile: own, serverName: role == .coordinator ? nil : CampaignCertificates.coordinatorName)
        } catch let error as CredentialError {
            throw ValidationError(error.message)
        }
    }

    enum TLSRole { case coordinator, client }

    /// ipc:// and inproc:// reach only this machine (the socket file's permissions guard ipc).
    static func isLocal(_ url: String) -> Bool {
        url.hasPrefix("ipc://") || url.hasPrefix("inproc://")
    }
}

/// `intern init-auth DIR`: makes a campaign's credentials.
struct InitAuth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-auth",
        abstract: "Make a campaign's credentials: a shared secret (and TLS certificates) in a new directory.",
        discussion: """
            Copy the directory to every node that runs a worker or an admin command, readable only by the user \
            that runs intern (files with group or other permissions are refused). Nothing is ever overwritten: \
            to rotate, make a new directory and restart the coordinator, then the workers, with it.
            """)

    @Argument(help: "The directory to create (mode 0700).")
    var directory: String

    func run() throws {
        do {
            let credentials = try Credentials.createDirectory(directory)
            try CampaignCertificates.create(in: credentials)
        } catch {
            throw ValidationError(error.message)
        }
        print("credentials written to \(directory)/: secret, ca.crt, ca.key, coordinator.pem, worker.pem")
        print("give them to the coordinator, workers and admin commands with --auth \(directory) or INTERN_AUTH_DIR=\(directory)")
    }
}
