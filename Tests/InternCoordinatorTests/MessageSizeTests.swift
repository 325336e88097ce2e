import Foundation
@testable import InternCoordinator
import InternAuth
import InternCore
import InternProtocol
import InternStore
import InternTestKit
import Logging
import NNG
import Testing

/// What docs/protocol.md (*Errors and rejection*) says of messages over the size limit, checked
/// against a listening coordinator: NNG's receive limit is `maxMessageBytes` plus the sealing
/// overhead, so a message over it never reaches the coordinator (NNG closes its connection); a
/// plain message between the two limits is dropped unanswered (no request id is read from it).
@Suite(.serialized) struct MessageSizeTests {
    static let limit = 4_096

    /// A heartbeat whose encoding is exactly `size` bytes (its worker id pads it).
    static func heartbeat(ofSize size: Int, requestId: UInt64) -> [UInt8] {
        let codec = MessageCodec(maxMessageBytes: 1 << 20)
        var padding = 1
        while true {
            let bytes = codec.encode(.heartbeat(Heartbeat(requestId: requestId, workerId: String(repeating: "w", count: padding), incarnation: 1)))
            if bytes.count >= size { return bytes }
            padding += size - bytes.count
        }
    }

    /// How a request fails (nil: it was answered).
    static func failure(of request: [UInt8], on socket: Socket, within milliseconds: Int) async -> NNGError? {
        do {
            _ = try await socket.openContext().request(request, timeout: .milliseconds(milliseconds))
            return nil
        } catch let error as NNGError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test func overTheLimit_isDroppedUnanswered_andOverNNGsLimitTheConnectionIsClosed() async throws {
        let directory = try TemporaryDirectory(prefix: "intern-size")
        defer { directory.remove() }
        let url = "ipc://\(directory.file("c.sock"))"
        let store = try CampaignStore(directory: directory.file("campaign"))
        let coordinator = try Coordinator(
            spec: CoordinatorShellTests.spec(), store: store,
            options: CoordinatorOptions(listen: [url], maxMessageBytes: Self.limit), logger: Logger(label: "test"))
        try await coordinator.listen()
        let running = Task { try await coordinator.run() }
        defer { running.cancel() }

        let requester = try Socket.request(maxMessageSize: 1 << 20)
        defer { requester.close() }
        try requester.setReconnectTime(min: .milliseconds(10), max: .milliseconds(50))
        _ = try requester.dial(url, blocking: true)
        let codec = MessageCodec()
        let first = codec.encode(.heartbeat(Heartbeat(requestId: 6, workerId: "ghost", incarnation: 1)))
        guard case .rejected = try codec.decode(try await requester.openContext().request(first, timeout: .milliseconds(10_000))) else {
            Issue.record("the coordinator does not answer")
            return
        }

        // Within NNG's limit (limit + 77) but over the coordinator's: dropped, unanswered (the
        // requester times out).
        let between = Self.heartbeat(ofSize: Self.limit + 40, requestId: 7)
        #expect(await Self.failure(of: between, on: requester, within: 1_500)?.code == 5)  // NNG_ETIMEDOUT

        // Over NNG's limit: NNG closes the connection; nothing answers.
        let over = Self.heartbeat(ofSize: Self.limit + AuthFrame.sealingOverhead + 100, requestId: 8)
        #expect(await Self.failure(of: over, on: requester, within: 1_500)?.code == 19)  // NNG_ECONNRESET

        // The coordinator goes on serving: a message within the limit is answered.
        let small = codec.encode(.heartbeat(Heartbeat(requestId: 9, workerId: "ghost", incarnation: 1)))
        guard case .rejected(let unknown) = try codec.decode(try await requester.openContext().request(small, timeout: .milliseconds(10_000))) else {
            Issue.record("the coordinator stopped answering")
            return
        }
        #expect(unknown.code == .unknownWorker)
    }
}
