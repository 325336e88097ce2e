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

    /// Creates a configuration.
    public init(
        heartbeatIntervalMillis: Int64 = 1_000, leaseTimeoutMillis: Int64 = 10_000, longPollMillis: Int64 = 5_000,
        replyMemory: Int = 64
    ) {
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
        self.leaseTimeoutMillis = leaseTimeoutMillis
        self.longPollMillis = longPollMillis
        self.replyMemory = replyMemory
    }
}
