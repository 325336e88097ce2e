import ArgumentParser
import Foundation
import MCP
@preconcurrency import NIOCore
@preconcurrency import NIOHTTP1
@preconcurrency import NIOPosix

/// Where `intern mcp --http` listens: `HOST:PORT` (port 0: any free one, printed). A host other
/// than loopback needs a bearer token: workers execute commands, so no one reaches the steering
/// tools unauthenticated from the network.
struct HTTPAddress: Sendable {
    let host: String
    let port: Int

    init(_ text: String, tokenGiven: Bool) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ValidationError("--http takes HOST:PORT (127.0.0.1:8765), not \(text)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
        guard isLoopback || tokenGiven else {
            throw ValidationError("--http \(text) is not a loopback address: give --token-file (the bearer token every request must carry), or bind to 127.0.0.1")
        }
    }

    var isLoopback: Bool { host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.") }
}

/// The Streamable HTTP sessions: each `initialize` without a session starts one (its own MCP
/// server and tool runner, so each client has its read memory and its name as the actor), every
/// other request goes to its session by `MCP-Session-Id`. A request without the bearer token, when
/// one is set, is refused before anything else; sessions idle for an hour end, and at most
/// ``maxSessions`` live at once.
actor MCPSessions {
    typealias Start = @Sendable (StatefulHTTPServerTransport) async throws -> Server

    private struct Session {
        let server: Server
        let transport: StatefulHTTPServerTransport
        var lastUsed: Date
    }

    static let maxSessions = 64
    static let idleSeconds: TimeInterval = 3_600
    /// The largest request body accepted.
    static let maxBody = 4 << 20

    private let token: [UInt8]?
    private let pipeline: any HTTPRequestValidationPipeline
    private let start: Start
    private var sessions: [String: Session] = [:]

    init(token: String?, loopback: Bool, start: @escaping Start) {
        self.token = token.map { Array($0.utf8) }
        // Loopback: DNS-rebinding protection (a browser page must not reach it through a name
        // that resolves to 127.0.0.1). Elsewhere the token is the protection.
        self.pipeline = StandardValidationPipeline(validators: [
            loopback ? OriginValidator.localhost() : OriginValidator.disabled,
            AcceptHeaderValidator(mode: .sseRequired), ContentTypeValidator(), ProtocolVersionValidator(), SessionValidator(),
        ])
        self.start = start
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard authorized(request) else {
            return .error(statusCode: 401, .invalidRequest("Unauthorized: this server needs Authorization: Bearer TOKEN"),
                          extraHeaders: [HTTPHeaderName.wwwAuthenticate: "Bearer"])
        }
        expire()
        if let id = request.header(HTTPHeaderName.sessionID) {
            guard var session = sessions[id] else { return .error(statusCode: 404, .invalidRequest("Not Found: no session \(id.prefix(64)) (ended or expired)")) }
            session.lastUsed = Date()
            sessions[id] = session
            let response = await session.transport.handleRequest(request)
            if request.method.uppercased() == "DELETE", response.statusCode == 200 { sessions[id] = nil }
            return response
        }
        guard request.method.uppercased() == "POST", let body = request.body, Self.isInitialize(body) else {
            return .error(statusCode: 400, .invalidRequest("Bad Request: start a session with initialize, then send \(HTTPHeaderName.sessionID)"))
        }
        guard sessions.count < Self.maxSessions else {
            return .error(statusCode: 503, .invalidRequest("Service Unavailable: \(Self.maxSessions) sessions are open; end one (DELETE) first"))
        }
        let id = UUID().uuidString
        let transport = StatefulHTTPServerTransport(sessionIDGenerator: FixedID(id: id), validationPipeline: pipeline)
        do {
            let server = try await start(transport)
            let response = await transport.handleRequest(request)
            if case .error = response {
                await transport.disconnect()
            } else {
                sessions[id] = Session(server: server, transport: transport, lastUsed: Date())
            }
            return response
        } catch {
            await transport.disconnect()
            return .error(statusCode: 500, .internalError("cannot start a session: \(error)"))
        }
    }

    /// The bearer token, compared in constant time.
    private func authorized(_ request: HTTPRequest) -> Bool {
        guard let token else { return true }
        guard let header = request.header(HTTPHeaderName.authorization), header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.dropFirst("Bearer ".count).utf8)
        var difference = UInt8(given.count == token.count ? 0 : 1)
        for index in token.indices { difference |= token[index] ^ (index < given.count ? given[index] : 0) }
        return difference == 0
    }

    private func expire() {
        let now = Date()
        for (id, session) in sessions where now.timeIntervalSince(session.lastUsed) > Self.idleSeconds {
            sessions[id] = nil
            Task { await session.transport.disconnect() }
        }
    }

    /// Whether a JSON-RPC body is an `initialize` request.
    static func isInitialize(_ body: Data) -> Bool {
        (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["method"] as? String == "initialize"
    }

    private struct FixedID: SessionIDGenerator {
        let id: String
        func generateSessionID() -> String { id }
    }
}

/// The HTTP/1.1 listener (SwiftNIO) in front of the sessions: one request at a time per
/// connection, a response's SSE stream written as it comes.
enum MCPHTTPListener {
    static func serve(_ address: HTTPAddress, sessions: MCPSessions) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(RequestHandler(sessions: sessions)) }
            }
            .bind(host: address.host, port: address.port).get()
        let port = channel.localAddress?.port ?? address.port
        FileHandle.standardError.write(Data("intern mcp: listening on http://\(address.host.contains(":") ? "[\(address.host)]" : address.host):\(port)/mcp\n".utf8))
        try await channel.closeFuture.get()
    }

    private final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let sessions: MCPSessions
        private var head: HTTPRequestHead?
        private var body: ByteBuffer?
        private var tooLarge = false

        init(sessions: MCPSessions) { self.sessions = sessions }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = context.channel.allocator.buffer(capacity: 0)
                tooLarge = false
            case .body(var part):
                if (body?.readableBytes ?? 0) + part.readableBytes > MCPSessions.maxBody { tooLarge = true } else { body?.writeBuffer(&part) }
            case .end:
                guard let head else { return }
                self.head = nil
                let request = HTTPRequest(
                    method: head.method.rawValue,
                    headers: Dictionary(head.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $0 + ", " + $1 }),
                    body: body.flatMap { $0.readableBytes > 0 ? Data($0.readableBytesView) : nil },
                    path: String(head.uri.split(separator: "?").first ?? ""))
                let path = request.path, tooLarge = self.tooLarge
                nonisolated(unsafe) let context = context
                let sessions = sessions
                Task {
                    let response: HTTPResponse = if path != "/mcp" {
                        .error(statusCode: 404, .invalidRequest("Not Found: the MCP endpoint is /mcp"))
                    } else if tooLarge {
                        .error(statusCode: 413, .invalidRequest("Payload Too Large: at most \(MCPSessions.maxBody) bytes"))
                    } else {
                        await sessions.handle(request)
                    }
                    await self.write(response, version: head.version, context: context)
                }
            }
        }

        private func write(_ response: HTTPResponse, version: HTTPVersion, context: ChannelHandlerContext) async {
            nonisolated(unsafe) let context = context
            var headers = HTTPHeaders()
            for (name, value) in response.headers { headers.add(name: name, value: value) }
            if case .stream(let stream, _) = response {
                let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.statusCode), headers: headers)
                context.eventLoop.execute {
                    context.writeAndFlush(self.wrapOutboundOut(.head(head)), promise: nil)
                }
                do {
                    for try await chunk in stream {
                        context.eventLoop.execute {
                            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: chunk)))), promise: nil)
                        }
                    }
                } catch {}
                context.eventLoop.execute { context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil) }
                return
            }
            let body = response.bodyData
            headers.replaceOrAdd(name: "Content-Length", value: String(body?.count ?? 0))
            let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.statusCode), headers: headers)
            context.eventLoop.execute {
                context.write(self.wrapOutboundOut(.head(head)), promise: nil)
                if let body { context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil) }
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
