import CNNG
import Synchronization

/// A listening endpoint created by ``Socket/listen(_:tls:)``.
///
/// Thread-safety: `Sendable`; the handle is an NNG id (NNG listener functions are
/// thread-safe) and the closed flag is atomic. Keeps its socket alive.
public final class Listener: Sendable {
    let handle: nng_listener
    private let socket: Socket
    private let closed = Atomic<Bool>(false)
    /// The URL this listener was created with (an ephemeral `:0` port stays `:0` here;
    /// see ``boundPort``).
    public let url: String
    /// For TCP listeners, the port actually bound (`NNG_OPT_TCP_BOUND_PORT`), which is
    /// how to learn the port chosen for `tcp://host:0`. `nil` for other transports.
    public let boundPort: Int?

    init(handle: nng_listener, url: String, socket: Socket) {
        self.handle = handle
        self.url = url
        self.socket = socket
        var port: Int32 = 0
        if nng_listener_get_int(handle, NNG_OPT_TCP_BOUND_PORT, &port) == 0 {
            self.boundPort = Int(port)
        } else {
            self.boundPort = nil
        }
    }

    /// Stops listening and closes connections accepted by this listener. Idempotent;
    /// a no-op once the socket is closed. Dropping the object does not close it.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        _ = nng_listener_close(handle)
    }
}

/// A dialing endpoint created by ``Socket/dial(_:blocking:tls:)``; NNG keeps redialling
/// until it is closed.
///
/// Thread-safety: `Sendable`; the handle is an NNG id (NNG dialer functions are
/// thread-safe) and the closed flag is atomic. Keeps its socket alive.
public final class Dialer: Sendable {
    let handle: nng_dialer
    private let socket: Socket
    private let closed = Atomic<Bool>(false)
    /// The URL being dialled.
    public let url: String

    init(handle: nng_dialer, url: String, socket: Socket) {
        self.handle = handle
        self.url = url
        self.socket = socket
    }

    /// Sets this dialer's redial back-off (`NNG_OPT_RECONNMINT` / `NNG_OPT_RECONNMAXT`);
    /// takes effect from the next redial. See ``Socket/setReconnectTime(min:max:)``.
    /// - Throws: ``NNGError``.
    public func setReconnectTime(min: NNGDuration, max: NNGDuration) throws {
        try check(nng_dialer_set_ms(handle, NNG_OPT_RECONNMINT, min.milliseconds), "set \(NNG_OPT_RECONNMINT)=\(min)")
        try check(nng_dialer_set_ms(handle, NNG_OPT_RECONNMAXT, max.milliseconds), "set \(NNG_OPT_RECONNMAXT)=\(max)")
    }

    /// Stops dialling and closes the connection made by this dialer. Idempotent;
    /// a no-op once the socket is closed. Dropping the object does not close it.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        _ = nng_dialer_close(handle)
    }
}
