import Foundation

/// Which network connections a coordinator keeps while their peers have not yet authenticated:
/// a stranger cannot hold more than a few, nor hold them long, nor crowd out a genuine worker.
///
/// A connection is *authenticated* once a message on it has been admitted (a sealed frame opened
/// with the campaign's secret, or an unsealed one where those are allowed). Until then it counts
/// against its address and against the total, and it is hung up on when it has not authenticated
/// within ``Limits/unauthenticatedMillis``. Local connections (ipc, inproc: this user's processes,
/// checked by the kernel) are never limited. Pure bookkeeping: the coordinator feeds it the
/// connection events and carries out its answers.
public struct ConnectionGate: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Unauthenticated connections from one address (a host: the port changes on each dial).
        public var perAddress: Int
        /// Unauthenticated connections in all.
        public var unauthenticated: Int
        /// Network connections in all, authenticated or not (keep it under the descriptor limit).
        public var connections: Int
        /// How long a connection may stay unauthenticated.
        public var unauthenticatedMillis: Int64

        public init(perAddress: Int = 16, unauthenticated: Int = 256, connections: Int = 4096, unauthenticatedMillis: Int64 = 10_000) {
            self.perAddress = perAddress
            self.unauthenticated = unauthenticated
            self.connections = connections
            self.unauthenticatedMillis = unauthenticatedMillis
        }
    }

    /// What to do with a new connection.
    public enum Admission: Sendable, Equatable {
        /// Keep it; hang up on `evicting` (the oldest unauthenticated connections of the address
        /// that holds the most) to make room.
        case admit(evicting: [UInt32])
        /// Close it before it is used, and log why.
        case refuse(reason: String)
        /// Close it without a word: its peer is already gone (the kernel no longer knows its
        /// address), so there is no one to name or to talk to.
        case drop
    }

    private struct Connection {
        var address: String
        var host: String
        var openedAt: Int64
        var authenticated: Bool
        /// Told to hang up already (evicted, timed out): not counted, not told again.
        var hungUp = false
    }

    public let limits: Limits
    private var connections: [UInt32: Connection] = [:]
    /// Unauthenticated connections not yet hung up on, by host, oldest first.
    private var waiting: [String: [UInt32]] = [:]
    private var waitingCount = 0
    private var networkCount = 0
    /// The addresses of the last connections closed, oldest first: a rejection logged just after
    /// its connection went still names its peer.
    private var recentlyClosed: [(id: UInt32, address: String)] = []
    private static let recentlyClosedKept = 1024

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// A new connection from `address` (a URL such as `tcp://10.0.0.2:41234`; `nil` when NNG
    /// could not say) opened at `now` (milliseconds, any monotonic clock).
    public mutating func open(_ id: UInt32, address: String?, local: Bool, now: Int64) -> Admission {
        guard !local else {
            connections[id] = Connection(address: address ?? "local", host: "local", openedAt: now, authenticated: true)
            return .admit(evicting: [])
        }
        guard let address else { return .drop }
        let host = Self.host(of: address)
        if networkCount >= limits.connections {
            return .refuse(reason: "too many connections (\(limits.connections))")
        }
        if (waiting[host]?.count ?? 0) >= limits.perAddress {
            return .refuse(reason: "too many unauthenticated connections from this address (\(limits.perAddress))")
        }
        var evicting: [UInt32] = []
        if waitingCount >= limits.unauthenticated,
           let crowded = waiting.max(by: { ($0.value.count, $1.key) < ($1.value.count, $0.key) })?.key,
           let oldest = waiting[crowded]?.first {
            evicting.append(oldest)
            markHungUp(oldest)
        }
        connections[id] = Connection(address: address, host: host, openedAt: now, authenticated: false)
        waiting[host, default: []].append(id)
        waitingCount += 1
        networkCount += 1
        return .admit(evicting: evicting)
    }

    /// A message on `id` was admitted: its peer holds the credentials (or needs none).
    public mutating func authenticated(_ id: UInt32) {
        guard let connection = connections[id], !connection.authenticated else { return }
        connections[id]?.authenticated = true
        if !connection.hungUp { removeWaiting(id, host: connection.host) }
    }

    /// Whether `id` is known and authenticated (cheap: the coordinator asks it for every message).
    public func isAuthenticated(_ id: UInt32) -> Bool {
        connections[id]?.authenticated ?? false
    }

    /// The connection went away.
    public mutating func closed(_ id: UInt32) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        if recentlyClosed.count >= Self.recentlyClosedKept { recentlyClosed.removeFirst(Self.recentlyClosedKept / 2) }
        recentlyClosed.append((id, connection.address))
        if connection.host != "local" { networkCount -= 1 }
        if !connection.authenticated, !connection.hungUp { removeWaiting(id, host: connection.host) }
    }

    /// Unauthenticated connections older than the limit at `now`, each returned once, with its
    /// address: hang up on them.
    public mutating func expired(now: Int64) -> [(id: UInt32, address: String)] {
        var found: [(id: UInt32, address: String)] = []
        for (_, ids) in waiting {
            for id in ids {
                guard let connection = connections[id] else { continue }
                // Each host's list is oldest first.
                guard now - connection.openedAt > limits.unauthenticatedMillis else { break }
                found.append((id, connection.address))
            }
        }
        for (id, _) in found { markHungUp(id) }
        return found
    }

    /// The address `id` connected from, while it is open and for a while after.
    public func address(of id: UInt32) -> String? {
        connections[id]?.address ?? recentlyClosed.last(where: { $0.id == id })?.address
    }

    /// Network connections open, and how many of them have not authenticated (not counting
    /// those already told to hang up).
    public var counts: (network: Int, unauthenticated: Int) { (networkCount, waitingCount) }

    private mutating func markHungUp(_ id: UInt32) {
        guard let connection = connections[id], !connection.hungUp else { return }
        connections[id]?.hungUp = true
        if !connection.authenticated { removeWaiting(id, host: connection.host) }
    }

    private mutating func removeWaiting(_ id: UInt32, host: String) {
        guard var ids = waiting[host], let index = ids.firstIndex(of: id) else { return }
        ids.remove(at: index)
        waiting[host] = ids.isEmpty ? nil : ids
        waitingCount -= 1
    }

    /// "tcp://10.0.0.2:41234" → "10.0.0.2": a peer that reconnects gets a new port each time.
    public static func host(of address: String) -> String {
        guard let scheme = address.range(of: "://") else { return address }
        let rest = address[scheme.upperBound...]
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") { return String(rest[...close]) }
        if let colon = rest.lastIndex(of: ":") { return String(rest[..<colon]) }
        return String(rest)
    }
}
