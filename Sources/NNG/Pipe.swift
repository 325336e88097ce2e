import CNNG

/// A message received, with the connection it came on and when NNG handed it over.
public struct Received: Sendable {
    public var bytes: [UInt8]
    public var pipe: Pipe
    /// `CLOCK_MONOTONIC` nanoseconds when the receive completed, on NNG's thread (0 when none
    /// was received): what the message then waited for its receiver to run is measurable.
    public var arrivedAt: UInt64 = 0
}

/// One connection of a socket (an NNG pipe), named by its id. Valid while the connection
/// lasts; afterwards its queries answer `nil`/false and ``close()`` does nothing.
public struct Pipe: Sendable, Hashable {
    public let id: UInt32

    public init(id: UInt32) {
        self.id = id
    }

    private var handle: nng_pipe { nng_pipe(id: id) }

    /// The peer's address as a URL ("tcp://10.0.0.2:41234", "ipc:///path"), if known.
    public var remoteAddress: String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer -> String? in
            guard cnng_pipe_remote_address(handle, buffer.baseAddress, buffer.count) == 0 else { return nil }
            let text = String(cString: buffer.baseAddress!)
            return text.isEmpty ? nil : text
        }
    }

    /// Whether the peer is reached over a network (TCP or TLS), as opposed to ipc:// or
    /// inproc:// on this machine. Unknown (a closed pipe) counts as network: the cautious answer.
    public var isNetwork: Bool {
        cnng_pipe_is_local(handle) == 0
    }

    /// Hangs up on the peer (it may dial again). See ``hangUp(_:)``.
    public func close() {
        Self.hangUp([self])
    }

    /// Hangs up on each pipe's peer (they may dial again), without ever racing NNG's own
    /// receive: a TCP or TLS connection is shut down (`shutdown(2)`, found among this process's
    /// descriptors by its two endpoints), and NNG closes the pipe in its receive callback when it
    /// sees the peer gone; an ipc or inproc pipe is closed with `nng_pipe_close`.
    ///
    /// Why not `nng_pipe_close` for all: in NNG 1.5.2 (nng issue #616, fixed in 1.6.0 by pull
    /// request #1636), closing a TCP pipe from another thread while a message is arriving in
    /// pieces loses the pipe's pending receive, so the pipe is never freed, nor, since NNG frees
    /// pipes on one thread, is any pipe closed after it: every later connection leaks its
    /// descriptor, and closing the socket hangs. A peer that sends a bad message and the start
    /// of another triggers it at will. A pipe already gone is left alone.
    public static func hangUp(_ pipes: [Pipe]) {
        guard !pipes.isEmpty else { return }
        var network: [nng_pipe] = []
        for pipe in pipes {
            if pipe.isLocal { _ = nng_pipe_close(pipe.handle) } else { network.append(pipe.handle) }
        }
        guard !network.isEmpty else { return }
        var found = [Int32](repeating: 0, count: network.count)
        _ = cnng_shutdown_pipes(network, Int32(network.count), &found)
    }

    /// Whether the peer is on this machine by construction (ipc://, inproc://); false for a
    /// closed pipe.
    var isLocal: Bool {
        cnng_pipe_is_local(handle) == 1
    }
}
