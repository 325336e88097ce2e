import Foundation
import InternAuth
import NNG
import Synchronization
import Testing

/// A campaign CA with a coordinator (server) and a worker (client) certificate, plus a second,
/// unrelated CA with its own coordinator and worker, all written as PEM files into a fresh
/// temporary directory.
private struct Credentials {
    let directory: String
    /// The campaign CA's certificate.
    let caFile: String
    /// Certificate + key files issued by the campaign CA.
    let coordinatorFile: String
    let workerFile: String
    /// The other CA's certificate, and certificate + key files it issued.
    let otherCAFile: String
    let otherCoordinatorFile: String
    let otherWorkerFile: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.path + "/nng-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 1)
        let other = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 1)
        let dir = directory
        func write(_ name: String, _ text: String) throws -> String {
            let path = "\(dir)/\(name)"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        func leaf(_ name: String, _ authority: PEMCredential, server: Bool) throws -> String {
            let credential = try CertificateAuthority.issue(
                commonName: server ? "intern-coordinator" : "intern-worker", ca: authority, validDays: 1, server: server)
            return try write(name, credential.certificateAndKeyPEM)
        }
        caFile = try write("ca.pem", ca.certificatePEM)
        coordinatorFile = try leaf("coordinator.pem", ca, server: true)
        workerFile = try leaf("worker.pem", ca, server: false)
        otherCAFile = try write("other-ca.pem", other.certificatePEM)
        otherCoordinatorFile = try leaf("other-coordinator.pem", other, server: true)
        otherWorkerFile = try leaf("other-worker.pem", other, server: false)
    }

    /// The coordinator's side: its certificate, workers' certificates required.
    var server: TLSSettings { TLSSettings(caFile: caFile, certificateKeyFile: coordinatorFile) }
    /// A worker's side: its certificate, the coordinator's certificate required under its name.
    var client: TLSSettings { TLSSettings(caFile: caFile, certificateKeyFile: workerFile, serverName: "intern-coordinator") }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A REP socket listening with TLS on an ephemeral port, counting the pipes it accepts.
private final class TLSServer: Sendable {
    let socket: Socket
    let listener: Listener
    private let pipesAdded = Counter()

    init(_ tls: TLSSettings) throws {
        socket = try Socket.reply(maxMessageSize: 4096)
        try socket.setReceiveTimeout(safetyTimeout)
        try socket.setSendTimeout(safetyTimeout)
        listener = try socket.listen("tls+tcp://127.0.0.1:0", tls: tls)
        try socket.onPipeEvent { [pipesAdded] event in
            if event.kind == .added { pipesAdded.value.add(1, ordering: .relaxed) }
        }
    }

    /// Connections that completed the TLS handshake.
    var connections: Int { pipesAdded.value.load(ordering: .relaxed) }

    func url() throws -> String { "tls+tcp://127.0.0.1:\(try #require(listener.boundPort))" }

    func close() { socket.close() }
}

/// A count shared with a pipe-event handler (which must not capture the server: a cycle).
private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// A REQ socket dialling `url` with `tls`, redialling quickly.
private func client(_ url: String, _ tls: TLSSettings) throws -> Socket {
    let socket = try Socket.request(maxMessageSize: 4096)
    try socket.setReconnectTime(min: .milliseconds(20), max: .milliseconds(100))
    try socket.dial(url, tls: tls)
    return socket
}

/// How long a refused client waits before its request counts as unanswered. A good handshake
/// on loopback takes a few milliseconds, so this leaves room for several redials.
private let refusalWait = NNGDuration.milliseconds(400)

/// Expects a request over `req` to go unanswered: the send finds no pipe to go out on.
private func expectNoReply(_ req: Socket, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let context = try req.openContext()
    defer { context.close() }
    await expectNNGError(.timedOut, { try await context.request(bytes("hello?"), timeout: refusalWait) }, sourceLocation: sourceLocation)
}

@Suite struct TLSTests {
    @Test func mutualTLS_roundTripOverEphemeralPort() async throws {
        let credentials = try Credentials()
        defer { credentials.remove() }
        let server = try TLSServer(credentials.server)
        defer { server.close() }
        let port = try #require(server.listener.boundPort, "NNG_OPT_TCP_BOUND_PORT on a tls+tcp listener")
        #expect(port > 0 && port < 65536)

        let req = try client(try server.url(), credentials.client)
        defer { req.close() }
        async let served = serveOne(server.socket)
        let reply = try await req.openContext().request(bytes("ping"), timeout: safetyTimeout)
        #expect(text(reply) == "re:ping")
        #expect(text(try await served) == "ping")
        #expect(server.connections == 1)
    }

    @Test func clientCertificateFromAnotherCA_getsNoReply() async throws {
        let credentials = try Credentials()
        defer { credentials.remove() }
        let server = try TLSServer(credentials.server)
        defer { server.close() }
        // The client trusts the right CA (so it accepts the server), but its own certificate
        // comes from the other CA: the server refuses it.
        var tls = credentials.client
        tls.certificateKeyFile = credentials.otherWorkerFile
        let req = try client(try server.url(), tls)
        defer { req.close() }
        try await expectNoReply(req)
        #expect(server.connections == 0)
    }

    @Test func clientWithoutCertificate_isRefused() async throws {
        let credentials = try Credentials()
        defer { credentials.remove() }
        let server = try TLSServer(credentials.server)
        defer { server.close() }
        var tls = credentials.client
        tls.certificateKeyFile = nil
        let req = try client(try server.url(), tls)
        defer { req.close() }
        try await expectNoReply(req)
        #expect(server.connections == 0)
    }

    @Test func clientTrustingAnotherCA_refusesServer() async throws {
        let credentials = try Credentials()
        defer { credentials.remove() }
        let server = try TLSServer(credentials.server)
        defer { server.close() }
        var tls = credentials.client
        tls.caFile = credentials.otherCAFile
        let req = try client(try server.url(), tls)
        defer { req.close() }
        try await expectNoReply(req)
        #expect(server.connections == 0)
    }

    @Test func serverWithWrongName_isRefused() async throws {
        let credentials = try Credentials()
        defer { credentials.remove() }
        let server = try TLSServer(credentials.server)
        defer { server.close() }
        var tls = credentials.client
        tls.serverName = "some-other-host"
        let req = try client(try server.url(), tls)
        defer { req.close() }
        try await expectNoReply(req)
        #expect(server.connections == 0)
    }

    @Test func workerCertificateCannotServe() async throws {
        // A worker's certificate is for clientAuth only; even under the right name and CA a
        // client refuses a server presenting it.
        let credentials = try Credentials()
        defer { credentials.remove() }
        let server = try TLSServer(TLSSettings(caFile: credentials.caFile, certificateKeyFile: credentials.workerFile))
        defer { server.close() }
        var tls = credentials.client
        tls.serverName = "intern-worker"
        let req = try client(try server.url(), tls)
        defer { req.close() }
        try await expectNoReply(req)
        #expect(server.connections == 0)
    }

    @Test func coordinatorCertificateCannotDial() async throws {
        // The coordinator's certificate is for serverAuth only: the server refuses it from a client.
        let credentials = try Credentials()
        defer { credentials.remove() }
        let server = try TLSServer(credentials.server)
        defer { server.close() }
        var tls = credentials.client
        tls.certificateKeyFile = credentials.coordinatorFile
        let req = try client(try server.url(), tls)
        defer { req.close() }
        try await expectNoReply(req)
        #expect(server.connections == 0)
    }

    @Test func serverNotRequiringCertificates_acceptsClientWithout() async throws {
        // The control for clientWithoutCertificate_isRefused: the same client gets through
        // once the server stops requiring a certificate.
        let credentials = try Credentials()
        defer { credentials.remove() }
        var serverTLS = credentials.server
        serverTLS.requirePeerCertificate = false
        let server = try TLSServer(serverTLS)
        defer { server.close() }
        var tls = credentials.client
        tls.certificateKeyFile = nil
        let req = try client(try server.url(), tls)
        defer { req.close() }
        async let served = serveOne(server.socket)
        let reply = try await req.openContext().request(bytes("anonymous"), timeout: safetyTimeout)
        #expect(text(reply) == "re:anonymous")
        _ = try await served
    }

    @Test func blockingDial_reportsTheFailedHandshake() async throws {
        // Unlike a background dial, a blocking dial waits for the handshake of its first
        // connection and throws when it fails.
        let credentials = try Credentials()
        defer { credentials.remove() }
        let server = try TLSServer(credentials.server)
        defer { server.close() }
        let req = try Socket.request(maxMessageSize: 4096)
        defer { req.close() }
        var tls = credentials.client
        tls.caFile = credentials.otherCAFile
        await expectNNGError(.cryptographic) { try req.dial(try server.url(), blocking: true, tls: tls) }
        try req.dial(try server.url(), blocking: true, tls: credentials.client)
        async let served = serveOne(server.socket)
        #expect(text(try await req.openContext().request(bytes("after"), timeout: safetyTimeout)) == "re:after")
        _ = try await served
    }

    @Test func missingFile_errorNamesThePath() throws {
        let credentials = try Credentials()
        defer { credentials.remove() }
        let socket = try Socket.reply(maxMessageSize: 4096)
        defer { socket.close() }
        let missing = credentials.directory + "/no-such-ca.pem"
        do {
            try socket.listen("tls+tcp://127.0.0.1:0", tls: TLSSettings(caFile: missing, certificateKeyFile: credentials.coordinatorFile))
            Issue.record("listening with a missing CA file succeeded")
        } catch let error as NNGError {
            #expect(error.description.contains(missing), "\(error)")
            #expect(error.description.contains("No such file or directory"), "\(error)")
        }
        let req = try Socket.request(maxMessageSize: 4096)
        defer { req.close() }
        let missingKey = credentials.directory + "/no-such-worker.pem"
        do {
            try req.dial("tls+tcp://127.0.0.1:1", tls: TLSSettings(caFile: credentials.caFile, certificateKeyFile: missingKey))
            Issue.record("dialling with a missing certificate file succeeded")
        } catch let error as NNGError {
            #expect(error.description.contains(missingKey), "\(error)")
        }
    }

    @Test func fileWithoutCertificate_isRejectedWithItsPath() throws {
        let credentials = try Credentials()
        defer { credentials.remove() }
        let socket = try Socket.reply(maxMessageSize: 4096)
        defer { socket.close() }
        do {
            // The CA file holds only a certificate, no key.
            try socket.listen("tls+tcp://127.0.0.1:0", tls: TLSSettings(caFile: credentials.caFile, certificateKeyFile: credentials.caFile))
            Issue.record("listening with a certificate file lacking a key succeeded")
        } catch let error as NNGError {
            #expect(error == .cryptographic, "\(error)")
            #expect(error.description.contains("load TLS certificate and key file \(credentials.caFile)"), "\(error)")
            #expect(error.description.contains("followed by its unencrypted private key"), "\(error)")
        }
        let garbage = credentials.directory + "/garbage.pem"
        try Data("not PEM".utf8).write(to: URL(fileURLWithPath: garbage))
        do {
            try socket.listen("tls+tcp://127.0.0.1:0", tls: TLSSettings(caFile: garbage, certificateKeyFile: credentials.coordinatorFile))
            Issue.record("listening with a CA file that is not PEM succeeded")
        } catch let error as NNGError {
            #expect(error.description.contains("load TLS CA file \(garbage)"), "\(error)")
        }
    }

    @Test func tlsOnPlainTCP_andListenerWithoutCertificate_areRefused() throws {
        let credentials = try Credentials()
        defer { credentials.remove() }
        let socket = try Socket.reply(maxMessageSize: 4096)
        defer { socket.close() }
        do {
            try socket.listen("tcp://127.0.0.1:0", tls: credentials.server)
            Issue.record("TLS settings on tcp:// were accepted")
        } catch let error as NNGError {
            #expect(error == .notSupported, "\(error)")
            #expect(error.description.contains("tls+tcp://"), "\(error)")
        }
        do {
            try socket.listen("tls+tcp://127.0.0.1:0", tls: TLSSettings(caFile: credentials.caFile, certificateKeyFile: nil))
            Issue.record("a TLS listener without a certificate was accepted")
        } catch let error as NNGError {
            #expect(error == .invalidArgument, "\(error)")
        }
    }
}

@Suite struct IPCPermissionTests {
    /// ipc peers are not authenticated: the socket file is owner-only.
    @Test func ipcSocketFilesAreOwnerOnly() throws {
        let path = NSTemporaryDirectory() + "intern-perm-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        let socket = try Socket.reply(maxMessageSize: 1 << 16)
        defer { socket.close() }
        try socket.listen("ipc://" + path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600, "mode \(String(info.st_mode & 0o777, radix: 8))")
    }
}
