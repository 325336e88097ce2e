import Foundation

/// Hosts made of Linux network namespaces: one "hub" namespace and spokes, each spoke joined to
/// the hub by its own veth link (hub 10.77.N.1, spoke N 10.77.N.2). Needs root and iproute2; the
/// links can be taken down and up again to cut a spoke off. Removed by ``remove()``.
public final class NetworkNamespaces: @unchecked Sendable {
    public static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"

    /// Whether this machine lets the tests make namespaces (root with iproute2).
    public static var available: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: ip)
    }

    public let hub: String
    public let spokes: [String]
    private let tag: String

    /// Creates the hub and `spokes` spokes, links them and brings every interface up.
    public init(spokes count: Int) throws {
        let tag = String(UInt32.random(in: 0...0xFFFFF), radix: 16)
        self.tag = tag
        hub = "in-hub-\(tag)"
        spokes = (1...count).map { "in-s\($0)-\(tag)" }
        try Self.run(["netns", "add", hub])
        try Self.run(["-n", hub, "link", "set", "lo", "up"])
        for (index, spoke) in spokes.enumerated() {
            let n = index + 1
            try Self.run(["netns", "add", spoke])
            try Self.run(["-n", spoke, "link", "set", "lo", "up"])
            let (hubSide, spokeSide) = (hubInterface(n), spokeInterface(n))
            try Self.run(["link", "add", hubSide, "type", "veth", "peer", "name", spokeSide])
            try Self.run(["link", "set", hubSide, "netns", hub])
            try Self.run(["link", "set", spokeSide, "netns", spoke])
            try Self.run(["-n", hub, "addr", "add", "10.77.\(n).1/24", "dev", hubSide])
            try Self.run(["-n", spoke, "addr", "add", "10.77.\(n).2/24", "dev", spokeSide])
            try Self.run(["-n", hub, "link", "set", hubSide, "up"])
            try Self.run(["-n", spoke, "link", "set", spokeSide, "up"])
        }
    }

    /// The hub's address as spoke `n` (1-based) reaches it.
    public func hubAddress(forSpoke n: Int) -> String { "10.77.\(n).1" }

    /// Takes spoke `n`'s link down (`up: false`) or brings it back.
    public func setLink(spoke n: Int, up: Bool) throws {
        try Self.run(["-n", spokes[n - 1], "link", "set", spokeInterface(n), up ? "up" : "down"])
    }

    /// Deletes the namespaces (their links go with them).
    public func remove() {
        for name in [hub] + spokes { _ = try? Self.run(["netns", "del", name]) }
    }

    private func hubInterface(_ n: Int) -> String { "ih\(n)-\(tag)" }
    private func spokeInterface(_ n: Int) -> String { "is\(n)-\(tag)" }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ip)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NamespaceError(message: "ip \(arguments.joined(separator: " ")): \(text)")
        }
        return text
    }
}

public struct NamespaceError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
