import Glibc
import NNG
import Testing

/// `Socket.restrictIPCPeers(to:)`: an ipc connection whose peer process runs as a uid the socket
/// does not accept is closed before any message crosses it (SO_PEERCRED through NNG).
@Suite struct IPCPeerTests {
    @Test func aPeerOfAnAcceptedUser_connects() async throws {
        let url = temporaryIPCURL()
        let rep = try Socket.reply(maxMessageSize: 1 << 16)
        let req = try Socket.request(maxMessageSize: 1 << 16)
        defer { req.close(); rep.close() }
        try rep.restrictIPCPeers(to: [geteuid()])
        try req.restrictIPCPeers(to: [geteuid(), 0])
        _ = try rep.listen(url)
        _ = try req.dial(url)
        async let served = serveOne(rep)
        let reply = try await req.openContext().request(bytes("hello"), timeout: safetyTimeout)
        #expect(text(reply) == "re:hello")
        _ = try await served
        #expect(req.refusedIPCPeers.isEmpty && rep.refusedIPCPeers.isEmpty)
    }

    @Test func aPeerOfAnotherUser_isRefusedBeforeAnyMessage() async throws {
        let url = temporaryIPCURL()
        let rep = try Socket.reply(maxMessageSize: 1 << 16)
        let req = try Socket.request(maxMessageSize: 1 << 16)
        defer { req.close(); rep.close() }
        // The requester accepts only uid 65534: this process (another uid) is refused.
        try req.restrictIPCPeers(to: [65_534])
        try req.setReconnectTime(min: .milliseconds(10), max: .milliseconds(50))
        _ = try rep.listen(url)
        _ = try req.dial(url)
        await #expect(throws: NNGError.self) {
            _ = try await req.openContext().request(bytes("hello"), timeout: .milliseconds(300))
        }
        #expect(req.refusedIPCPeers.first == geteuid())
    }

    @Test func otherTransportsAreNotAffected() async throws {
        let rep = try Socket.reply(maxMessageSize: 1 << 16)
        let req = try Socket.request(maxMessageSize: 1 << 16)
        defer { req.close(); rep.close() }
        try req.restrictIPCPeers(to: [65_534])
        let listener = try rep.listen("tcp://127.0.0.1:0")
        _ = try req.dial("tcp://127.0.0.1:\(try #require(listener.boundPort))")
        async let served = serveOne(rep)
        let reply = try await req.openContext().request(bytes("hi"), timeout: safetyTimeout)
        #expect(text(reply) == "re:hi")
        _ = try await served
    }
}
