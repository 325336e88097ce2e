/// Thins out a metric that a job prints many times a second, on the worker, before it travels.
/// The first `exactPoints` points of each metric pass untouched (a real training job's loss
/// every N steps and its eval per epoch stay complete, even when block-buffered output delivers
/// them in one burst); after that, per metric name and time window, it forwards the window's first point at once and, when the
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

    /// Series are found by the name's UTF-8 bytes, so that the worker, which reads names as
    /// bytes, makes a `String` only for a spelling it has not seen before. Each distinct
    /// spelling is a key; keys whose strings are equal (Swift compares strings by canonical
    /// equivalence, so `é` precomposed and `e` + U+0301 are one name) share one series, exactly
    /// as when series were looked up by `String`. A point keeps its own spelling.
    private var keys: [Key] = []
    /// The bytes of every key, one after the other (one allocation, not one per name).
    private var keyBytes: [UInt8] = []
    /// Each key's name as a `String`, made once, handed out with the points it forwards.
    private var keyNames: [String] = []
    /// Open addressing over `keys` by `Key.hash`: key index + 1, 0 for an empty bucket.
    private var buckets: [Int32] = []
    /// The series of each distinct name (by `String` equality), for a new spelling only.
    private var seriesByName: [String: Int] = [:]
    /// Per series, in the order names were first seen (which is the order `flush` and
    /// `finish` forward in). Plain values, no strings: a point updates its series in place.
    private var series: [Series] = []
    /// The key of the previous point, or -1. Jobs print their metrics in the same order line
    /// after line, so the key that followed it last time (`Key.next`) is checked first: most
    /// points are then found by one comparison, without hashing.
    private var lastKey = -1

    private struct Key {
        var start: Int
        var count: Int
        var hash: UInt64
        var series: Int
        /// The key offered after this one last time, or -1.
        var next = -1
    }

    private struct Series {
        var nextStep: Int64 = 0
        /// Points forwarded untouched while under the `exactPoints` budget.
        var exact = 0
        /// The open window, when `isOpen`: its start and the candidates not yet forwarded.
        var isOpen = false
        var start: Int64 = 0
        var count = 0
        var minimum = Candidate()
        var maximum = Candidate()
        var last = Candidate()

        mutating func open(at start: Int64) {
            isOpen = true
            self.start = start
            count = 0
            minimum = Candidate()
            maximum = Candidate()
            last = Candidate()
        }

        /// Resolves the point's step and, when the point falls in the open window, holds it;
        /// otherwise returns the step: the caller closes the window and forwards the point.
        /// (One mutating call, so a held point costs one access to the series array.)
        mutating func take(key: Int, step: Int64?, value: Double, time: Int64, windowMillis: Int64, exactPoints: Int) -> (step: Int64, direct: Bool)? {
            let resolvedStep = step ?? nextStep
            nextStep = resolvedStep + 1
            if exact < exactPoints {
                exact += 1
                return (resolvedStep, true)
            }
            if isOpen, time - start < windowMillis {
                add(Candidate(key: key, step: resolvedStep, value: value, time: time))
                return nil
            }
            return (resolvedStep, false)
        }

        mutating func add(_ point: Candidate) {
            count += 1
            var point = point
            point.order = count
            // NaN is never an extreme; it can still be the last value.
            if !point.value.isNaN {
                if minimum.order == 0 || point.value < minimum.value { minimum = point }
                if maximum.order == 0 || point.value > maximum.value { maximum = point }
            }
            last = point
        }
    }

    /// A point held in a window; its name is its key's.
    private struct Candidate {
        /// Arrival order in the window, from 1; 0 for no candidate.
        var order = 0
        var key = 0
        var step: Int64 = 0
        var value: Double = 0
        var time: Int64 = 0
    }

    /// How many points of each metric pass untouched before thinning starts.
    public let exactPoints: Int

    /// Creates a downsampler: the first `exactPoints` points of each metric pass untouched, then
    /// `windowMillis`-long windows apply (100 ms: at most ~40 points a second per metric leave it).
    public init(windowMillis: Int64 = 100, exactPoints: Int = 1_000) {
        self.windowMillis = max(1, windowMillis)
        self.exactPoints = max(0, exactPoints)
    }

    /// Takes one point; calls `emit` for every point to forward now, in order. A point without
    /// a `step` gets the number of earlier points of the same name (counted before
    /// downsampling, so steps stay true positions).
    public mutating func offer(name: String, step: Int64?, value: Double, time: Int64, emit: (Point) -> Void) {
        var bytes = name
        let key = bytes.withUTF8 { self.key(for: UnsafeRawBufferPointer($0), name: name) }
        offer(key: key, step: step, value: value, time: time, emit: emit)
    }

    /// `offer(name:step:value:time:emit:)` for a name held as UTF-8 bytes (as
    /// `MetricLineParser.parse(_:using:_:)` hands them out): a `String` is made only the first
    /// time these bytes are seen. Invalid UTF-8 is repaired in the forwarded name, as
    /// `String(decoding:as:)` does.
    public mutating func offer(nameBytes: UnsafeRawBufferPointer, step: Int64?, value: Double, time: Int64, emit: (Point) -> Void) {
        let key = self.key(for: nameBytes, name: nil)
        offer(key: key, step: step, value: value, time: time, emit: emit)
    }

    /// Takes one point with its step already resolved.
    public mutating func offer(_ point: Point, emit: (Point) -> Void) {
        offer(name: point.name, step: point.step, value: point.value, time: point.time, emit: emit)
    }

    private mutating func offer(key: Int, step: Int64?, value: Double, time: Int64, emit: (Point) -> Void) {
        let slot = keys[key].series
        received += 1
        guard let (resolvedStep, direct) = series[slot].take(
            key: key, step: step, value: value, time: time, windowMillis: windowMillis, exactPoints: exactPoints)
        else { return }
        if !direct {
            if series[slot].isOpen { close(slot, emit: emit) }
            series[slot].open(at: time)
        }
        forwarded += 1
        emit(Point(name: keyNames[key], step: resolvedStep, value: value, time: time))
    }

    /// Forwards what windows that ended before `now` hold.
    public mutating func flush(now: Int64, emit: (Point) -> Void) {
        for slot in series.indices {
            guard series[slot].isOpen, now - series[slot].start >= windowMillis, series[slot].last.order != 0 else { continue }
            close(slot, emit: emit)
            // A fresh window with the same start: later points of that window are held again.
            series[slot].open(at: series[slot].start)
        }
    }

    /// Forwards everything still held (the job ended).
    public mutating func finish(emit: (Point) -> Void) {
        for slot in series.indices {
            if series[slot].isOpen { close(slot, emit: emit) }
            series[slot].isOpen = false
        }
    }

    /// Forwards the window's smallest, largest and last points, each once, in arrival order.
    private mutating func close(_ slot: Int, emit: (Point) -> Void) {
        var a = series[slot].minimum
        var b = series[slot].maximum
        var c = series[slot].last
        // Drop duplicates (one point can be several of the three), then sort three by order.
        if b.order == a.order { b.order = 0 }
        if c.order == a.order || c.order == b.order { c.order = 0 }
        if a.order > b.order { swap(&a, &b) }
        if b.order > c.order { swap(&b, &c) }
        if a.order > b.order { swap(&a, &b) }
        for candidate in [a, b, c] where candidate.order != 0 {
            forwarded += 1
            emit(Point(name: keyNames[candidate.key], step: candidate.step, value: candidate.value, time: candidate.time))
        }
    }

    // MARK: - Keys

    /// The key of `bytes`, added when new (`name` is its string when the caller has one).
    private mutating func key(for bytes: UnsafeRawBufferPointer, name: String?) -> Int {
        if lastKey >= 0 {
            let hinted = keys[lastKey].next
            if hinted >= 0, keys[hinted].count == bytes.count, matches(hinted, bytes) {
                lastKey = hinted
                return hinted
            }
        }
        let key = lookUp(bytes, name: name)
        if lastKey >= 0 { keys[lastKey].next = key }
        lastKey = key
        return key
    }

    /// Finds `bytes` by hash, adding a key (and a series for a new name) when not found.
    private mutating func lookUp(_ bytes: UnsafeRawBufferPointer, name: String?) -> Int {
        let hash = Self.hash(bytes)
        if buckets.isEmpty { buckets = [Int32](repeating: 0, count: 32) }
        let mask = buckets.count - 1
        var b = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(buckets[b])
            if entry == 0 { break }
            let k = entry - 1
            if keys[k].hash == hash, keys[k].count == bytes.count, matches(k, bytes) { return k }
            b = (b + 1) & mask
        }
        let string = name ?? String(decoding: bytes, as: UTF8.self)
        let slot: Int
        if let existing = seriesByName[string] {
            slot = existing
        } else {
            slot = series.count
            series.append(Series())
            seriesByName[string] = slot
        }
        keys.append(Key(start: keyBytes.count, count: bytes.count, hash: hash, series: slot))
        keyBytes.append(contentsOf: bytes)
        keyNames.append(string)
        buckets[b] = Int32(keys.count)
        if keys.count * 2 > buckets.count { rehash() }
        return keys.count - 1
    }

    /// Whether key `k` holds `bytes` (the caller checked the length). Compares eight bytes at
    /// a time, the last word overlapping the one before (under eight bytes, two overlapping
    /// four-byte halves): names are mostly 4 to 20 bytes.
    private func matches(_ k: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard n > 0, let b = bytes.baseAddress else { return true }
        let start = keys[k].start
        return keyBytes.withUnsafeBytes { stored in
            let a = stored.baseAddress! + start
            if n >= 8 {
                var i = 0
                while true {
                    let at = min(i, n - 8)
                    if a.loadUnaligned(fromByteOffset: at, as: UInt64.self) != b.loadUnaligned(fromByteOffset: at, as: UInt64.self) {
                        return false
                    }
                    if at == n - 8 { return true }
                    i += 8
                }
            }
            if n >= 4 {
                return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                    && a.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
            }
            for i in 0..<n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
                return false
            }
            return true
        }
    }

    /// Doubles the table, keeping it at most half full.
    private mutating func rehash() {
        var table = [Int32](repeating: 0, count: buckets.count * 2)
        let mask = table.count - 1
        for k in keys.indices {
            var b = Int(truncatingIfNeeded: keys[k].hash) & mask
            while table[b] != 0 { b = (b + 1) & mask }
            table[b] = Int32(k + 1)
        }
        buckets = table
    }

    /// FNV-1a, then a final mix so that the low bits (the bucket) depend on every byte.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        h ^= h >> 29
        return h
    }
}
