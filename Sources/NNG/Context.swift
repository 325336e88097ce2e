import CNNG
import Glibc
import Synchronization

/// One independent conversation on a ``Socket`` (`nng_ctx`).
///
/// On a REQ socket a context sends a request and then receives the reply to that
/// request ("send, then receive"; see ``request(_:timeout:)``); sending again abandons
/// the previous request. On a REP socket a context receives one request and must send
/// the reply to it before receiving the next; holding many REP contexts lets a server
/// park requests until it has answers.
///
/// Concurrency: at most one operation (send or receive) may be in flight on a context
/// at a time; starting a second one throws ``NNGError/busy``. Use several contexts for
/// concurrent exchanges. Cancelling the Swift task of a pending operation cancels the
/// underlying NNG operation and makes it throw ``NNGError/cancelled``.
///
/// Thread-safety: `Sendable`. The `nng_ctx` handle is an NNG id (NNG context functions
/// are thread-safe); the single `nng_aio` is owned by an internal bridge object whose state is
/// `Mutex`-guarded; the closed flag is atomic. Keeps its socket alive.
public final class Context: Sendable {
    private let socket: Socket
    let handle: nng_ctx
    private let bridge: AIOBridge
    private let replies = DetachedReply()
    private let closed = Atomic<Bool>(false)

    init(socket: Socket) throws {
        var raw = nng_ctx()
        try check(nng_ctx_open(&raw, socket.handle), "open context on socket \(socket.id)")
        do {
            self.bridge = try AIOBridge()
        } catch {
            _ = nng_ctx_close(raw)
            throw error
        }
        self.socket = socket
        self.handle = raw
    }

    deinit {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) {
            _ = nng_ctx_close(handle)
        }
        // No operation can be in flight here (every operation holds `self`); freeing
        // the aio waits for a callback that may still be returning.
        bridge.free()
        // A reply still queued for a busy connection ended when the context closed.
        replies.free()
    }

    /// NNG's id for this context, useful in logs.
    public var id: Int32 { nng_ctx_id(handle) }

    /// Sets this context's receive timeout (`NNG_OPT_RECVTIMEO`), used by operations
    /// that pass no explicit timeout. Initially inherited from the socket.
    /// - Throws: ``NNGError``.
    public func setReceiveTimeout(_ timeout: NNGDuration) throws {
        try check(nng_ctx_set_ms(handle, NNG_OPT_RECVTIMEO, timeout.milliseconds), "set \(NNG_OPT_RECVTIMEO)=\(timeout) on context \(id)")
    }

    /// Sets this context's send timeout (`NNG_OPT_SENDTIMEO`), used by operations that
    /// pass no explicit timeout. Initially inherited from the socket.
    /// - Throws: ``NNGError``.
    public func setSendTimeout(_ timeout: NNGDuration) throws {
        try check(nng_ctx_set_ms(handle, NNG_OPT_SENDTIMEO, timeout.milliseconds), "set \(NNG_OPT_SENDTIMEO)=\(timeout) on context \(id)")
    }

    /// Sends `bytes` as one message (REQ: a new request; REP: the reply to the request
    /// last received on this context).
    ///
    /// Returns once NNG has accepted the message for transmission (REQ: handed to a
    /// connected peer, so with no peer it waits, subject to the timeout). The bytes are
    /// copied; the NNG message is owned by NNG after a successful send and freed here
    /// after a failed one.
    /// - Parameter timeout: overrides the context's send timeout for this call.
    /// - Throws: ``NNGError`` (``NNGError/timedOut``, ``NNGError/closed``,
    ///   ``NNGError/cancelled``, ``NNGError/busy``, ``NNGError/incorrectState``, …).
    public func send(_ bytes: [UInt8], timeout: NNGDuration? = nil) async throws {
        let label = "send on context \(id)"
        try checkOpen(label)
        let message = try Self.message(copying: bytes, label: label)
        var handedOver = false
        do {
            _ = try await bridge.run(.send, label: label, timeout: timeout) { aio in
                // From here the aio holds the message: NNG owns it after a successful
                // send, and the completion handler frees it after a failed one.
                nng_aio_set_msg(aio, message)
                handedOver = true
                nng_ctx_send(handle, aio)
            }
        } catch {
            if !handedOver { nng_msg_free(message) }
            throw error
        }
    }

    /// Receives one message (REQ: the reply to the request last sent on this context;
    /// REP: the next request) and returns a copy of its body; the NNG message is freed.
    /// - Parameter timeout: overrides the context's receive timeout for this call.
    /// - Throws: ``NNGError`` (``NNGError/timedOut``, ``NNGError/closed`` when the
    ///   context or socket is closed meanwhile, ``NNGError/cancelled`` when the task is
    ///   cancelled, ``NNGError/busy``, ``NNGError/incorrectState`` on REQ with no request).
    public func receive(timeout: NNGDuration? = nil) async throws -> [UInt8] {
        try await receiveMessage(timeout: timeout).bytes
    }

    /// Like ``receive(timeout:)``, and also tells which connection (pipe) the message came on:
    /// a REP side uses it to tell local peers from network ones and to hang up on a peer.
    ///
    /// It runs on its caller's executor (`nonisolated(nonsending)`): an actor that receives gets
    /// the message on its own executor, with no hop through Swift's shared pool in between.
    public nonisolated(nonsending) func receiveMessage(timeout: NNGDuration? = nil) async throws -> Received {
        let label = "receive on context \(id)"
        try checkOpen(label)
        return try await bridge.run(.receive, label: label, timeout: timeout) { aio in
            nng_ctx_recv(handle, aio)
        }
    }

    /// REP: hands `bytes` to NNG as the reply to the request last received on this context, and
    /// returns without waiting for its delivery: the context may receive its next request at once
    /// (NNG has taken the reply off it). A reply that cannot be delivered (its connection is gone,
    /// or the context closes first) is dropped, as ``send(_:timeout:)`` would drop it; the
    /// requester resends. Against `send`, it saves the wait for NNG's completion and the hop back
    /// from NNG's thread to the caller, per request. Only when this context's previous reply is
    /// still queued (its connection was busy) does it wait, for that one: NNG holds one queued
    /// reply per context. Runs on its caller's executor (`nonisolated(nonsending)`).
    /// - Throws: ``NNGError`` (``NNGError/closed``, or `nng_msg_alloc`'s and `nng_aio_alloc`'s).
    public nonisolated(nonsending) func reply(_ bytes: [UInt8]) async throws {
        let label = "reply on context \(id)"
        try checkOpen(label)
        await replies.waitUntilIdle()
        try checkOpen(label)
        let message = try Self.message(copying: bytes, label: label)
        do {
            try replies.send(message, on: handle)
        } catch {
            nng_msg_free(message)
            throw error.during(label)
        }
    }

    /// REP: returns once the last reply given to ``reply(_:)`` has left this context (NNG took it
    /// for its connection, or dropped it). Closing the context before would drop a reply still
    /// queued behind a busy connection, and its requester would wait for nothing.
    public nonisolated(nonsending) func repliesHandedOver() async {
        await replies.waitUntilIdle()
    }

    /// An NNG message holding a copy of `bytes`; the caller owns it.
    private static func message(copying bytes: [UInt8], label: String) throws -> OpaquePointer {
        var raw: OpaquePointer?
        try check(nng_msg_alloc(&raw, bytes.count), label)
        guard let message = raw else { throw NNGError(code: NNGError.invalidArgument.code, operation: label) }
        if !bytes.isEmpty {
            bytes.withUnsafeBytes { source in
                nng_msg_body(message).copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
        }
        return message
    }

    /// REQ: sends `bytes` as a request and returns the reply to it. `timeout`, when given,
    /// applies to the send and to the receive separately. One operation for both: once NNG has
    /// taken the request, the receive of its reply starts from NNG's completion callback, so the
    /// caller's task is resumed once, with the reply (a send, then a receive, resumed it twice:
    /// two thread wake-ups per request, for a worker twice per trial).
    /// - Throws: ``NNGError`` as for ``send(_:timeout:)`` and ``receive(timeout:)``.
    public func request(_ bytes: [UInt8], timeout: NNGDuration? = nil) async throws -> [UInt8] {
        let label = "request on context \(id)"
        try checkOpen(label)
        let message = try Self.message(copying: bytes, label: label)
        var handedOver = false
        do {
            return try await bridge.run(.request(handle), label: label, timeout: timeout) { aio in
                // As in `send`: the aio holds the message from here.
                nng_aio_set_msg(aio, message)
                handedOver = true
                nng_ctx_send(handle, aio)
            }.bytes
        } catch {
            if !handedOver { nng_msg_free(message) }
            throw error
        }
    }

    /// Closes the context; a pending operation ends with ``NNGError/closed`` and later
    /// ones throw it. Idempotent; never call it from an NNG callback.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        _ = nng_ctx_close(handle)
    }

    private func checkOpen(_ label: String) throws {
        if closed.load(ordering: .acquiring) || socket.isClosed {
            throw NNGError.closed.during(label)
        }
    }
}

/// An `nng_aio*`. `@unchecked Sendable` because the pointer is shared between the task
/// that starts an operation and the NNG thread that completes it. Invariant that makes
/// this safe: operations are serialised by ``AIOBridge`` (only one in flight, started
/// only while idle); the message and result are read only in the completion callback
/// before the continuation is resumed; `nng_aio_cancel` is thread-safe in NNG; the
/// pointer is freed only in `AIOBridge.deinit`, after which nothing can reference it.
struct AIOHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Owns one `nng_aio` (allocated once, reused for every operation) and bridges its
/// completion callback to a `CheckedContinuation`.
///
/// The callback's `void*` argument is this object, retained once with
/// `Unmanaged.passRetained` at allocation and released only after `nng_aio_free`
/// (which waits for a running callback), so the callback never sees a dead object.
final class AIOBridge: Sendable {
    enum Operation: Sendable {
        case send, receive
        /// A send, then (started from the send's completion, on NNG's thread) the receive of its
        /// reply on the same context: one operation for the caller.
        case request(nng_ctx)

        /// Whether it hands NNG a message (which comes back to be freed when the send fails).
        var sends: Bool {
            if case .receive = self { return false }
            return true
        }
    }

    private struct Pending: Sendable {
        let continuation: CheckedContinuation<Received, any Error>
        var operation: Operation
        let label: String
        /// The operation's timeout, for each of a request's two steps.
        let timeout: nng_duration
    }

    private struct State: Sendable {
        var aio: AIOHandle?
        var busy = false
        var cancelRequested = false
        var pending: Pending?
    }

    private let state = Mutex(State())

    init() throws {
        var raw: OpaquePointer?
        let arg = Unmanaged.passRetained(self).toOpaque()
        let rv = nng_aio_alloc(&raw, { arg in
            guard let arg else { return }
            Unmanaged<AIOBridge>.fromOpaque(arg).takeUnretainedValue().complete()
        }, arg)
        guard rv == 0, let raw else {
            Unmanaged<AIOBridge>.fromOpaque(arg).release()
            throw NNGError(code: rv == 0 ? NNGError.invalidArgument.code : rv, operation: "nng_aio_alloc")
        }
        // Published under the lock before any operation can start.
        state.withLock { $0.aio = AIOHandle(pointer: raw) }
    }

    /// Frees the aio (nng_aio_free stops it and waits for a running callback) and
    /// drops the callback's reference. Must be called exactly once, by the owner.
    func free() {
        guard let aio = state.withLock({ s -> AIOHandle? in
            let a = s.aio
            s.aio = nil
            return a
        }) else { return }
        nng_aio_free(aio.pointer)
        Unmanaged.passUnretained(self).release()
    }

    /// Runs one operation: `start` is given the idle aio and must submit it to NNG. Resumes on
    /// its caller's executor (`nonisolated(nonsending)`).
    nonisolated(nonsending) func run(
        _ operation: Operation, label: String, timeout: NNGDuration?,
        start: (OpaquePointer) -> Void
    ) async throws -> Received {
        let aio = try state.withLock { s throws(NNGError) -> AIOHandle in
            guard let aio = s.aio else { throw NNGError.closed.during(label) }
            guard !s.busy else {
                throw NNGError.busy.during("\(label): another operation is in flight on this context")
            }
            s.busy = true
            s.cancelRequested = false
            return aio
        }
        defer { state.withLock { $0.busy = false } }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Received, any Error>) in
                let proceed = state.withLock { s -> Bool in
                    if s.cancelRequested { return false }
                    s.pending = Pending(
                        continuation: continuation, operation: operation, label: label,
                        timeout: timeout?.milliseconds ?? cnng_duration_default())
                    return true
                }
                guard proceed else {
                    continuation.resume(throwing: NNGError.cancelled.during(label))
                    return
                }
                nng_aio_set_timeout(aio.pointer, timeout?.milliseconds ?? cnng_duration_default())
                start(aio.pointer)
                // A cancellation that arrived between registering and submitting found
                // nothing to cancel in NNG; cancel now that the operation is submitted.
                if state.withLock({ $0.cancelRequested }) {
                    nng_aio_cancel(aio.pointer)
                }
            }
        } onCancel: {
            let inFlight = state.withLock { s -> Bool in
                s.cancelRequested = true
                return s.pending != nil
            }
            // Swift does not let this handler outlive the operation closure, so the aio
            // cannot have been reused for a later operation here.
            if inFlight { nng_aio_cancel(aio.pointer) }
        }
    }

    /// The aio completion callback (runs on an NNG thread): collects the result, frees
    /// or copies the message, and resumes the waiting task after releasing the lock.
    private func complete() {
        guard let (pending, aio) = state.withLock({ s -> (Pending, AIOHandle)? in
            guard let pending = s.pending, let aio = s.aio else { return nil }
            s.pending = nil
            return (pending, aio)
        }) else { return }
        let rv = nng_aio_result(aio.pointer)
        if case .request(let context) = pending.operation, rv == 0 {
            // NNG took the request: receive its reply on the same aio, from here. A cancellation
            // that came meanwhile found nothing in flight to cancel: it is honoured here, or, if
            // it comes while the receive is being submitted, just after.
            nng_aio_set_msg(aio.pointer, nil)
            var receiving = pending
            receiving.operation = .receive
            let proceed = state.withLock { s -> Bool in
                guard !s.cancelRequested else { return false }
                s.pending = receiving
                return true
            }
            guard proceed else {
                pending.continuation.resume(throwing: NNGError.cancelled.during(pending.label))
                return
            }
            nng_aio_set_timeout(aio.pointer, pending.timeout)
            nng_ctx_recv(context, aio.pointer)
            if state.withLock({ $0.cancelRequested }) { nng_aio_cancel(aio.pointer) }
            return
        }
        switch (pending.operation, rv) {
        case (.receive, 0):
            guard let message = nng_aio_get_msg(aio.pointer) else {
                pending.continuation.resume(returning: Received(bytes: [], pipe: Pipe(id: 0)))
                return
            }
            nng_aio_set_msg(aio.pointer, nil)
            let pipe = Pipe(id: UInt32(bitPattern: nng_pipe_id(nng_msg_get_pipe(message))))
            let count = nng_msg_len(message)
            let bytes: [UInt8]
            if count == 0 {
                bytes = []
            } else {
                bytes = [UInt8](UnsafeRawBufferPointer(start: nng_msg_body(message), count: count))
            }
            nng_msg_free(message)
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let arrivedAt = UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
            pending.continuation.resume(returning: Received(bytes: bytes, pipe: pipe, arrivedAt: arrivedAt))
        case (.send, 0):
            // NNG took ownership of the message.
            nng_aio_set_msg(aio.pointer, nil)
            pending.continuation.resume(returning: Received(bytes: [], pipe: Pipe(id: 0)))
        default:
            // A failed send gives the message back to us: free it.
            if pending.operation.sends, let message = nng_aio_get_msg(aio.pointer) {
                nng_aio_set_msg(aio.pointer, nil)
                nng_msg_free(message)
            }
            pending.continuation.resume(throwing: NNGError(code: rv, operation: pending.label))
        }
    }
}

/// The aio of a context's reply sent without waiting for delivery (``Context/reply(_:)``): its
/// completion, on an NNG thread, frees a message NNG did not take and marks the aio idle again.
///
/// One reply at a time: NNG's REP context holds a reply queued behind a busy connection in a list
/// node of its own, so a second reply while the first is still queued would corrupt that list.
/// ``waitUntilIdle()`` lets the next reply, or the context's closing, wait for the one before
/// (usually long delivered).
///
/// The aio's callback argument is this object, unretained: the aio is freed in ``free()`` (which
/// waits for a running callback) before this object goes.
final class DetachedReply: Sendable {
    private struct AIO: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private struct State {
        var aio: AIO?
        var inFlight = false
        var freed = false
    }

    private let state = Mutex(State())

    /// Returns once no reply of this context is in flight (at once, nearly always), or once the
    /// task is cancelled. The rare wait (the connection was busy) is polled, from 1 ms to 50 ms
    /// apart: a cancelled task (a stopping coordinator) never waits for a connection that does not
    /// read, and no continuation is resumed from NNG's thread.
    nonisolated(nonsending) func waitUntilIdle() async {
        var pause = 1
        while state.withLock({ $0.inFlight }) {
            guard (try? await Task.sleep(for: .milliseconds(pause))) != nil else { return }
            pause = min(pause * 2, 50)
        }
    }

    /// Hands `message` to NNG on `context`; NNG owns it unless this throws. The caller waited
    /// until idle (``waitUntilIdle()``); a reply still in flight throws ``NNGError/busy``.
    func send(_ message: OpaquePointer, on context: nng_ctx) throws(NNGError) {
        let existing = try state.withLock { s throws(NNGError) -> AIO? in
            guard !s.freed else { throw NNGError.closed }
            guard !s.inFlight else { throw NNGError.busy }
            s.inFlight = true
            return s.aio
        }
        let aio: AIO
        if let existing { aio = existing } else { aio = try allocate() }
        nng_aio_set_msg(aio.pointer, message)
        nng_aio_set_timeout(aio.pointer, cnng_duration_default())
        nng_ctx_send(context, aio.pointer)
    }

    private func allocate() throws(NNGError) -> AIO {
        var raw: OpaquePointer?
        let rv = nng_aio_alloc(&raw, { arg in
            guard let arg else { return }
            Unmanaged<DetachedReply>.fromOpaque(arg).takeUnretainedValue().completed()
        }, Unmanaged.passUnretained(self).toOpaque())
        guard rv == 0, let raw else {
            state.withLock { $0.inFlight = false }
            throw NNGError(code: rv == 0 ? NNGError.invalidArgument.code : rv, operation: "nng_aio_alloc")
        }
        let aio = AIO(pointer: raw)
        state.withLock { $0.aio = aio }
        return aio
    }

    private func completed() {
        guard let aio = state.withLock({ $0.aio }) else { return }
        // A failed send gives the message back: free it (the requester resends).
        if nng_aio_result(aio.pointer) != 0, let message = nng_aio_get_msg(aio.pointer) { nng_msg_free(message) }
        nng_aio_set_msg(aio.pointer, nil)
        state.withLock { $0.inFlight = false }
    }

    /// Frees the aio (stopping a reply still queued, and waiting for a running callback). Called
    /// once, by the context's deinit, after the context closed.
    func free() {
        let aio = state.withLock { s -> AIO? in
            s.freed = true
            return s.aio
        }
        if let aio { nng_aio_free(aio.pointer) }
        state.withLock { $0.aio = nil }
    }
}
