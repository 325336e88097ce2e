import ArgumentParser
import Foundation
import InternAuth
import InternCore
import InternWeb
import Logging
import ServiceLifecycle

/// `intern serve`: the dashboard of the campaigns under a root directory, in a browser.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the dashboard: live web pages of the campaigns under --root.",
        discussion: """
            Open the printed URL: every campaign under --root with its state and progress; a campaign's page \
            updates itself while it runs (Server-Sent Events). The pages read the stores read-only, as \
            `intern status` does, so serve a campaign that `intern run` or `intern coordinator` is running. \
            It listens on loopback unless told otherwise; another address needs --token-file. With --token-file the campaign page can also \
            pause, resume, cancel and add (requests that carry the token). See docs/dashboard.md.
            """)

    @Option(name: .long, help: "Where campaign directories live.")
    var root: String = ".intern"

    @Option(name: .long, help: "HOST:PORT to listen on (port 0: any free port).")
    var listen: String = "127.0.0.1:8080"

    @Option(name: .customLong("token-file"), help: "A file holding the token that steering requests must carry (Authorization: Bearer TOKEN); without it the dashboard only reads. Needed to listen on a non-loopback address.")
    var tokenFile: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        _ = try Self.address(listen, tokenGiven: tokenFile != nil, option: "--listen")
    }

    /// The address to listen on, refused when it is not loopback and no token protects it.
    static func address(_ text: String, tokenGiven: Bool, option: String) throws -> ListenAddress {
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: text)
        } catch {
            throw ValidationError("\(option): \(error.message)")
        }
        if !address.isLoopback && !tokenGiven {
            throw ValidationError("\(option) \(text) is not a loopback address: give --token-file, so that only its holders can steer the campaigns (the pages, job output included, are still readable by whoever reaches the address: docs/dashboard.md), or listen on 127.0.0.1")
        }
        return address
    }

    /// The token in `path` (surrounding white space dropped); an empty or unreadable file is refused.
    static func token(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("--token-file: cannot read \(path)") }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 16 else { throw ValidationError("--token-file: \(path) holds no token of 16 characters or more") }
        return token
    }

    func run() async throws {
        global.bootstrapLogging()
        let address = try Self.address(listen, tokenGiven: tokenFile != nil, option: "--listen")
        let token = try tokenFile.map(Self.token)
        let service = DashboardService(root: root, address: address, access: ControlAccess(token: token))
        let lifecycle = ProcessLifecycle(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup,
                             serviceName: "dashboard")],
            maximumGracefulShutdownDuration: DashboardService.gracefulBound, maximumCancellationDuration: .seconds(5))
        _ = try await lifecycle.run()
    }
}

/// `--http ADDR` (and `--http-token-file`) on `intern run` and `intern coordinator`: the dashboard
/// of the campaigns beside this one, served by the same process. Without a token file, a campaign
/// with credentials steers with its own token (``DashboardToken``, `intern token`), that campaign
/// only.
struct DashboardOptions: ParsableArguments {
    @Option(name: .long, help: "Also serve the dashboard at HOST:PORT (e.g. 127.0.0.1:8080; port 0: any free port), as `intern serve` would. With the campaign's credentials it steers this campaign with `intern token`'s token.")
    var http: String?

    @Option(name: .customLong("http-token-file"), help: "With --http: a file holding the token steering requests must carry (as `intern serve --token-file`), for every campaign it shows.")
    var httpTokenFile: String?

    func validate() throws {
        if httpTokenFile != nil, http == nil { throw ValidationError("--http-token-file goes with --http") }
        // Whether a token guards a non-loopback address is known with the credentials (`service`).
        if let http { _ = try Serve.address(http, tokenGiven: true, option: "--http") }
    }

    /// The dashboard of the campaigns under `root` (the directory that holds this campaign's,
    /// `campaign`), or nil without --http. Its token: the token file's (every campaign), else the
    /// one derived from `credentials` (this campaign only), else none (it only reads). A usage
    /// error for a non-loopback address without either.
    func service(root: String, campaign: String, credentials: Credentials?, measurements: CoordinatorMeasurements? = nil) throws -> DashboardService? {
        guard let http else { return nil }
        let access: ControlAccess
        if let httpTokenFile {
            access = ControlAccess(token: try Serve.token(httpTokenFile))
        } else if let credentials {
            access = ControlAccess(token: DashboardToken.derive(from: credentials.secret), only: campaign)
        } else {
            access = ControlAccess(token: nil)
        }
        let address = try Serve.address(http, tokenGiven: access.isOn, option: "--http")
        return DashboardService(root: root, address: address, access: access, measurements: measurements)
    }
}

/// The dashboard's web server as a service of the process's group; it prints its URL once it
/// listens (the port chosen, for port 0).
struct DashboardService: Service {
    let root: String
    let address: ListenAddress
    var access = ControlAccess(token: nil)
    /// The coordinator's own measurements, when it shares the process (`--http`).
    var measurements: CoordinatorMeasurements?

    /// Live feeds end at the graceful shutdown; a request still reading a store gets this long.
    static let gracefulBound: Duration = .seconds(3)

    func run() async throws {
        let dashboard = Dashboard(root: root, access: access, measurements: measurements)
        let host = address.host
        let application = dashboard.application(host: host, port: address.port, logger: Logger(label: "intern.dashboard")) { port in
            let shown = ListenAddress(host: host, port: port)
            let steering = access.only.map { "; steers \($0) with `intern token`'s token" } ?? ""
            print("dashboard: http://\(shown)/ (campaigns under \(root)\(steering))")
            fflush(nil)
        }
        try await application.run()
    }
}

/// `intern token`: the dashboard token of a campaign with credentials, for steering from the
/// dashboard of its coordinator's `--http` (docs/dashboard.md).
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print the token that steers a campaign from its coordinator's --http dashboard, derived from the campaign's credentials.",
        discussion: """
            A coordinator started with the campaign's credentials (--auth DIR, INTERN_AUTH_DIR or INTERN_SECRET; for intern run \
            and intern resume, the environment's) and --http, without --http-token-file, takes this token for steering that \
            campaign from its pages (pause, resume, cancel, add). It is an HMAC of the campaign secret, so whoever holds the \
            credentials can print it, and it reveals nothing of the secret. Send it as Authorization: Bearer TOKEN, or type it \
            into the campaign page. Treat it as a password: anyone who has it can steer the campaign.
            """)

    @Option(name: .long, help: "The campaign's credentials directory, made by `intern init-auth DIR` (default: $INTERN_AUTH_DIR, or the secret alone in $INTERN_SECRET).")
    var auth: String?

    func run() throws {
        let credentials: Credentials?
        do {
            credentials = try Credentials.resolve(directory: auth)
        } catch {
            throw ValidationError(error.message)
        }
        guard let credentials else {
            throw ValidationError("no credentials: give --auth DIR (made by `intern init-auth DIR`), or set INTERN_AUTH_DIR or INTERN_SECRET")
        }
        print(DashboardToken.derive(from: credentials.secret))
    }
}
