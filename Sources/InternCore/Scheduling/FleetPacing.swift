/// How often each worker reports and heartbeats: the campaign's intervals, stretched so that the
/// whole fleet sends about ``reportsPerSecond`` reports and ``heartbeatsPerSecond`` heartbeats a
/// second at most. Each costs the coordinator's one thread a receive, the work and a reply whatever
/// it carries: at a fixed 250 ms and 1 s, 1,000 workers would send 4,000 reports and 1,000
/// heartbeats a second, more than one thread can take.
public struct FleetPacing: Sendable, Equatable {
    /// The campaign's intervals (`--log-flush-interval`, the heartbeat interval): a small fleet
    /// keeps them.
    public var reportMillis: UInt64
    public var heartbeatMillis: UInt64
    /// A heartbeat is never stretched past a quarter of the lease: a worker stays alive through
    /// three lost ones.
    public var leaseMillis: UInt64
    /// What the whole fleet may send a second.
    public var reportsPerSecond: UInt64
    public var heartbeatsPerSecond: UInt64

    public init(
        reportMillis: UInt64, heartbeatMillis: UInt64, leaseMillis: UInt64,
        reportsPerSecond: UInt64 = 1_000, heartbeatsPerSecond: UInt64 = 500
    ) {
        self.reportMillis = reportMillis
        self.heartbeatMillis = heartbeatMillis
        self.leaseMillis = leaseMillis
        self.reportsPerSecond = max(1, reportsPerSecond)
        self.heartbeatsPerSecond = max(1, heartbeatsPerSecond)
    }

    /// The intervals for a fleet of `workers` live workers, in milliseconds.
    public func intervals(workers: Int) -> (report: UInt64, heartbeat: UInt64) {
        let report = max(reportMillis, Self.spread(workers, perSecond: reportsPerSecond))
        let heartbeat = max(heartbeatMillis, min(Self.spread(workers, perSecond: heartbeatsPerSecond), leaseMillis / 4))
        return (report, heartbeat)
    }

    /// One wait of a periodic interval, `unit` (uniform in 0..<1) placing it within ±10 %:
    /// workers started together (a job array, a fleet brought up at once) would otherwise
    /// heartbeat and report in step, and the coordinator's one thread would take each interval's
    /// messages as one burst, the work requests behind it waiting. The mean stays the interval.
    public static func jittered(milliseconds: Int, unit: Double) -> Int {
        let factor = 0.9 + 0.2 * min(max(unit, 0), 1)
        return max(1, Int((Double(milliseconds) * factor).rounded()))
    }

    /// The interval at which `workers` workers send `perSecond` in all.
    static func spread(_ workers: Int, perSecond: UInt64) -> UInt64 {
        let product = UInt64(max(0, workers)).multipliedReportingOverflow(by: 1_000)
        return product.overflow ? .max : product.partialValue / perSecond
    }
}
