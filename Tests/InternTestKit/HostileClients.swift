import Dispatch
import Foundation
import Glibc
import Synchronization

/// Strangers on the network: raw TCP clients that speak just enough of NNG's SP protocol (the
/// 8-byte handshake of a REQ peer, then 8-byte length-prefixed messages) to reach a coordinator,
/// and then misbehave. Used to flood a real coordinator in tests.
public enum HostileClients {
    /// How each client misbehaves once connected.
    public enum Shape: Sendable {
        /// A malformed hello (an authentication frame too short to parse), then the first bytes
        /// of a second message, then it hangs up: what leaked a descriptor per connection in
        /// NNG 1.5.2 when the coordinator hung up on it.
        case badHelloThenPartial
        /// Only the handshake, then it holds the connection open for this long, saying nothing.
        case idle(Duration)
        /// A message that is not intern's at all, then it hangs up.
        case garbage
        /// A message of this many bytes (an authentication frame's header, then zeros), within
        /// the coordinator's limit, then it hangs up: the coordinator receives all of it.
        case oversized(Int)
    }

    /// What a flood did.
    public struct Outcome: Sendable {
        /// Connections the kernel accepted.
        public var connected = 0
        /// Connections that could not be made (refused, or no free port).
        public var failed = 0
        public var seconds = 0.0
    }

    /// Sends `clients` hostile connections to `host:port`, `concurrency` at a time, each from
    /// `source` (any 127.x.y.z address on loopback: a stranger with its own address).
    public static func flood(
        host: String = "127.0.0.1", port: Int, source: String? = nil, clients: Int, concurrency: Int, shape: Shape
    ) async -> Outcome {
        let started = ContinuousClock.now
        let counts = Mutex(Outcome())
        let perLane = (clients + concurrency - 1) / concurrency
        // One thread per lane (not concurrentPerform, which runs only as many as there are cores).
        let lanes = DispatchGroup()
        for lane in 0..<concurrency {
            lanes.enter()
            let thread = Thread {
                var connected = 0, failed = 0
                for index in 0..<perLane where lane * perLane + index < clients {
                    if misbehave(host: host, port: port, source: source, shape: shape, sequence: UInt32(lane * perLane + index)) {
                        connected += 1
                    } else {
                        failed += 1
                    }
                }
                counts.withLock {
                    $0.connected += connected
                    $0.failed += failed
                }
                lanes.leave()
            }
            thread.start()
        }
        await withCheckedContinuation { continuation in
            lanes.notify(queue: .global()) { continuation.resume() }
        }
        var outcome = counts.withLock { $0 }
        let elapsed = (ContinuousClock.now - started).components
        outcome.seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        return outcome
    }

    /// The number of open descriptors of process `pid` (of this one by default).
    public static func openDescriptors(of pid: pid_t = getpid()) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// The resident memory of process `pid`, in bytes (`VmRSS`).
    public static func residentBytes(of pid: pid_t = getpid()) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return -1 }
        return kilobytes * 1024
    }

    private static func misbehave(host: String, port: Int, source: String?, shape: Shape, sequence: UInt32) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = address(source, port: 0)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { return false }
        }
        var remote = address(host, port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        // SP handshake of a req0 peer: "\0SP\0", protocol 0x30, two reserved bytes.
        var bytes: [UInt8] = [0, 0x53, 0x50, 0, 0x00, 0x30, 0, 0]
        let requestID = (0x8000_0000 | sequence).bigEndianBytes
        switch shape {
        case .badHelloThenPartial:
            // An authentication frame ("IA", version 1, kind hello) too short to be one.
            bytes += message(requestID + [0x49, 0x41, 0x01, 0x01] + [UInt8](repeating: 0, count: 10))
            bytes += UInt64(1000).bigEndianBytes + [1, 2, 3]
        case .idle:
            break
        case .garbage:
            bytes += message(requestID + Array("\u{7}not a message of intern's".utf8))
        case .oversized(let size):
            bytes += message(requestID + [0x49, 0x41, 0x01, 0x01] + [UInt8](repeating: 0, count: max(0, size - 8)))
        }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        switch shape {
        case .idle(let hold): Thread.sleep(forTimeInterval: Double(hold.components.seconds) + Double(hold.components.attoseconds) / 1e18)
        default: Thread.sleep(forTimeInterval: 0.02)
        }
        return true
    }

    /// Connects to `host:port` as a REQ peer, announces a message of `claimed` bytes (sending
    /// only its 8-byte length), and waits up to `patience` for the other side to hang up. The
    /// time it took, or nil when the connection was still open (or could not be made).
    public static func secondsUntilHungUp(
        host: String = "127.0.0.1", port: Int, claimed: UInt64, patience: Duration = .seconds(10)
    ) async -> Double? {
        await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(returning: hangUpDelay(host: host, port: port, claimed: claimed, patience: patience))
            }.start()
        }
    }

    private static func hangUpDelay(host: String, port: Int, claimed: UInt64, patience: Duration) -> Double? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: Int(patience.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var remote = address(host, port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let bytes: [UInt8] = [0, 0x53, 0x50, 0, 0x00, 0x30, 0, 0] + claimed.bigEndianBytes
        let started = ContinuousClock.now
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got > 0 { continue }  // the peer's handshake
            if got < 0, errno == EAGAIN || errno == EWOULDBLOCK { return nil }  // still open after `patience`
            let elapsed = (ContinuousClock.now - started).components
            return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        }
    }

    private static func message(_ body: [UInt8]) -> [UInt8] {
        UInt64(body.count).bigEndianBytes + body
    }

    private static func address(_ text: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, text, &address.sin_addr)
        return address
    }
}

extension FixedWidthInteger {
    fileprivate var bigEndianBytes: [UInt8] {
        withUnsafeBytes(of: self.bigEndian) { Array($0) }
    }
}
