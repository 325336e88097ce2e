/// Which rejected peers get a log line, so that strangers hammering the port cannot flood the
/// log, and none goes unreported: one line per key (an address's host and the reason) per
/// ``interval``, carrying the number not logged since; at most ``linesPerInterval`` lines in all
/// per interval; and the rejections that got no line of their own are counted for ``summary(now:)``:
/// each rejection is a line, or counted on its key's next line, or counted in a summary.
public struct RejectionLog: Sendable {
    public static let interval: Int64 = 10_000
    /// Keys remembered at most (a flood from many addresses cannot grow the table without bound).
    public static let capacity = 1024
    public static let linesPerInterval = 20

    private var keys: [String: (loggedAt: Int64, suppressed: Int)] = [:]
    private var windowStart: Int64?
    private var linesInWindow = 0
    /// Rejections with no line, and how many distinct keys, since the last summary.
    private var unlogged = 0
    private var unloggedKeys: Set<String> = []
    private var lastSummary: Int64?

    public init() {}

    /// The number of rejections under `key` not logged since its last line, when one should be
    /// logged now; `nil` when not (`now`: milliseconds, any monotonic clock).
    public mutating func shouldLog(_ key: String, now: Int64) -> Int? {
        if let start = windowStart, now - start < Self.interval {} else {
            windowStart = now
            linesInWindow = 0
        }
        if let entry = keys[key], now - entry.loggedAt < Self.interval || linesInWindow >= Self.linesPerInterval {
            keys[key]!.suppressed += 1
            return nil
        }
        if keys[key] == nil, keys.count >= Self.capacity {
            // Forget keys quiet for an interval; what they had not reported goes to the summary.
            for (old, entry) in keys where now - entry.loggedAt >= Self.interval {
                if entry.suppressed > 0 { countUnlogged(old, entry.suppressed) }
                keys[old] = nil
            }
        }
        guard linesInWindow < Self.linesPerInterval, keys[key] != nil || keys.count < Self.capacity else {
            countUnlogged(key, 1)
            return nil
        }
        let suppressed = keys[key]?.suppressed ?? 0
        keys[key] = (now, 0)
        linesInWindow += 1
        return suppressed
    }

    /// The rejections that got no line of their own, and under how many keys, once per interval
    /// at most; `nil` when there are none or the last summary is recent.
    /// Keys whose last line is an interval old hand their count not logged since to the summary
    /// (a flood that stopped is still reported).
    /// With `final` (the coordinator is stopping), every count not yet logged is in it, however
    /// recent.
    public mutating func summary(now: Int64, final: Bool = false) -> (rejections: Int, keys: Int)? {
        if !final, let lastSummary, now - lastSummary < Self.interval { return nil }
        for (key, entry) in keys where entry.suppressed > 0 && (final || now - entry.loggedAt >= Self.interval) {
            countUnlogged(key, entry.suppressed)
            keys[key]!.suppressed = 0
        }
        guard unlogged > 0 else { return nil }
        defer {
            unlogged = 0
            unloggedKeys = []
            lastSummary = now
        }
        return (unlogged, unloggedKeys.count)
    }

    private mutating func countUnlogged(_ key: String, _ count: Int) {
        unlogged += count
        if unloggedKeys.count < Self.capacity { unloggedKeys.insert(key) }
    }
}
