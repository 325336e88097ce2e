/// Thins out a metric that a job prints many times a second, on the worker, before it travels:
/// per metric name and time window, it forwards the window's first point at once and, when the
/// window closes, its smallest, largest and last points (M4 downsampling, without the
/// duplicates). A metric printed at most once per window passes through untouched.
///
/// What it keeps: the last value of every metric (an objective summarised by `last` is exact),
/// every extreme (an objective summarised by `best` is exact, and plots keep their shape), and
/// each point's true `step` and time. What it drops is still in the stored log, byte for byte:
/// the log is the record, the metric series is its index.
///
/// Pure: time is the caller's (the point's time, in milliseconds).
public struct MetricDownsampler: Sendable {
    /// One point as it leaves the downsampler.
    public struct Point: Sendable, Equatable {
        public var name: String
        public var step: Int64
        public var value: Double
        public var time: Int64

        /// Creates a point.
        public init(name: String, step: Int64, value: Double, time: Int64) {
            self.name = name
            self.step = step
            self.value = value
            self.time = time
        }
    }

    /// The window length in milliseconds.
    public let windowMillis: Int64
    /// Points received and points forwarded so far (for accounting).
    public private(set) var received = 0
    public private(set) var forwarded = 0

    /// Per metric name: its step counter and its open window. Jobs print a handful of metric
    /// names, so they are found by a linear scan (no hashing per point); a dictionary takes
    /// over past 16 names.
    private var names: [String] = []
    private var series: [Series] = []
    private var index: [String: Int] = [:]

    private struct Series {
        var nextStep: Int64 = 0
        var window: Window?
    }

    private struct Window {
        var start: Int64
        /// Candidates not yet forwarded, with their arrival order.
        var minimum: (order: Int, point: Point)?
        var maximum: (order: Int, point: Point)?
        var last: (order: Int, point: Point)?
        var count = 0

        mutating func add(_ point: Point) {
            count += 1
            // NaN is never an extreme; it can still be the last value.
            if !point.value.isNaN {
                if minimum.map({ point.value < $0.point.value }) ?? true { minimum = (count, point) }
                if maximum.map({ point.value > $0.point.value }) ?? true { maximum = (count, point) }
            }
            last = (count, point)
        }
    }

    /// Creates a downsampler with `windowMillis`-long windows (100 ms: at most ~40 points a
    /// second per metric leave it).
    public init(windowMillis: Int64 = 100) {
        self.windowMillis = max(1, windowMillis)
    }

    /// Takes one point; calls `emit` for every point to forward now, in order. A point without
    /// a `step` gets the number of earlier points of the same name (counted before
    /// downsampling, so steps stay true positions).
    public mutating func offer(name: String, step: Int64?, value: Double, time: Int64, emit: (Point) -> Void) {
        let slot = self.slot(for: name)
        let resolvedStep = step ?? series[slot].nextStep
        series[slot].nextStep = resolvedStep + 1
        let point = Point(name: name, step: resolvedStep, value: value, time: time)
        received += 1
        if let start = series[slot].window?.start, point.time - start < windowMillis {
            // Mutated in place: no copy of the window (and its strings) per point.
            series[slot].window!.add(point)
            return
        }
        if let window = series[slot].window { close(window, emit: emit) }
        series[slot].window = Window(start: point.time)
        forwarded += 1
        emit(point)
    }

    /// Takes one point with its step already resolved.
    public mutating func offer(_ point: Point, emit: (Point) -> Void) {
        offer(name: point.name, step: point.step, value: point.value, time: point.time, emit: emit)
    }

    private mutating func slot(for name: String) -> Int {
        if names.count <= 16 {
            for i in names.indices where names[i] == name { return i }
        } else if let i = index[name] {
            return i
        }
        names.append(name)
        series.append(Series())
        if names.count > 16 {
            if index.isEmpty { for (i, n) in names.enumerated() { index[n] = i } } else { index[name] = names.count - 1 }
        }
        return names.count - 1
    }

    /// Forwards what windows that ended before `now` hold.
    public mutating func flush(now: Int64, emit: (Point) -> Void) {
        for slot in series.indices {
            guard let window = series[slot].window, now - window.start >= windowMillis, window.last != nil else { continue }
            close(window, emit: emit)
            series[slot].window = Window(start: window.start)
        }
    }

    /// Forwards everything still held (the job ended).
    public mutating func finish(emit: (Point) -> Void) {
        for slot in series.indices {
            if let window = series[slot].window { close(window, emit: emit) }
            series[slot].window = nil
        }
    }

    private mutating func close(_ window: Window, emit: (Point) -> Void) {
        var pending: [(order: Int, point: Point)] = []
        for candidate in [window.minimum, window.maximum, window.last] {
            guard let candidate, !pending.contains(where: { $0.order == candidate.order }) else { continue }
            pending.append(candidate)
        }
        for entry in pending.sorted(by: { $0.order < $1.order }) {
            forwarded += 1
            emit(entry.point)
        }
    }
}
