import Foundation
import Glibc
import InternTestKit
import NNG
import Synchronization
import Testing

/// `Pipe.close()` hangs up without racing NNG's receive: in NNG 1.5.2, `nng_pipe_close` on a TCP
/// pipe whose peer had sent the start of another message lost the pipe's receive, the pipe was
/// never freed and nor was any closed after it (one descriptor leaked per connection, for good,
/// and closing the socket hung). Strangers who send a bad message and the start of another are
/// hung up on by the hundred: descriptors return to their baseline, a genuine peer is still
/// answered, and the socket closes at once.
@Suite(.serialized) struct HangUpTests {
    @Test func hangingUpOnAFloodOfPeersMidMessage_leaksNoDescriptor_andCloseReturns() async throws {
        let rep = try Socket.reply(maxMessageSize: 1 << 16)
        let listener = try rep.listen("tcp://127.0.0.1:0")
        let port = Int(try #require(listener.boundPort))
        let hungUp = Tally()
        // Answers "hello" and hangs up on anything else, as the coordinator does on a forged frame.
        let server = Task {
            try await withThrowingDiscardingTaskGroup { group in
                for _ in 0..<8 {
                    let context = try rep.openContext()
                    group.addTask {
                        while let request = try? await context.receiveMessage() {
                            if request.bytes == bytes("hello") {
                                try? await context.send(bytes("re:hello"))
                            } else {
                                request.pipe.close()
                                hungUp.count.add(1, ordering: .relaxed)
                            }
                        }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let baseline = HostileClients.openDescriptors()

        let flood = await HostileClients.flood(port: port, clients: 600, concurrency: 30, shape: .badHelloThenPartial)
        #expect(flood.connected == 600)
        let settled = await descriptorsSettle(at: baseline)
        #expect(settled, "descriptors: \(HostileClients.openDescriptors()), baseline \(baseline)")
        #expect(hungUp.count.load(ordering: .relaxed) >= 500)
        guard settled else {
            // NNG can free no pipe any more: closing any socket would hang this test process.
            abandoned.withLock { $0.append(rep) }
            return
        }

        let req = try Socket.request(maxMessageSize: 1 << 16)
        defer { #expect(req.close(waitingAtMost: .seconds(3))) }
        _ = try req.dial("tcp://127.0.0.1:\(port)")
        #expect(text(try await req.openContext().request(bytes("hello"), timeout: safetyTimeout)) == "re:hello")

        #expect(rep.close(waitingAtMost: .seconds(3)), "closing the socket did not finish")
        server.cancel()
    }

    /// Waits up to 10 s for this process's descriptor count to come back to `baseline` (plus a
    /// few for sockets still closing).
    private func descriptorsSettle(at baseline: Int) async -> Bool {
        for _ in 0..<100 {
            if HostileClients.openDescriptors() <= baseline + 4 { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

/// Sockets a failed test could not close (see above): kept so that their deinit never runs.
private let abandoned = Mutex<[Socket]>([])

private final class Tally: Sendable {
    let count = Atomic<Int>(0)
}
