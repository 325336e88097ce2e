/// Which rejections were logged when: one line per key (a peer's host and the reason) per
/// ``interval``, with the number not logged since, so a peer hammering the port cannot flood
/// the log.
struct RejectionLog {
    static let interval: Int64 = 10_000
    static let capacity = 1024

    private var keys: [String: (loggedAt: Int64, suppressed: Int)] = [:]

    /// The number of rejections under `key` not logged since its last line, when one should be
    /// logged now; `nil` when not.
    mutating func shouldLog(_ key: String, now: Int64) -> Int? {
        if let entry = keys[key], now - entry.loggedAt < Self.interval {
            keys[key]!.suppressed += 1
            return nil
        }
        if keys.count >= Self.capacity { keys = keys.filter { now - $0.value.loggedAt < Self.interval } }
        let suppressed = keys[key]?.suppressed ?? 0
        keys[key] = (now, 0)
        return suppressed
    }

    /// "tcp://10.0.0.2:41234" → "10.0.0.2": a peer that reconnects gets a new port each time.
    static func host(of address: String) -> String {
        guard let scheme = address.range(of: "://") else { return address }
        let rest = address[scheme.upperBound...]
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") { return String(rest[...close]) }
        if let colon = rest.lastIndex(of: ":") { return String(rest[..<colon]) }
        return String(rest)
    }
}
