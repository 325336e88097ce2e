/// Timing and limits of the coordinator's logic. Defaults suit a cluster; tests shrink them.
public struct CoordinatorConfig: Sendable, Equatable {
    /// How often workers send a heartbeat.
    public var heartbeatIntervalMillis: Int64
    /// A worker not heard from for this long is lost: its attempts are requeued elsewhere.
    /// An assignment not confirmed by the worker within this time is lost as well.
    public var leaseTimeoutMillis: Int64
    /// A parked work request is answered with "no work, ask again" after this long, so a
    /// worker's long-poll doubles as a liveness probe of the connection.
    public var longPollMillis: Int64
    /// How many answered work requests per worker are remembered to answer a repeated request
    /// id with the same assignment.
    public var replyMemory: Int
    /// A busy slot gets its next attempt ahead of time (to start the moment its attempt ends)
    /// only while its stage's attempts last less than this (median of the last few); 0: never.
    /// Short trials are where the round trip between two attempts shows; a long trial waiting
    /// behind another would be one that an idle worker could have started.
    public var aheadMaxMillis: Int64

    /// Creates a configuration.
    public init(
        heartbeatIntervalMillis: Int64 = 1_000, leaseTimeoutMillis: Int64 = 10_000, longPollMillis: Int64 = 5_000,
        replyMemory: Int = 64, aheadMaxMillis: Int64 = 1_000
    ) {
        self.aheadMaxMillis = aheadMaxMillis
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
        self.leaseTimeoutMillis = leaseTimeoutMillis
        self.longPollMillis = longPollMillis
        self.replyMemory = replyMemory
    }
}
