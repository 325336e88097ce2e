import CNNG

/// A message received, with the connection it came on.
public struct Received: Sendable {
    public var bytes: [UInt8]
    public var pipe: Pipe
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

    /// Hangs up on the peer (it may dial again).
    public func close() {
        _ = nng_pipe_close(handle)
    }
}
