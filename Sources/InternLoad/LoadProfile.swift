import InternCore

/// What the simulated jobs do: how long an attempt runs, how much it prints, how often it fails.
/// Lengths and rates are in *simulated* seconds; `timeScale` maps them to real time (0.01: a
/// 60 s attempt lasts 0.6 s), so a campaign of hours replays in minutes. Log output is counted
/// per simulated second, so an attempt prints the same bytes whatever the scale.
public struct LoadProfile: Sendable, Equatable {
    /// Simulated attempt length, seconds: uniform between these.
    public var minSeconds: Double
    public var maxSeconds: Double
    /// Real seconds per simulated second.
    public var timeScale: Double
    /// Raw log bytes an attempt prints per simulated second (stdout and stderr together).
    public var logBytesPerSecond: Double
    /// One Trainer metric line on stdout per this many progress updates on stderr.
    public var metricEvery: Int
    /// Share of attempts that exit with status 1 and an NCCL error (class `infra`, retried).
    public var failureRate: Double
    /// Seeds every draw: the same seed gives the same attempts.
    public var seed: UInt64

    /// Creates a profile.
    public init(
        minSeconds: Double = 1, maxSeconds: Double = 60, timeScale: Double = 0.01, logBytesPerSecond: Double = 2_000,
        metricEvery: Int = 10, failureRate: Double = 0.02, seed: UInt64 = 1
    ) {
        self.minSeconds = min(minSeconds, maxSeconds)
        self.maxSeconds = max(minSeconds, maxSeconds)
        self.timeScale = max(0, timeScale)
        self.logBytesPerSecond = max(0, logBytesPerSecond)
        self.metricEvery = max(1, metricEvery)
        self.failureRate = min(1, max(0, failureRate))
        self.seed = seed
    }
}

/// One simulated attempt, drawn from its id and the profile's seed: the same attempt id always
/// gets the same plan, so a trial's retry (a new attempt id) draws afresh.
public struct JobPlan: Sendable, Equatable {
    /// Simulated length, milliseconds (what the attempt's end reports as its wall time).
    public var simulatedMillis: UInt64
    /// How long it lasts in real time.
    public var realDuration: Duration
    /// Whether it exits with status 1.
    public var fails: Bool
    /// Raw log bytes it prints in all.
    public var rawBytes: Int

    /// The plan of `attempt` under `profile`.
    public init(attempt: UInt64, profile: LoadProfile) {
        var random = SplitMix64(seed: profile.seed, item: attempt)
        let seconds = profile.minSeconds + (profile.maxSeconds - profile.minSeconds) * random.unit()
        simulatedMillis = UInt64((seconds * 1000).rounded())
        realDuration = .microseconds(Int64((seconds * profile.timeScale * 1_000_000).rounded()))
        fails = random.unit() < profile.failureRate
        // A failing attempt dies partway through: it prints less.
        let share = fails ? 0.2 + 0.6 * random.unit() : 1
        rawBytes = Int((seconds * profile.logBytesPerSecond * share).rounded())
        if fails { realDuration = realDuration * share }
    }
}
