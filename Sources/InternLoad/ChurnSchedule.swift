import InternCore

/// When simulated workers go away and come back: a *kill* (the process dies: its socket closes
/// without a goodbye, and a new incarnation joins after a while, as a restarted worker does) or a
/// *cut* (the network drops: the same incarnation, its attempts still running, reconnects later;
/// a cut longer than the lease makes the coordinator declare it lost meanwhile).
///
/// A pure function of its parameters: the events of a run are known before it starts.
public struct ChurnSchedule: Sendable, Equatable {
    /// What happens to the worker.
    public enum Kind: String, Sendable, Equatable {
        case kill, cut
    }

    /// One worker going away at `at` (real time since the run started) for `downFor`.
    public struct Event: Sendable, Equatable {
        public var at: Duration
        public var worker: Int
        public var kind: Kind
        public var downFor: Duration
    }

    /// Every event, in time order.
    public private(set) var events: [Event]

    /// Parameters of a schedule.
    public struct Settings: Sendable, Equatable {
        /// Workers in the run.
        public var workers: Int
        /// Share of the workers that go away per simulated hour (0.02: 2 % per hour).
        public var perHour: Double
        /// Simulated hours the schedule covers.
        public var hours: Double
        /// Real seconds per simulated second.
        public var timeScale: Double
        /// Share of the events that are cuts (the rest are kills).
        public var cutShare: Double
        /// How long a killed worker stays away, and a cut lasts: real seconds, uniform.
        public var killDown: ClosedRange<Double>
        public var cutDown: ClosedRange<Double>
        public var seed: UInt64

        /// Creates settings.
        public init(
            workers: Int, perHour: Double, hours: Double, timeScale: Double, cutShare: Double = 0.5,
            killDown: ClosedRange<Double> = 0.5...3, cutDown: ClosedRange<Double> = 1...15, seed: UInt64 = 1
        ) {
            self.workers = max(0, workers)
            self.perHour = max(0, perHour)
            self.hours = max(0, hours)
            self.timeScale = max(0, timeScale)
            self.cutShare = min(1, max(0, cutShare))
            self.killDown = killDown
            self.cutDown = cutDown
            self.seed = seed
        }
    }

    /// `round(workers × perHour × hours)` events spread uniformly over the simulated hours, each
    /// on a uniformly drawn worker. A worker that is already away when its next event comes is
    /// left alone (that event is dropped), so a worker is never taken away twice at once.
    public init(_ settings: Settings) {
        var random = SplitMix64(seed: settings.seed, item: 0xC0FF_EE)
        let total = Int((Double(settings.workers) * settings.perHour * settings.hours).rounded())
        guard total > 0, settings.workers > 0 else {
            events = []
            return
        }
        func seconds(_ value: Double) -> Duration { .microseconds(Int64((value * 1_000_000).rounded())) }
        func draw(_ range: ClosedRange<Double>) -> Double { range.lowerBound + (range.upperBound - range.lowerBound) * random.unit() }
        var drawn: [Event] = []
        for _ in 0..<total {
            let at = seconds(random.unit() * settings.hours * 3600 * settings.timeScale)
            let worker = Int(random.next() % UInt64(settings.workers))
            let kind: Kind = random.unit() < settings.cutShare ? .cut : .kill
            let down = seconds(draw(kind == .cut ? settings.cutDown : settings.killDown))
            drawn.append(Event(at: at, worker: worker, kind: kind, downFor: down))
        }
        drawn.sort { ($0.at, $0.worker) < ($1.at, $1.worker) }
        var backAt: [Int: Duration] = [:]
        events = drawn.filter { event in
            if let back = backAt[event.worker], back > event.at { return false }
            backAt[event.worker] = event.at + event.downFor
            return true
        }
    }

    /// The events of one worker, in time order.
    public func events(of worker: Int) -> [Event] {
        events.filter { $0.worker == worker }
    }
}
