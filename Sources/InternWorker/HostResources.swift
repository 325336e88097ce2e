import Foundation

/// What this machine gives a worker, as Linux tells it: the CPUs this process may run on (its
/// affinity mask: a SLURM allocation, a cpuset, `taskset`), and the memory it may use (its
/// cgroup's `memory.max` when set, as in a container or a SLURM job, else the host's MemTotal).
public enum HostResources {
    public static func cpus() -> Int {
        // `Cpus_allowed:` in /proc/self/status is the affinity mask in hex (comma-separated words).
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) {
            let count = line.dropFirst("Cpus_allowed:".count).reduce(0) { $0 + (Int(String($1), radix: 16)?.nonzeroBitCount ?? 0) }
            if count > 0 { return count }
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    public static func memoryBytes() -> Int {
        let total = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if let limit = cgroupMemoryLimit(), limit > 0 { return total > 0 ? min(limit, total) : limit }
        return total
    }

    /// cgroup v2 `memory.max` of this process's cgroup (nil when unlimited or unknown).
    static func cgroupMemoryLimit() -> Int? {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") })
        else { return nil }
        let path = "/sys/fs/cgroup" + line.dropFirst(3) + "/memory.max"
        guard let text = try? String(contentsOfFile: String(path), encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
