import Foundation
import ServiceLifecycle
import Synchronization
import Testing

@testable import intern

/// The one ServiceGroup of an intern process (`ProcessLifecycle`), without sending this test
/// process any signal: a service asks for the graceful shutdown, as a coordinator whose campaign is
/// over does.
@Suite(.serialized) struct ProcessLifecycleTests {
    @Test func afterTheGroup_sigtermAndSigintHaveTheDispositionsTheyHadBefore() async throws {
        let original = SignalDispositions(saving: [SIGINT, SIGTERM])
        defer { original.restore() }
        // Dispositions of our own (a shell's background job ignores SIGINT like this), so that
        // "as before" cannot be the default by accident.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let before = SignalDispositions(saving: [SIGINT, SIGTERM])
        let shutdown = GroupShutdown()
        let whileRunning = Mutex<Bool?>(nil)
        let service = ClosureService {
            // While the group runs, libdispatch's handler is in place (it installs it the first
            // time a process watches a signal): the reason the lifecycle restores the dispositions.
            whileRunning.withLock { $0 = before.areCurrent }
            await shutdown.request()
            try? await gracefulShutdown()
        }
        let ending = try await ProcessLifecycle(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup)],
            maximumGracefulShutdownDuration: .seconds(5), maximumCancellationDuration: .seconds(5)
        ).run(shutdown: shutdown)
        #expect(ending == .completed)
        #expect(whileRunning.withLock { $0 } == false)
        let restored = before.areCurrent
        #expect(restored, "SIGINT or SIGTERM kept the disposition the group's signal handling gave it")
    }

    @Test func aServiceDoneBeforeItsTurn_waitsForIt_andTheOthersShutDownInReverseOrder() async throws {
        let shutdown = GroupShutdown()
        let events = Mutex<[String]>([])
        @Sendable func record(_ event: String) { events.withLock { $0.append(event) } }
        // As `intern run` lists them: the display, the coordinator (its campaign is over at once),
        // the local workers (slow to leave).
        let display = ClosureService {
            try? await gracefulShutdown()
            record("display stopped")
        }
        let coordinator = ClosureService {
            record("coordinator done")
            await shutdown.request()
            try? await gracefulShutdown()
            record("coordinator stopped")
        }
        let workers = ClosureService {
            try? await gracefulShutdown()
            try await Task.sleep(for: .milliseconds(200))
            record("workers left")
        }
        let ending = try await ProcessLifecycle(
            services: [display, coordinator, workers].map {
                .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup)
            },
            maximumGracefulShutdownDuration: .seconds(5), maximumCancellationDuration: .seconds(5)
        ).run(shutdown: shutdown)
        #expect(ending == .completed)
        #expect(events.withLock { $0 } == ["coordinator done", "workers left", "coordinator stopped", "display stopped"])
    }

    @Test func aGracefulShutdownPastItsBound_cancelsTheGroup() async throws {
        let shutdown = GroupShutdown()
        let cancelled = Mutex(false)
        let stubborn = ClosureService {
            await shutdown.request()
            try? await gracefulShutdown()
            // Ignores the graceful shutdown; only cancellation ends it.
            do { try await Task.sleep(for: .seconds(60)) } catch { cancelled.withLock { $0 = true }; throw error }
        }
        let started = ContinuousClock.now
        let ending = try await ProcessLifecycle(
            services: [.init(service: stubborn, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup)],
            maximumGracefulShutdownDuration: .milliseconds(300), maximumCancellationDuration: .seconds(5)
        ).run(shutdown: shutdown)
        #expect(ending == .stoppedAtOnce)
        #expect(cancelled.withLock { $0 })
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}
