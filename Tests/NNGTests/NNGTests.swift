import NNG
import Synchronization
import Testing

// MARK: - Helpers

/// A unique `ipc://` URL under /tmp.
func temporaryIPCURL() -> String {
    "ipc:///tmp/nng-test-\(UInt64.random(in: 0...UInt64.max)).sock"
}

/// Upper bound on any single wait, so a broken wrapper fails a test instead of hanging it.
let safetyTimeout = NNGDuration.seconds(3)

/// A REP socket listening on `tcp://127.0.0.1:0` and a REQ socket dialling it.
struct Pair {
    let rep: Socket
    let req: Socket
    let listener: Listener

    init(maxMessageSize: Int = 64 * 1024, resendTime: NNGDuration = .infinite, url: String = "tcp://127.0.0.1:0") throws {
        rep = try Socket.reply(maxMessageSize: maxMessageSize)
        req = try Socket.request(maxMessageSize: maxMessageSize, resendTime: resendTime)
        for socket in [rep, req] {
            try socket.setReceiveTimeout(safetyTimeout)
            try socket.setSendTimeout(safetyTimeout)
        }
        try req.setReconnectTime(min: .milliseconds(10), max: .milliseconds(50))
        listener = try rep.listen(url)
        if let port = listener.boundPort {
            try req.dial("tcp://127.0.0.1:\(port)")
        } else {
            try req.dial(url)
        }
    }

    func close() {
        req.close()
        rep.close()
    }
}

/// Runs `body`, failing with NNGError.timedOut if it takes longer than `seconds`.
func withDeadline<T: Sendable>(seconds: Double = 3, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw NNGError.timedOut.during("test deadline")
        }
        return value
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Serves one request on a fresh REP context, replying with `prefix + request`.
func serveOne(_ rep: Socket, prefix: String = "re:") async throws -> [UInt8] {
    let ctx = try rep.openContext()
    defer { ctx.close() }
    let request = try await ctx.receive()
    try await ctx.send(bytes(prefix) + request)
    return request
}

/// Asserts that `body` throws an NNGError equal to `expected`.
func expectNNGError<T>(_ expected: NNGError, _ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        _ = try await body()
        Issue.record("expected \(expected), got success", sourceLocation: sourceLocation)
    } catch let error as NNGError {
        #expect(error == expected, "got \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
    }
}

// MARK: - Round trips

@Suite struct RoundTrip {
    @Test func ipc() async throws {
        let url = temporaryIPCURL()
        let pair = try Pair(url: url)
        defer { pair.close() }
        #expect(pair.listener.url == url)
        #expect(pair.listener.boundPort == nil)

        async let served = serveOne(pair.rep)
        let reply = try await pair.req.openContext().request(bytes("hello"))
        #expect(text(reply) == "re:hello")
        #expect(text(try await served) == "hello")
    }

    @Test func tcpEphemeralPort() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let port = try #require(pair.listener.boundPort)
        #expect(port > 0 && port < 65536)
        #expect(pair.listener.url == "tcp://127.0.0.1:0")

        async let served = serveOne(pair.rep)
        let reply = try await pair.req.openContext().request(bytes("ping"))
        #expect(text(reply) == "re:ping")
        _ = try await served
    }

    @Test func emptyAndLargeMessages() async throws {
        let pair = try Pair(maxMessageSize: 1 << 20)
        defer { pair.close() }
        let req = try pair.req.openContext()
        let large = (0..<500_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for payload in [[], large] as [[UInt8]] {
            let rep = try pair.rep.openContext()
            async let echoed: Void = {
                let got = try await rep.receive()
                try await rep.send(got)
            }()
            let reply = try await req.request(payload)
            try await echoed
            #expect(reply == payload)
        }
    }

    @Test func dialBeforeListenConnectsWhenListenerAppears() async throws {
        let url = temporaryIPCURL()
        let req = try Socket.request(maxMessageSize: 4096)
        defer { req.close() }
        try req.setReconnectTime(min: .milliseconds(10), max: .milliseconds(20))
        try req.setSendTimeout(safetyTimeout)
        try req.setReceiveTimeout(safetyTimeout)
        let dialer = try req.dial(url) // nothing is listening yet: must not fail
        #expect(dialer.url == url)
        try dialer.setReconnectTime(min: .milliseconds(10), max: .milliseconds(20))

        let rep = try Socket.reply(maxMessageSize: 4096)
        defer { rep.close() }
        try rep.setReceiveTimeout(safetyTimeout)
        try rep.listen(url)

        async let served = serveOne(rep)
        let reply = try await req.openContext().request(bytes("late"))
        #expect(text(reply) == "re:late")
        _ = try await served
    }

    @Test func replyServerRestartFailsPendingRequestThenReconnects() async throws {
        let url = temporaryIPCURL()
        let req = try Socket.request(maxMessageSize: 4096)
        defer { req.close() }
        try req.setReconnectTime(min: .milliseconds(10), max: .milliseconds(20))
        try req.setSendTimeout(safetyTimeout)
        try req.setReceiveTimeout(safetyTimeout)
        try req.dial(url)

        let first = try Socket.reply(maxMessageSize: 4096)
        try first.setReceiveTimeout(safetyTimeout)
        try first.listen(url)
        let ctx = try req.openContext()
        try await ctx.send(bytes("unanswered"))
        #expect(text(try await first.openContext().receive()) == "unanswered")
        first.close() // the server dies without answering

        // With resend disabled, NNG does not resubmit: the pending request fails.
        await expectNNGError(.connectionReset) { try await ctx.receive() }

        let second = try Socket.reply(maxMessageSize: 4096)
        defer { second.close() }
        try second.setReceiveTimeout(safetyTimeout)
        try second.listen(url)
        async let served = serveOne(second)
        #expect(text(try await ctx.request(bytes("retry"))) == "re:retry")
        _ = try await served
    }

    @Test func blockingDialToNothingIsRefused() async throws {
        let req = try Socket.request(maxMessageSize: 4096)
        defer { req.close() }
        await expectNNGError(.connectionRefused) { try req.dial(temporaryIPCURL(), blocking: true) }
    }
}

// MARK: - Contexts

@Suite struct Contexts {
    @Test func concurrentRequestsAnsweredInReverseOrder() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let count = 5

        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            // Requesters: each context has its own outstanding request.
            for i in 0..<count {
                let ctx = try pair.req.openContext()
                group.addTask { (i, text(try await ctx.request(bytes("q\(i)")))) }
            }
            // Replier: park every request on its own context, then answer in reverse.
            var parked: [(Context, String)] = []
            for _ in 0..<count {
                let ctx = try pair.rep.openContext()
                parked.append((ctx, text(try await ctx.receive())))
            }
            #expect(Set(parked.map(\.1)) == Set((0..<count).map { "q\($0)" }))
            for (ctx, request) in parked.reversed() {
                try await ctx.send(bytes("a-" + request))
            }
            var answers: [Int: String] = [:]
            for try await (i, answer) in group { answers[i] = answer }
            #expect(answers == Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, "a-q\($0)") }))
        }
    }

    @Test func secondOperationOnSameContextIsBusy() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let ctx = try pair.rep.openContext()
        let errors = try await withThrowingTaskGroup(of: NNGError?.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    do {
                        _ = try await ctx.receive(timeout: .seconds(2))
                        return nil
                    } catch let error as NNGError {
                        return error
                    }
                }
            }
            // Whichever receive came second is refused at once; the first stays pending
            // until the context is closed.
            let first = try await group.next() ?? nil
            ctx.close()
            let second = try await group.next() ?? nil
            return [first, second]
        }
        #expect(errors == [.busy, .closed])
    }

    /// `reply` hands the answer over without waiting: one context answers many requests of one
    /// connection in a row, with replies large enough that the connection is often still busy with
    /// the one before (NNG then queues the reply on the context, one at a time), and each reply
    /// reaches its own requester whole; a reply after close is refused.
    @Test func replyWithoutWaiting_answersEachRequest_andRefusesAfterClose() async throws {
        let pair = try Pair(maxMessageSize: 1 << 20)
        defer { pair.close() }
        let count = 50
        let padding = String(repeating: "x", count: 512 << 10)
        let server = try pair.rep.openContext()
        try await withDeadline(seconds: 20) {
            try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for i in 0..<count {
                    let ctx = try pair.req.openContext()
                    group.addTask { (i, text(try await ctx.request(bytes("q\(i)")))) }
                }
                for _ in 0..<count {
                    let request = text(try await server.receive())
                    try await server.reply(bytes("a-" + request + padding))
                }
                var answers: [Int: String] = [:]
                for try await (i, answer) in group { answers[i] = answer }
                #expect(answers == Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, "a-q\($0)" + padding) }))
            }
        }
        server.close()
        await expectNNGError(.closed) { try await server.reply([1]) }
    }

    /// A reply to a requester that went away is dropped; the context serves the next request.
    @Test func replyToAGoneRequester_isDropped_andTheContextGoesOn() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let server = try pair.rep.openContext()
        let gone = try Socket.request(maxMessageSize: 1 << 16)
        try gone.dial("tcp://127.0.0.1:\(pair.listener.boundPort!)")
        let asking = try gone.openContext()
        try await asking.send(bytes("hello"))
        #expect(text(try await server.receive()) == "hello")
        gone.close()
        try await server.reply(bytes("nobody hears this"))
        let ctx = try pair.req.openContext()
        async let answer = ctx.request(bytes("again"))
        #expect(text(try await server.receive()) == "again")
        try await server.reply(bytes("heard"))
        #expect(text(try await answer) == "heard")
    }

    @Test func requestContextReceiveWithoutSendIsStateError() async throws {
        let pair = try Pair()
        defer { pair.close() }
        await expectNNGError(.incorrectState) { try await pair.req.openContext().receive() }
    }

    @Test func operationsAfterCloseThrowClosed() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let ctx = try pair.req.openContext()
        ctx.close()
        ctx.close() // idempotent
        await expectNNGError(.closed) { try await ctx.send([1]) }
        pair.req.close()
        pair.req.close() // idempotent
        await expectNNGError(.closed) { try pair.req.openContext() }
    }
}

// MARK: - Limits and timing

@Suite struct Limits {
    @Test func oversizedMessageIsNotDeliveredAndReceiverStaysHealthy() async throws {
        let pair = try Pair(maxMessageSize: 1024)
        defer { pair.close() }
        let repCtx = try pair.rep.openContext()
        async let firstDelivered = repCtx.receive()

        // The REP side drops the 4 KiB request by closing that connection. With resend
        // disabled (infinite), NNG fails the outstanding request with ECONNRESET instead
        // of resubmitting it after the redial.
        let big = try pair.req.openContext()
        await expectNNGError(.connectionReset) { try await big.request([UInt8](repeating: 7, count: 4096)) }

        // The next normal request is the first thing the REP side ever receives.
        let small = try pair.req.openContext()
        try await small.send(bytes("small"))
        #expect(text(try await firstDelivered) == "small")
        try await repCtx.send(bytes("ok"))
        #expect(text(try await small.receive()) == "ok")
    }

    /// Counts how many times the REP side receives one request whose reply takes 300 ms.
    func receptionsOfSlowRequest(resendTime: NNGDuration) async throws -> Int {
        let pair = try Pair(resendTime: resendTime)
        defer { pair.close() }
        let req = try pair.req.openContext()
        async let reply = req.request(bytes("slow"))

        let first = try pair.rep.openContext()
        #expect(text(try await first.receive()) == "slow")
        // Any resend of the request lands on this second context.
        let duplicates = try pair.rep.openContext()
        let duplicateCount = Task {
            var n = 0
            while (try? await duplicates.receive()) != nil { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(300)) // the slow work
        try await first.send(bytes("done"))
        #expect(text(try await reply) == "done")
        duplicates.close()
        return 1 + (await duplicateCount.value)
    }

    @Test func slowReplyIsReceivedOnceWithInfiniteResend() async throws {
        #expect(try await receptionsOfSlowRequest(resendTime: .infinite) == 1)
    }

    @Test func slowReplyIsResentWithShortResendTime() async throws {
        // Control for the test above: the counting does detect resends.
        #expect(try await receptionsOfSlowRequest(resendTime: .milliseconds(100)) >= 2)
    }

    @Test func receiveTimeoutThrowsTimedOut() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let ctx = try pair.rep.openContext()
        let clock = ContinuousClock()
        let start = clock.now
        await expectNNGError(.timedOut) { try await ctx.receive(timeout: .milliseconds(50)) }
        #expect(clock.now - start < .seconds(1))

        // Per-context default timeout (NNG_OPT_RECVTIMEO) applies when no timeout is passed.
        try ctx.setReceiveTimeout(.milliseconds(50))
        await expectNNGError(.timedOut) { try await ctx.receive() }
        // The context is still usable afterwards.
        async let served = ctx.receive()
        try await pair.req.openContext().send(bytes("x"))
        #expect(text(try await served) == "x")
    }

    @Test func sendTimeoutWithoutPeerThrowsTimedOut() async throws {
        let req = try Socket.request(maxMessageSize: 4096)
        defer { req.close() }
        let ctx = try req.openContext()
        try ctx.setSendTimeout(.milliseconds(50))
        await expectNNGError(.timedOut) { try await ctx.send(bytes("nobody")) }
    }

    @Test func invalidMaxMessageSizeIsRejected() async throws {
        await expectNNGError(.invalidArgument) { try Socket.reply(maxMessageSize: 0) }
    }
}

// MARK: - Ending pending operations

@Suite struct Ending {
    @Test func contextCloseEndsPendingReceive() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let ctx = try pair.rep.openContext()
        let pending = Task { try await ctx.receive(timeout: .infinite) }
        try await Task.sleep(for: .milliseconds(20)) // let the receive reach NNG
        ctx.close()
        try await withDeadline(seconds: 2) { await expectNNGError(.closed) { try await pending.value } }
    }

    @Test func socketCloseEndsPendingReceive() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let ctx = try pair.rep.openContext()
        let pending = Task { try await ctx.receive(timeout: .infinite) }
        try await Task.sleep(for: .milliseconds(20)) // let the receive reach NNG
        pair.rep.close()
        try await withDeadline(seconds: 2) { await expectNNGError(.closed) { try await pending.value } }
    }

    @Test(arguments: [0, 20])
    func cancellingTheTaskEndsPendingReceive(delayMilliseconds: Int) async throws {
        let pair = try Pair()
        defer { pair.close() }
        let ctx = try pair.rep.openContext()
        let pending = Task { try await ctx.receive(timeout: .infinite) }
        // 0: cancel possibly before the aio is submitted; 20: cancel while it is in NNG.
        try await Task.sleep(for: .milliseconds(delayMilliseconds))
        try await expectCancelledAtOnce(pending)

        // The context is reusable after a cancelled receive.
        async let served = ctx.receive()
        try await pair.req.openContext().send(bytes("after"))
        #expect(text(try await served) == "after")
    }

    /// Cancels `pending` and expects it to end with ``NNGError/cancelled`` within half a second.
    private func expectCancelledAtOnce<T: Sendable>(_ pending: Task<T, any Error>) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        pending.cancel()
        try await withDeadline(seconds: 2) { await expectNNGError(.cancelled) { _ = try await pending.value } }
        #expect(clock.now - start < .milliseconds(500))
    }

    /// A request is one operation (its receive starts from the send's completion, on NNG's
    /// thread): cancelled before it is sent, between the two, or while it waits for the reply,
    /// it ends at once, and its context asks again afterwards.
    @Test(arguments: [0, 1, 5, 20])
    func cancellingTheTaskEndsAPendingRequest(delayMilliseconds: Int) async throws {
        let pair = try Pair()
        defer { pair.close() }
        let server = try pair.rep.openContext()
        let ctx = try pair.req.openContext()
        let pending = Task { try await ctx.request(bytes("unanswered"), timeout: .infinite) }
        try await Task.sleep(for: .milliseconds(delayMilliseconds))
        try await expectCancelledAtOnce(pending)

        // The server may have the cancelled request (it is then abandoned); the next is answered.
        let answering = Task {
            while true {
                let request = try await server.receive(timeout: .seconds(5))
                try await server.reply(bytes("re: " + text(request)))
                if text(request) == "again" { return }
            }
        }
        #expect(text(try await ctx.request(bytes("again"), timeout: .seconds(5))) == "re: again")
        try await answering.value
    }

    @Test func aRequestNobodyAnswers_timesOut_andItsContextAsksAgain() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let server = try pair.rep.openContext()
        let ctx = try pair.req.openContext()
        await expectNNGError(.timedOut) { try await ctx.request(bytes("first"), timeout: .milliseconds(100)) }
        #expect(text(try await server.receive(timeout: .seconds(5))) == "first")
        try await server.reply(bytes("late"))  // to an abandoned request: dropped
        async let asked = ctx.request(bytes("second"), timeout: .seconds(5))
        #expect(text(try await server.receive(timeout: .seconds(5))) == "second")
        try await server.reply(bytes("re: second"))
        #expect(text(try await asked) == "re: second")
    }
}

// MARK: - Pipe events

@Suite struct PipeEvents {
    @Test func dialAddsAndCloseRemoves() async throws {
        let rep = try Socket.reply(maxMessageSize: 4096)
        defer { rep.close() }
        let (events, sink) = AsyncStream.makeStream(of: PipeEvent.self)
        try rep.onPipeEvent { sink.yield($0) }
        let listener = try rep.listen("tcp://127.0.0.1:0")
        let port = try #require(listener.boundPort)

        let req = try Socket.request(maxMessageSize: 4096)
        try req.dial("tcp://127.0.0.1:\(port)")

        let (added, removed) = try await withDeadline(seconds: 2) {
            var iterator = events.makeAsyncIterator()
            let added = await iterator.next()
            req.close()
            let removed = await iterator.next()
            return (added, removed)
        }
        let add = try #require(added)
        let rem = try #require(removed)
        #expect(add.kind == .added)
        #expect(add.remoteAddress?.hasPrefix("tcp://127.0.0.1:") == true)
        #expect(rem.kind == .removed)
        #expect(rem.pipeID == add.pipeID)
        print("pipe events: \(add) / \(rem)")
        sink.finish()
    }
}

// MARK: - Errors

@Test func errorDescriptionNamesTheOperation() async throws {
    let rep = try Socket.reply(maxMessageSize: 4096)
    defer { rep.close() }
    do {
        try rep.listen("bogus://nowhere")
        Issue.record("listen on a bogus URL succeeded")
    } catch let error as NNGError {
        #expect(error.operation == "listen bogus://nowhere")
        #expect(error.description.contains("listen bogus://nowhere"))
        #expect(!error.message.isEmpty)
    }
    #expect(NNGError(code: NNGError.timedOut.code, operation: "x") == .timedOut)
    #expect(NNGError.timedOut != .closed)
}

@Test func durationConversions() {
    #expect(NNGDuration.infinite.milliseconds == -1)
    #expect(NNGDuration.infinite.isInfinite)
    #expect(NNGDuration.milliseconds(-5) == .zero)
    #expect(NNGDuration.seconds(2).milliseconds == 2000)
    #expect(NNGDuration(.milliseconds(1500)).milliseconds == 1500)
    #expect(NNGDuration(.seconds(1_000_000_000)).milliseconds == Int32.max)
    #expect(NNGDuration(.seconds(-1)) == .zero)
}
