import Foundation

/// What Linux says about a process (the coordinator under load): its resident set and the CPU
/// time it has used, read from `/proc`. The pid may be given, or read from a file each time (a
/// coordinator restarted by the benchmark writes its new pid there).
public struct ProcessProbe: Sendable {
    /// One reading.
    public struct Reading: Sendable, Equatable, Codable {
        /// Resident set, KiB (`VmRSS`), and its peak so far (`VmHWM`).
        public var rssKiB: UInt64
        public var peakRssKiB: UInt64
        /// User plus system CPU time, seconds.
        public var cpuSeconds: Double
    }

    private let pid: Int32?
    private let pidFile: String?

    /// A probe of `pid`, or of the pid written in `pidFile`.
    public init(pid: Int32?, pidFile: String?) {
        self.pid = pid
        self.pidFile = pidFile
    }

    /// The process's pid now, if one is known.
    public var currentPid: Int32? {
        if let pid { return pid }
        guard let pidFile, let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Reads the process now; `nil` when there is none (it exited, or none was named).
    public func read() -> Reading? {
        currentPid.flatMap(read(pid:))
    }

    /// Reads process `pid` now; `nil` when it does not exist.
    public func read(pid: Int32) -> Reading? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        else { return nil }
        return Self.parse(status: status, stat: stat, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// A reading from the text of `/proc/PID/status` and `/proc/PID/stat`.
    static func parse(status: String, stat: String, ticksPerSecond: Double) -> Reading? {
        func kib(_ key: String) -> UInt64? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return nil }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { UInt64($0) }
        }
        // The command name (field 2) is in parentheses and may hold spaces: fields are counted
        // from the last ')'. utime and stime are fields 14 and 15.
        guard let close = stat.lastIndex(of: ")"), let rss = kib("VmRSS") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return Reading(rssKiB: rss, peakRssKiB: kib("VmHWM") ?? rss, cpuSeconds: (user + system) / max(1, ticksPerSecond))
    }
}
