/// An audit sample of a data campaign: the records its filters dropped or kept, a bounded,
/// seeded, stratified sample of them per reason, so a person can check a filter in minutes.
///
/// Jobs print `{"intern_sample": {"reason": "toxicity", "record": {...}}}` lines (see
/// ``SampleLine``); each reason keeps its own reservoir (Vitter's algorithm R) of at most
/// ``perReason`` records, drawn with a generator seeded from ``seed`` and the reason, so the
/// same records offered in the same order give the same sample, whatever other reasons came in
/// between. A record longer than ``maxRecordBytes`` is cut (and marked so); at most
/// ``maxReasons`` reasons are kept (the others are counted only). Pure: tested without IO.
public struct SampleReservoir: Sendable, Equatable {
    /// One kept record.
    public struct Sample: Sendable, Equatable, Codable {
        /// Where it came from: its trial and item (a shard).
        public var trial: TrialID
        public var item: String
        /// The record's JSON as the job printed it (cut at ``SampleReservoir/maxRecordBytes``).
        public var record: String
        /// Whether the record was cut.
        public var truncated: Bool

        public init(trial: TrialID, item: String, record: String, truncated: Bool = false) {
            self.trial = trial
            self.item = item
            self.record = record
            self.truncated = truncated
        }
    }

    /// One reason's reservoir.
    public struct Stratum: Sendable, Equatable {
        /// How many records of this reason were offered.
        public fileprivate(set) var seen = 0
        /// The kept records, in reservoir slot order.
        public fileprivate(set) var samples: [Sample] = []
        fileprivate var generator: SplitMix64Box
    }

    /// The seed; the records each reason keeps; the longest record kept whole; the most reasons.
    public let seed: UInt64
    public let perReason: Int
    public let maxRecordBytes: Int
    public let maxReasons: Int
    /// By reason, its reservoir.
    public private(set) var strata: [String: Stratum] = [:]
    /// Records offered for reasons beyond ``maxReasons`` (not kept).
    public private(set) var overflow = 0

    public init(seed: UInt64 = 0, perReason: Int = 20, maxRecordBytes: Int = 2048, maxReasons: Int = 64) {
        self.seed = seed
        self.perReason = max(0, perReason)
        self.maxRecordBytes = max(16, maxRecordBytes)
        self.maxReasons = max(1, maxReasons)
    }

    /// Offers one record of `reason`: kept while the reason has room, else in place of a kept
    /// one with probability `perReason / seen`.
    public mutating func offer(reason: String, record: String, trial: TrialID, item: String) {
        if strata[reason] == nil {
            guard strata.count < maxReasons else {
                overflow += 1
                return
            }
            strata[reason] = Stratum(generator: SplitMix64Box(seed: Self.seed(seed, reason: reason)))
        }
        var stratum = strata[reason]!
        strata[reason] = nil  // mutate in place, uniquely referenced
        stratum.seen += 1
        if stratum.samples.count < perReason {
            stratum.samples.append(cut(record, trial: trial, item: item))
        } else {
            let slot = Int(stratum.generator.next() % UInt64(stratum.seen))
            if slot < perReason { stratum.samples[slot] = cut(record, trial: trial, item: item) }
        }
        strata[reason] = stratum
    }

    /// The reasons, most records seen first (ties by name).
    public var reasons: [String] {
        strata.sorted { $0.value.seen != $1.value.seen ? $0.value.seen > $1.value.seen : $0.key < $1.key }.map(\.key)
    }

    private func cut(_ record: String, trial: TrialID, item: String) -> Sample {
        guard record.utf8.count > maxRecordBytes else { return Sample(trial: trial, item: item, record: record) }
        // Cut at a character boundary at or before the limit.
        var end = record.utf8.index(record.utf8.startIndex, offsetBy: maxRecordBytes)
        while end > record.startIndex, !record.unicodeScalars.indices.contains(end) { end = record.utf8.index(before: end) }
        return Sample(trial: trial, item: item, record: String(record[..<end]), truncated: true)
    }

    /// A reason's generator seed: the reservoir's seed mixed with the reason's bytes (FNV-1a),
    /// so each reason draws the same whatever other reasons came in between.
    static func seed(_ seed: UInt64, reason: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in reason.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return seed ^ hash
    }
}

/// ``SplitMix64`` with the equality a reservoir's comparison needs (same seed and draws).
struct SplitMix64Box: Sendable, Equatable {
    private var generator: SplitMix64
    private let seed: UInt64
    private var draws = 0

    init(seed: UInt64) {
        self.seed = seed
        generator = SplitMix64(seed: seed)
    }

    mutating func next() -> UInt64 {
        draws += 1
        return generator.next()
    }

    static func == (a: SplitMix64Box, b: SplitMix64Box) -> Bool { a.seed == b.seed && a.draws == b.draws }
}

/// An audit sample line a job prints: exactly a JSON object with the one key `intern_sample`,
/// whose value is an object with `reason` (a string, 1 to 200 bytes) and `record` (any JSON
/// value): `{"intern_sample": {"reason": "toxicity", "record": {"text": "..."}}}`.
public enum SampleLine {
    private static let key = Array("\"intern_sample\"".utf8)

    /// The reason and the record's JSON text, or `nil` when `line` is not a sample line. Cheap
    /// for any other line: it must start with `{"intern_sample"`.
    public static func parse(_ line: String) -> (reason: String, record: String)? {
        let bytes = Array(line.utf8)
        var i = 0
        func skipSpace() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 } }
        func take(_ byte: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }
        skipSpace()
        guard take(UInt8(ascii: "{")) else { return nil }
        skipSpace()
        guard bytes.count - i >= key.count, Array(bytes[i..<(i + key.count)]) == key else { return nil }
        i += key.count
        skipSpace()
        guard take(UInt8(ascii: ":")) else { return nil }
        skipSpace()
        guard take(UInt8(ascii: "{")) else { return nil }
        var reason: String?
        var record: String?
        while true {
            skipSpace()
            guard let nameEnd = JSONExtent.end(of: bytes, at: i), bytes[i] == UInt8(ascii: "\"") else { return nil }
            let name = String(decoding: bytes[(i + 1)..<(nameEnd - 1)], as: UTF8.self)
            i = nameEnd
            skipSpace()
            guard take(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            guard let valueEnd = JSONExtent.end(of: bytes, at: i) else { return nil }
            switch name {
            case "reason":
                guard bytes[i] == UInt8(ascii: "\""), valueEnd - i - 2 >= 1, valueEnd - i - 2 <= 200 else { return nil }
                let raw = bytes[(i + 1)..<(valueEnd - 1)]
                guard !raw.contains(UInt8(ascii: "\\")) else { return nil }
                reason = String(decoding: raw, as: UTF8.self)
            case "record":
                record = String(decoding: bytes[i..<valueEnd], as: UTF8.self)
            default:
                break
            }
            i = valueEnd
            skipSpace()
            if take(UInt8(ascii: ",")) { continue }
            guard take(UInt8(ascii: "}")) else { return nil }
            break
        }
        skipSpace()
        guard take(UInt8(ascii: "}")) else { return nil }
        skipSpace()
        guard i == bytes.count, let reason, let record else { return nil }
        return (reason, record)
    }
}

/// Where a JSON value ends, without building it: iterative, bounds-checked, linear.
enum JSONExtent {
    /// The index just past the value starting at `start` (after no whitespace), or `nil` when
    /// it is not well formed enough to find its end (brackets matched, strings closed).
    static func end(of bytes: [UInt8], at start: Int) -> Int? {
        var i = start
        var depth = 0
        repeat {
            guard i < bytes.count else { return nil }
            switch bytes[i] {
            case UInt8(ascii: "\""):
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                    if i < bytes.count, bytes[i] < 0x20 { return nil }
                    i += 1
                }
                guard i < bytes.count else { return nil }
                i += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0 else { return nil }
                depth -= 1
                i += 1
            default:
                // A scalar (number, true, false, null) or punctuation inside a container.
                if depth == 0 {
                    let scalarStart = i
                    while i < bytes.count, !Self.ends(bytes[i]) { i += 1 }
                    return i > scalarStart ? i : nil
                }
                i += 1
            }
        } while depth > 0
        return i
    }

    private static func ends(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || byte == 0x20 || byte == 0x09
            || byte == 0x0D || byte == 0x0A
    }
}
