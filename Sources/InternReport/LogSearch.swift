import Dispatch
import Foundation
import Glibc
import InternCore
import InternStore
import Synchronization
import Zstd

/// `intern grep`: every stored log of a campaign searched for a pattern, logs in parallel, each
/// decompressed from the zstd frames as stored. A fixed string is found with `memchr` and `memcmp`
/// over the whole log (ASCII case folded first with `ignoreCase`); a regular expression is tried
/// line by line, in time linear in each line (``LineRegex``). A match is shown as a window of its
/// line around it, so a line of megabytes costs its bytes, not a copy of it per character.
public struct LogSearch: Sendable {
    public enum Pattern: Sendable {
        case fixed(String, ignoreCase: Bool)
        case regex(String, ignoreCase: Bool)
    }

    public struct Match: Sendable, Equatable {
        public var trial: Int
        public var attempt: UInt64
        /// The attempt's number within its trial (1 for the first run).
        public var number: Int
        public var stream: String
        /// 1-based.
        public var line: Int
        /// The line, control characters as spaces, cut around the match to at most 300 characters.
        public var text: String
    }

    public struct Result: Sendable {
        public var matches: [Match]
        /// Matches found beyond `limit` (counted, not kept).
        public var more: Int
        public var logs: Int
        public var bytes: UInt64
        public var seconds: Double
        /// Logs that could not be read (path: why); the search went on without them.
        public var unreadable: [String]
    }

    public let pattern: Pattern
    public init(pattern: Pattern) { self.pattern = pattern }

    /// Searches the `streams` logs of the attempts `select` keeps (all when `nil`), at most
    /// `threads` at once. Matches are kept in (trial, attempt, stream, line) order up to `limit`;
    /// once the logs before one hold `limit` matches, that log's matches are only counted.
    public func run(
        store: CampaignStore, limit: Int = 1_000, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        streams: Set<StoredStream> = [.stdout, .stderr], select: ((TrialRecord) -> Bool)? = nil
    ) throws -> Result {
        let started = DispatchTime.now()
        let trials = Dictionary(uniqueKeysWithValues: try store.trials().map { ($0.id, $0) })
        let numbers = Dictionary(uniqueKeysWithValues: try store.attempts().map { ($0.id, $0.number) })
        let logs = try store.allStoredLogs().filter { entry in
            entry.log.length > 0 && streams.contains(entry.stream) && (select == nil || trials[entry.trial].map { select!($0) } == true)
        }
        struct Progress {
            var done: [Int: (matches: [Match], count: Int, bytes: UInt64)] = [:]
            /// Logs 0..<prefix are done; `kept` matches among them.
            var prefix = 0
            var kept = 0
            var unreadable: [String] = []
        }
        let progress = Mutex(Progress())
        let next = Atomic<Int>(0)
        let workers = max(1, min(threads, logs.count))
        let regex = try compiled()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            // One matcher's scratch space per thread, reused log after log.
            let scratch = LineRegex.Scratch()
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < logs.count else { return }
                let entry = logs[index]
                // Only counted when every earlier log is done and they already hold `limit` matches.
                let keep = progress.withLock { $0.prefix >= index && $0.kept >= limit } ? 0 : limit
                var matches: [Match] = [], count = 0, size: UInt64 = 0
                do {
                    // Streaming: the log of a running attempt ends in an open (flushed) frame.
                    var bytes: [UInt8] = []
                    try ZstdDecompressor().decompress(try store.readCompressed(entry.log, from: 0, to: entry.log.length), into: &bytes)
                    let found = search(bytes, regex: regex, scratch: scratch, keep: keep)
                    count = found.count
                    size = UInt64(bytes.count)
                    matches = found.kept.map { line, text in
                        Match(trial: entry.trial, attempt: entry.attempt, number: numbers[entry.attempt] ?? 0,
                              stream: entry.stream.description, line: line, text: text)
                    }
                } catch {
                    progress.withLock { $0.unreadable.append("\(entry.log.path): \(error)") }
                }
                progress.withLock { state in
                    state.done[index] = (matches, count, size)
                    while let done = state.done[state.prefix] {
                        state.kept += done.matches.count
                        state.prefix += 1
                    }
                }
            }
        }
        let state = progress.withLock { $0 }
        let ordered = (0..<logs.count).compactMap { state.done[$0] }
        let all = ordered.flatMap(\.matches)
        let total = ordered.reduce(0) { $0 + $1.count }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return Result(matches: Array(all.prefix(limit)), more: max(0, total - min(limit, all.count)), logs: logs.count,
                      bytes: ordered.reduce(0) { $0 + $1.bytes }, seconds: seconds, unreadable: state.unreadable.sorted())
    }

    /// The regular expression, or `nil` for a fixed string.
    func compiled() throws -> LineRegex? {
        guard case .regex(let text, let ignoreCase) = pattern else { return nil }
        do {
            return try LineRegex(text, ignoreCase: ignoreCase)
        } catch {
            throw ReportError("'\(text)' is not a regular expression intern grep takes: \(error)")
        }
    }

    /// The matching lines of one log: the first `keep` as (1-based line number, cleaned text), and
    /// how many lines match in all.
    func search(_ bytes: [UInt8], regex: LineRegex?, scratch: LineRegex.Scratch = .init(), keep: Int) -> (kept: [(Int, String)], count: Int) {
        var count = 0
        var out: [(Int, String)] = []
        if let regex {
            bytes.withUnsafeBytes { all in
                var line = 1, start = 0
                while start < all.count {
                    let end = memchr(all.baseAddress! + start, 0x0A, all.count - start)
                        .map { $0 - UnsafeMutableRawPointer(mutating: all.baseAddress!) } ?? all.count
                    if let at = regex.firstMatch(in: UnsafeRawBufferPointer(rebasing: all[start..<end]), using: scratch) {
                        count += 1
                        if out.count < keep { out.append((line, Self.excerpt(all, line: start..<end, at: start + at))) }
                    }
                    line += 1
                    start = end + 1
                }
            }
            return (out, count)
        }
        guard case .fixed(let text, let ignoreCase) = pattern, !text.isEmpty else { return (out, count) }
        let needle = Array((ignoreCase ? Self.lowered(text) : text).utf8)
        let haystack = ignoreCase ? bytes.map(Self.lower) : bytes
        var counted = 0, line = 1, lastLineEnd = -1
        haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                var from = 0
                while from < hay.count, let position = Self.find(pin, in: hay, from: from) {
                    // Count the newlines up to the hit, then take its whole line once.
                    while counted < position {
                        if hay[counted] == 0x0A { line += 1 }
                        counted += 1
                    }
                    var start = position
                    while start > 0, hay[start - 1] != 0x0A { start -= 1 }
                    var end = position
                    while end < hay.count, hay[end] != 0x0A { end += 1 }
                    if start > lastLineEnd {
                        count += 1
                        if out.count < keep {
                            bytes.withUnsafeBytes { out.append((line, Self.excerpt($0, line: start..<end, at: position))) }
                        }
                        lastLineEnd = end
                    }
                    from = end + 1
                }
            }
        }
        return (out, count)
    }

    /// The first index at or after `from` where `needle` starts in `hay`: `memchr` for its first
    /// byte, `memcmp` for the rest.
    static func find(_ needle: UnsafeRawBufferPointer, in hay: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let first = needle.first, needle.count <= hay.count else { return nil }
        var at = from
        while at + needle.count <= hay.count {
            guard let hit = memchr(hay.baseAddress! + at, Int32(first), hay.count - needle.count + 1 - at) else { return nil }
            let position = hit - UnsafeMutableRawPointer(mutating: hay.baseAddress!)
            if memcmp(hay.baseAddress! + position, needle.baseAddress!, needle.count) == 0 { return position }
            at = position + 1
        }
        return nil
    }

    /// The line `line` of `bytes` as shown for a match at byte `at`: ``clean(_:around:)`` of the
    /// line, or of a window of about 1 KB around the match when the line is longer (cut at
    /// character boundaries), so a huge line is never copied whole.
    static func excerpt(_ bytes: UnsafeRawBufferPointer, line: Range<Int>, at: Int) -> String {
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
        guard line.count > 1_200 else { return clean(text(line), around: text(line.lowerBound..<at).count) }
        func isContinuation(_ index: Int) -> Bool { bytes[index] & 0xC0 == 0x80 }
        var low = max(line.lowerBound, at - 400)
        while low > line.lowerBound, isContinuation(low) { low -= 1 }
        var high = min(line.upperBound, at + 800)
        while high < line.upperBound, isContinuation(high) { high += 1 }
        var shown = clean(text(low..<high), around: text(low..<at).count)
        if low > line.lowerBound, !shown.hasPrefix("…") { shown = "…" + shown }
        if high < line.upperBound, !shown.hasSuffix("…") { shown += "…" }
        return shown
    }

    /// Control characters as spaces; a line over 300 characters cut around `offset`.
    static func clean(_ line: String, around offset: Int) -> String {
        let characters = Array(line.map { $0.isASCII && ($0.asciiValue! < 0x20 || $0.asciiValue! == 0x7F) ? " " : $0 })
        guard characters.count > 300 else { return String(characters) }
        let start = max(0, min(offset - 100, characters.count - 300))
        return (start > 0 ? "…" : "") + String(characters[start..<min(characters.count, start + 300)]) + (start + 300 < characters.count ? "…" : "")
    }

    static func lower(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }
    static func lowered(_ text: String) -> String { String(decoding: text.utf8.map(lower), as: UTF8.self) }
}
