import CNNG
import Dispatch
import Synchronization

/// An open NNG socket speaking REQ (`req0`) or REP (`rep0`).
///
/// Thread-safety: `Socket` is `Sendable`. Its only mutable state is an `Atomic`
/// closed flag and a `Mutex`-guarded pipe-event handler; the `nng_socket` handle
/// itself is a plain id, and NNG documents all socket functions as safe to call
/// concurrently from any thread.
///
/// Lifetime: the socket is closed by ``close()`` or, at the latest, when the last
/// reference goes away. ``Context``, ``Listener`` and ``Dialer`` keep their socket
/// alive. Closing the socket closes its contexts, dialers and listeners and ends
/// every pending operation with ``NNGError/closed``.
public final class Socket: Sendable {
    /// The protocol spoken by a ``Socket``.
    public enum Kind: Sendable, Equatable {
        /// `req0`: sends requests, receives replies.
        case request
        /// `rep0`: receives requests, sends replies.
        case reply
    }

    let handle: nng_socket
    /// The protocol this socket speaks.
    public let kind: Kind
    /// The largest message (body plus header) this socket accepts from a peer
    /// (`NNG_OPT_RECVMAXSZ`). Larger incoming messages are dropped by closing the
    /// connection they arrived on; they are never delivered.
    public let maxMessageSize: Int

    private let closed = Atomic<Bool>(false)
    private let pipeEvents = PipeEventHub()
    private let screen = ConnectionScreen()

    private init(handle: nng_socket, kind: Kind, maxMessageSize: Int) {
        self.handle = handle
        self.kind = kind
        self.maxMessageSize = maxMessageSize
    }

    deinit {
        // nng_close waits for pipe callbacks to finish, so `pipeEvents` (released
        // after this body runs) outlives every callback that may use it.
        close()
    }

    /// Opens a REQ (`req0`) socket.
    ///
    /// - Parameters:
    ///   - maxMessageSize: the largest message accepted from a peer, in bytes (must be > 0).
    ///   - resendTime: `NNG_OPT_REQ_RESENDTIME`; how long to wait for a reply before the
    ///     request is sent again. Defaults to ``NNGDuration/infinite`` (never resend), so a
    ///     slow reply is never answered by a duplicate request. Requests that do get resent
    ///     (after reconnects, or with a finite resend time) must be idempotent.
    /// - Throws: ``NNGError``.
    public static func request(maxMessageSize: Int, resendTime: NNGDuration = .infinite) throws -> Socket {
        let socket = try open(.request, maxMessageSize: maxMessageSize) { nng_req0_open($0) }
        try socket.setRequestResendTime(resendTime)
        return socket
    }

    /// Opens a REP (`rep0`) socket.
    ///
    /// - Parameter maxMessageSize: the largest message accepted from a peer, in bytes (must be > 0).
    /// - Throws: ``NNGError``.
    public static func reply(maxMessageSize: Int) throws -> Socket {
        try open(.reply, maxMessageSize: maxMessageSize) { nng_rep0_open($0) }
    }

    private static func open(
        _ kind: Kind, maxMessageSize: Int,
        _ opener: (UnsafeMutablePointer<nng_socket>) -> Int32
    ) throws -> Socket {
        let name = kind == .request ? "req0" : "rep0"
        guard maxMessageSize > 0 else {
            throw NNGError.invalidArgument.during("open \(name): maxMessageSize must be > 0")
        }
        var raw = nng_socket()
        try check(opener(&raw), "open \(name) socket")
        // From here on the Socket owns the handle; its deinit closes it if setup fails.
        let socket = Socket(handle: raw, kind: kind, maxMessageSize: maxMessageSize)
        try check(
            nng_socket_set_size(raw, NNG_OPT_RECVMAXSZ, maxMessageSize),
            "set \(NNG_OPT_RECVMAXSZ)=\(maxMessageSize)")
        return socket
    }

    /// The NNG socket id (positive while open), useful in logs.
    public var id: Int32 { nng_socket_id(handle) }

    /// True once ``close()`` has been called.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Starts listening on `url` (e.g. `"tcp://127.0.0.1:0"`, `"ipc:///tmp/x.sock"`, or with
    /// `tls`, `"tls+tcp://0.0.0.0:5555"`).
    ///
    /// With `tls`, the listener presents `tls.certificateKeyFile` and, when
    /// `tls.requirePeerCertificate`, accepts only clients whose certificate `tls.caFile` signed;
    /// other clients are dropped during the handshake without any pipe event.
    ///
    /// The listener accepts connections until it or the socket is closed; dropping the
    /// returned object does not stop it.
    /// - Throws: ``NNGError`` (e.g. ``NNGError/addressInUse``; for an unreadable TLS file, an
    ///   error naming the file).
    ///
    /// On an `ipc://` URL, the socket file is made owner-only (`NNG_OPT_IPC_PERMISSIONS` 0600)
    /// unless `ownerOnly` is false: ipc peers are not authenticated, so the file's permissions
    /// are what keeps other local users out.
    @discardableResult
    public func listen(_ url: String, tls: TLSSettings? = nil, ownerOnly: Bool = true) throws -> Listener {
        var raw = nng_listener()
        if url.hasPrefix("ipc://"), ownerOnly, tls == nil {
            try check(nng_listener_create(&raw, handle, url), "listen \(url)")
            do {
                try check(nng_listener_set_int(raw, NNG_OPT_IPC_PERMISSIONS, 0o600), "set \(NNG_OPT_IPC_PERMISSIONS) on \(url)")
                try check(nng_listener_start(raw, 0), "listen \(url)")
            } catch {
                nng_listener_close(raw)
                throw error
            }
            return Listener(handle: raw, url: url, socket: self)
        }
        guard let tls else {
            try check(nng_listen(handle, url, &raw, 0), "listen \(url)")
            return Listener(handle: raw, url: url, socket: self)
        }
        // TLS options must be set between create and start.
        try check(nng_listener_create(&raw, handle, url), "listen \(url)")
        do {
            try tls.apply(to: .listener(raw), listening: true, url: url)
            try check(nng_listener_start(raw, 0), "listen \(url)")
        } catch {
            nng_listener_close(raw)
            throw error
        }
        return Listener(handle: raw, url: url, socket: self)
    }

    /// Dials `url`.
    ///
    /// With `blocking: false` (the default) the call returns at once and NNG connects in
    /// the background, so the peer need not be listening yet; whenever the connection
    /// fails or drops, NNG redials after the reconnect interval (see
    /// ``setReconnectTime(min:max:)``). With `blocking: true` the first attempt happens
    /// synchronously and its failure (e.g. ``NNGError/connectionRefused``) is thrown;
    /// later drops are still redialled automatically.
    ///
    /// With `tls` (on a `tls+tcp://` URL), the dialer presents `tls.certificateKeyFile` if
    /// given and, when `tls.requirePeerCertificate`, accepts only a server whose certificate
    /// `tls.caFile` signed for `tls.serverName`. A failed handshake counts as a failed
    /// connection: a blocking first attempt throws it (``NNGError/cryptographic``, or
    /// ``NNGError/connectionShutdown`` when the server hangs up); otherwise no pipe appears
    /// and NNG redials after the reconnect interval.
    ///
    /// The dialer runs until it or the socket is closed; dropping the returned object
    /// does not stop it.
    /// - Throws: ``NNGError`` (for an unreadable TLS file, an error naming the file).
    @discardableResult
    public func dial(_ url: String, blocking: Bool = false, tls: TLSSettings? = nil) throws -> Dialer {
        var raw = nng_dialer()
        let flags: Int32 = blocking ? 0 : Int32(NNG_FLAG_NONBLOCK)
        guard let tls else {
            try check(nng_dial(handle, url, &raw, flags), "dial \(url)")
            return Dialer(handle: raw, url: url, socket: self)
        }
        // TLS options must be set between create and start.
        try check(nng_dialer_create(&raw, handle, url), "dial \(url)")
        do {
            try tls.apply(to: .dialer(raw), listening: false, url: url)
            try check(nng_dialer_start(raw, flags), "dial \(url)")
        } catch {
            nng_dialer_close(raw)
            throw error
        }
        return Dialer(handle: raw, url: url, socket: self)
    }

    /// Sets the default receive timeout (`NNG_OPT_RECVTIMEO`) inherited by contexts
    /// opened afterwards. Default: ``NNGDuration/infinite``.
    /// - Throws: ``NNGError``.
    public func setReceiveTimeout(_ timeout: NNGDuration) throws {
        try setDuration(NNG_OPT_RECVTIMEO, timeout)
    }

    /// Sets the default send timeout (`NNG_OPT_SENDTIMEO`) inherited by contexts
    /// opened afterwards. Default: ``NNGDuration/infinite``.
    /// - Throws: ``NNGError``.
    public func setSendTimeout(_ timeout: NNGDuration) throws {
        try setDuration(NNG_OPT_SENDTIMEO, timeout)
    }

    /// Sets the redial back-off (`NNG_OPT_RECONNMINT` / `NNG_OPT_RECONNMAXT`) used by
    /// dialers created afterwards: the first retry waits `min`, each further failure
    /// doubles the wait up to `max` (`.zero` for `max` means "always `min`").
    /// NNG's defaults are 100 ms and 0.
    /// - Throws: ``NNGError``.
    public func setReconnectTime(min: NNGDuration, max: NNGDuration) throws {
        try setDuration(NNG_OPT_RECONNMINT, min)
        try setDuration(NNG_OPT_RECONNMAXT, max)
    }

    /// Sets `NNG_OPT_REQ_RESENDTIME` on a REQ socket (contexts opened afterwards inherit
    /// it): how long a request waits for its reply before NNG sends it again.
    /// ``NNGDuration/infinite`` disables resending.
    /// - Throws: ``NNGError`` (``NNGError/notSupported`` on a REP socket).
    public func setRequestResendTime(_ time: NNGDuration) throws {
        try setDuration(NNG_OPT_REQ_RESENDTIME, time)
    }

    private func setDuration(_ option: String, _ value: NNGDuration) throws {
        try check(nng_socket_set_ms(handle, option, value.milliseconds), "set \(option)=\(value)")
    }

    /// Opens a new context on this socket: an independent protocol state machine with
    /// its own outstanding request (REQ) or request being answered (REP). Use one
    /// context per concurrent exchange.
    /// - Throws: ``NNGError``.
    public func openContext() throws -> Context {
        try Context(socket: self)
    }

    /// Installs `handler` to be told when a connection (pipe) is added
    /// (`NNG_PIPE_EV_ADD_POST`) or removed (`NNG_PIPE_EV_REM_POST`). Calling it again
    /// replaces the handler.
    ///
    /// The handler runs on an NNG thread while NNG holds internal state: it must only
    /// record or enqueue the event (e.g. yield into an `AsyncStream`). It must not block,
    /// call ``close()`` on this socket (deadlock) or wait for other NNG operations.
    /// Beware of capturing the socket in the handler: that is a reference cycle.
    /// - Throws: ``NNGError``.
    public func onPipeEvent(_ handler: @escaping @Sendable (PipeEvent) -> Void) throws {
        pipeEvents.setHandler(handler)
        // The hub lives as long as this Socket, and nng_close (in close()/deinit) waits
        // for running pipe callbacks, so an unretained pointer is sufficient.
        let arg = Unmanaged.passUnretained(pipeEvents).toOpaque()
        for event in [NNG_PIPE_EV_ADD_POST, NNG_PIPE_EV_REM_POST] {
            try check(nng_pipe_notify(handle, event, pipeEventTrampoline, arg), "nng_pipe_notify")
        }
    }

    /// Refuses, before it is used, every `ipc://` connection whose peer process does not run as
    /// one of `uids` (the kernel's answer, `SO_PEERCRED`, as NNG reports it in
    /// `NNG_OPT_IPC_PEER_UID`): the pipe is closed at `NNG_PIPE_EV_ADD_PRE`, before any message
    /// crosses it. Connections over other transports are not affected. Call once, before
    /// listening or dialing.
    /// - Throws: ``NNGError``.
    public func restrictIPCPeers(to uids: Set<UInt32>) throws {
        screen.allow(uids)
        try installScreen()
    }

    /// The uids of the `ipc://` peers ``restrictIPCPeers(to:)`` refused so far, oldest first.
    public var refusedIPCPeers: [UInt32] { screen.refused }

    /// Asks `admit`, for every new connection before it is used (`NNG_PIPE_EV_ADD_PRE`, after
    /// the ipc peer check), whether to keep it; one it answers false to is closed before any
    /// message crosses it (closing a pipe then cannot race a receive: none was started). `admit`
    /// runs on an NNG thread: it must only decide and record, never block or call into NNG but
    /// for the pipe's own properties. Call once, before listening.
    /// - Throws: ``NNGError``.
    public func screenConnections(_ admit: @escaping @Sendable (Pipe) -> Bool) throws {
        screen.setAdmit(admit)
        try installScreen()
    }

    private func installScreen() throws {
        // The screen lives as long as this Socket, and nng_close waits for running pipe
        // callbacks, so an unretained pointer is sufficient.
        let arg = Unmanaged.passUnretained(screen).toOpaque()
        try check(nng_pipe_notify(handle, NNG_PIPE_EV_ADD_PRE, screenTrampoline, arg), "nng_pipe_notify")
    }

    /// Closes the socket: all its contexts, dialers and listeners close, and pending
    /// operations end with ``NNGError/closed``. Idempotent; safe to call from any
    /// thread, but never from a pipe-event handler or other NNG callback.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        _ = nng_close(handle)
    }

    /// Closes the socket as ``close()`` does, but waits at most `limit` for NNG to finish:
    /// `nng_close` waits for every pipe to be freed, and a pipe NNG cannot free (a defect of NNG
    /// 1.5.2, see ``Pipe/hangUp(_:)``) would make it wait forever. Returns whether the close
    /// finished in time; when not, it goes on in the background and the caller, which is
    /// stopping, should stop without it.
    public func close(waitingAtMost limit: Duration) -> Bool {
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { [self] in
            close()
            done.signal()
        }
        let (seconds, attoseconds) = limit.components
        let nanoseconds = Int(clamping: seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
        return done.wait(timeout: .now() + .nanoseconds(max(0, nanoseconds))) == .success
    }
}

/// A change in the set of connections (pipes) of a ``Socket``.
public struct PipeEvent: Sendable, Equatable, CustomStringConvertible {
    /// Whether the pipe was added or removed.
    public enum Kind: Sendable, Equatable {
        /// A connection was established and is now usable (`NNG_PIPE_EV_ADD_POST`).
        case added
        /// A connection went away (`NNG_PIPE_EV_REM_POST`).
        case removed
    }

    /// Whether the pipe was added or removed.
    public let kind: Kind
    /// NNG's id for the pipe; the same id is reported for its `.added` and `.removed` events.
    public let pipeID: UInt32
    /// The peer's address (e.g. `"tcp://127.0.0.1:53412"`) when NNG can report it
    /// (`NNG_OPT_REMADDR`); best effort, often `nil` for `.removed`.
    public let remoteAddress: String?

    /// Creates an event (NNG creates these; public for tests and fakes in callers).
    public init(kind: Kind, pipeID: UInt32, remoteAddress: String?) {
        self.kind = kind
        self.pipeID = pipeID
        self.remoteAddress = remoteAddress
    }

    /// `"added pipe 3 (tcp://…)"`.
    public var description: String {
        "\(kind == .added ? "added" : "removed") pipe \(pipeID)" + (remoteAddress.map { " (\($0))" } ?? "")
    }
}

/// Holds the current pipe-event handler of a socket.
final class PipeEventHub: Sendable {
    /// The handler, boxed: a closure stored in a generic container and copied out on every event
    /// was wrapped in a further reabstraction thunk each time (profiled: the call chain grew with
    /// each event, until NNG's reaper thread spent its time in thunks).
    private let handler = Mutex<Box<@Sendable (PipeEvent) -> Void>?>(nil)

    func setHandler(_ newHandler: @escaping @Sendable (PipeEvent) -> Void) {
        let box = Box(newHandler)
        handler.withLock { $0 = box }
    }

    func deliver(pipe: nng_pipe, event: nng_pipe_ev) {
        // Copy the handler out and call it without holding the lock.
        guard let current = handler.withLock({ $0 })?.value else { return }
        let kind: PipeEvent.Kind
        switch event {
        case NNG_PIPE_EV_ADD_POST: kind = .added
        case NNG_PIPE_EV_REM_POST: kind = .removed
        default: return
        }
        current(PipeEvent(kind: kind, pipeID: UInt32(bitPattern: nng_pipe_id(pipe)), remoteAddress: remoteAddress(of: pipe)))
    }

    private func remoteAddress(of pipe: nng_pipe) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer -> String? in
            guard cnng_pipe_remote_address(pipe, buffer.baseAddress, buffer.count) == 0 else { return nil }
            let text = String(cString: buffer.baseAddress!)
            return text.isEmpty ? nil : text
        }
    }
}

/// What a socket checks of each new connection before it is used: which `ipc://` peers it
/// accepts (and which it refused), and the caller's own admission decision.
final class ConnectionScreen: Sendable {
    private struct State {
        var allowed: Set<UInt32>?
        var refused: [UInt32] = []
        /// Boxed, as PipeEventHub's handler.
        var admit: Box<@Sendable (Pipe) -> Bool>?
    }
    private let state = Mutex(State())

    func allow(_ uids: Set<UInt32>) { state.withLock { $0.allowed = uids } }

    func setAdmit(_ admit: @escaping @Sendable (Pipe) -> Bool) {
        let box = Box(admit)
        state.withLock { $0.admit = box }
    }

    var refused: [UInt32] { state.withLock { $0.refused } }

    /// At `NNG_PIPE_EV_ADD_PRE`, on an NNG thread: closes the pipe when its ipc peer's uid is
    /// known and not allowed, or when the admission decision says no (closing a pipe, unlike the
    /// socket, is what this event is for).
    func check(_ pipe: nng_pipe) {
        var uid: UInt64 = 0
        let (allowed, admit) = state.withLock { ($0.allowed, $0.admit) }
        if let allowed, nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_UID, &uid) == 0 {  // ipc
            let peer = UInt32(truncatingIfNeeded: uid)
            if !allowed.contains(peer) {
                state.withLock { if $0.refused.count < 64 { $0.refused.append(peer) } }
                nng_pipe_close(pipe)
                return
            }
        }
        if let admit, !admit.value(Pipe(id: UInt32(bitPattern: nng_pipe_id(pipe)))) {
            nng_pipe_close(pipe)
        }
    }
}

/// A value kept by reference (a closure handed across threads through a Mutex).
final class Box<Value: Sendable>: Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// C callback for nng_pipe_notify at ADD_PRE; `arg` is an unretained `ConnectionScreen`.
private func screenTrampoline(_ pipe: nng_pipe, _ event: nng_pipe_ev, _ arg: UnsafeMutableRawPointer?) {
    guard let arg, event == NNG_PIPE_EV_ADD_PRE else { return }
    Unmanaged<ConnectionScreen>.fromOpaque(arg).takeUnretainedValue().check(pipe)
}

/// C callback for nng_pipe_notify; `arg` is an unretained `PipeEventHub`.
private func pipeEventTrampoline(_ pipe: nng_pipe, _ event: nng_pipe_ev, _ arg: UnsafeMutableRawPointer?) {
    guard let arg else { return }
    Unmanaged<PipeEventHub>.fromOpaque(arg).takeUnretainedValue().deliver(pipe: pipe, event: event)
}
