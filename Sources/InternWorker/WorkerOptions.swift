import InternAuth
import InternCore
import InternProtocol
import NNG

/// Settings of a worker process.
public struct WorkerOptions: Sendable {
    /// The coordinator's URL (`ipc:///…`, `tcp://host:port`).
    public var connect: String
    /// The worker's stable identity.
    public var id: WorkerID
    /// How many attempts it runs at once.
    public var slots: Int
    /// The largest message accepted from the coordinator.
    public var maxMessageBytes: Int
    /// GPU ids offered (reported in Hello): the coordinator places GPU trials on them and names
    /// the ones each attempt gets (`CUDA_VISIBLE_DEVICES`).
    public var gpus: [String]
    /// How long to wait for SIGTERM'd jobs before SIGKILL (cancel, preemption).
    public var terminationGraceMillis: Int
    /// When the worker is told to leave (SIGTERM, SIGINT): how long running attempts may go on
    /// before they are stopped and reported `preempted`.
    public var drainGraceMillis: Int
    /// When leaving: how long to keep trying to deliver what the coordinator has not
    /// acknowledged once every attempt has ended.
    public var leaveFlushMillis: Int
    /// The worker's own directory (mode 0700): its spool and the list of its running jobs.
    /// One worker at a time may use it (locked). `nil`: no spool, nothing recorded.
    public var stateDirectory: String?
    /// Compressed log bytes waiting for acknowledgement at which the spool is full: further
    /// output is counted and reported lost instead of kept (the job itself goes on).
    public var spoolLimitBytes: Int
    /// Of those, how many are kept in memory before frames go to the spool on disk.
    public var spoolMemoryBytes: Int
    /// Once the coordinator has not answered for this long and nothing runs here, the worker
    /// gives up and exits 1 (what it still holds is lost). 0: never.
    public var giveUpMillis: Int
    /// The campaign's credentials: requests are sealed in an authenticated session and only
    /// replies that prove the coordinator holds the same secret are acted upon. `nil`: plain
    /// messages (ipc://, or tcp:// with --insecure).
    public var credentials: Credentials?
    /// For a `tls+tcp://` coordinator: the CA, this worker's certificate, the coordinator's name.
    public var tls: TLSSettings?
    /// CPUs and bytes of memory offered to attempts (0: not said); a campaign's `cpus:` and
    /// `memory:` requests are placed against them.
    public var resources = WorkerResources(cpus: 0, memoryBytes: 0)

    /// Creates options.
    public init(connect: String, id: WorkerID, slots: Int = 1, maxMessageBytes: Int = 16 << 20, gpus: [String] = [],
                terminationGraceMillis: Int = 5_000, drainGraceMillis: Int = 10_000, leaveFlushMillis: Int = 5_000,
                stateDirectory: String? = nil, spoolLimitBytes: Int = 1 << 30, spoolMemoryBytes: Int = 16 << 20,
                giveUpMillis: Int = 3_600_000, credentials: Credentials? = nil, tls: TLSSettings? = nil) {
        self.connect = connect
        self.id = id
        self.slots = max(1, slots)
        self.maxMessageBytes = maxMessageBytes
        self.gpus = gpus
        self.terminationGraceMillis = terminationGraceMillis
        self.drainGraceMillis = max(0, drainGraceMillis)
        self.leaveFlushMillis = max(0, leaveFlushMillis)
        self.stateDirectory = stateDirectory
        self.spoolLimitBytes = max(1, spoolLimitBytes)
        self.spoolMemoryBytes = max(0, spoolMemoryBytes)
        self.giveUpMillis = max(0, giveUpMillis)
        self.credentials = credentials
        self.tls = tls
    }
}

extension WorkerLifecycle.Settings {
    /// The lifecycle settings of a worker with these options.
    init(_ options: WorkerOptions) {
        self.init(
            slots: options.slots, drainGrace: .milliseconds(options.drainGraceMillis),
            terminationGrace: .milliseconds(options.terminationGraceMillis), leaveFlush: .milliseconds(options.leaveFlushMillis),
            giveUpAfter: options.giveUpMillis > 0 ? .milliseconds(options.giveUpMillis) : nil)
    }
}
