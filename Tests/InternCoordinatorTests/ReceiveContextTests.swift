import Foundation
@testable import InternCoordinator
import InternCore
import InternProtocol
import InternStore
import InternTestKit
import Logging
import NNG
import Testing

/// The coordinator's receive contexts follow its long-polls (docs/architecture.md): each parked
/// work request holds one, more open while they park, and the surplus closes once they are
/// answered, so a burst of requests does not leave thousands of contexts behind.
@Suite(.serialized) struct ReceiveContextTests {
    static func spec() -> CampaignSpec {
        CampaignSpec(
            name: "polls", command: CommandTemplate(argv: ["train"]), workdir: "/tmp",
            space: [Parameter(name: "lr", domain: .choice([.double(0.1)]))], sampler: .random(seed: 1), trials: 1,
            objective: Objective(metric: "loss", direction: .minimize))
    }

    @Test func fortyParkedWorkRequests_eachHoldAContext_andAreAllAnsweredAtTheEnd() async throws {
        let directory = try TemporaryDirectory(prefix: "intern-polls")
        defer { directory.remove() }
        let url = "ipc://\(directory.file("c.sock"))"
        let store = try CampaignStore(directory: directory.file("campaign"))
        _ = try store.register(spec: Self.spec(), specPath: directory.file("campaign.yaml"), specYAML: "", now: 0)
        let coordinator = try Coordinator(
            spec: Self.spec(), store: store, options: CoordinatorOptions(listen: [url]), logger: Logger(label: "test"))
        try await coordinator.listen()
        let running = Task { try await coordinator.run() }
        defer { running.cancel() }

        let requester = try Socket.request(maxMessageSize: 1 << 20)
        defer { requester.close() }
        _ = try requester.dial(url, blocking: true)
        let codec = MessageCodec()
        func ask(_ message: Message) async throws -> Message {
            try codec.decode(try await requester.openContext().request(codec.encode(message), timeout: .milliseconds(20_000)))
        }
        guard case .welcome = try await ask(.hello(Hello(requestId: 1, workerId: "w", incarnation: 1, hostname: "h", pid: 1, slots: 41))) else {
            Issue.record("no welcome")
            return
        }
        guard case .assignment(let assignment) = try await ask(.workRequest(WorkRequest(requestId: 2, workerId: "w", incarnation: 1, slot: 0))) else {
            Issue.record("no assignment")
            return
        }
        // The other 40 slots ask while the only trial runs: each request parks, five times the
        // 8 contexts the coordinator starts with.
        let polls = Task {
            try await withThrowingTaskGroup(of: Message.self) { group in
                for slot in 1...40 {
                    group.addTask { try await ask(.workRequest(WorkRequest(requestId: UInt64(10 + slot), workerId: "w", incarnation: 1, slot: UInt64(slot)))) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await eventually("40 long-polls parked", timeout: .seconds(10)) { coordinator.longPolls.load(ordering: .relaxed) == 40 }
        let free = coordinator.receivers.load(ordering: .relaxed) - 40
        #expect(free >= 1 && free <= 2 * Coordinator.spareReceivers)

        // The trial ends: the campaign is over, and every parked request hears it.
        let end = AttemptEnd(attemptId: assignment.attemptId, outcome: .exited, startedAtMs: 1, endedAtMs: 2, wallMs: 1)
        guard case .reportAck = try await ask(.report(Report(requestId: 3, workerId: "w", incarnation: 1, ends: [end]))) else {
            Issue.record("no report ack")
            return
        }
        let replies = try await polls.value
        #expect(replies.count == 40)
        #expect(replies.allSatisfy { if case .noWork(let noWork) = $0 { noWork.reason == .finished } else { false } })
        #expect(coordinator.longPolls.load(ordering: .relaxed) == 0)
        // The surplus closes as its loops answer their next requests.
        for id in 100..<140 { _ = try await ask(.heartbeat(Heartbeat(requestId: UInt64(id), workerId: "w", incarnation: 1))) }
        #expect(coordinator.receivers.load(ordering: .relaxed) <= 2 * Coordinator.spareReceivers + 1)
    }
}
