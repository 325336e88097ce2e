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
/// line by line.
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
        streams: Set<LogStream> = [.stdout, .stderr], select: ((TrialRecord) -> Bool)? = nil
    ) throws -> Result {
        let started = DispatchTime.now()
        let trials = Dictionary(uniqueKeysWithValues: try store.trials().map { ($0.id, $0) })
        let numbers = Dictionary(uniqueKeysWithValues: try store.attempts().map { ($0.id, $0.number) })
        let logs = try store.allStoredLogs().filter { entry in
            entry.log.length > 0 && streams.contains(entry.stream) && (select == nil || trials[entry.trial].map { select!($0) } == true)
        }
        _ = try compiled()
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
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            // One compiled expression per thread (a Regex is not shared across threads).
            let regex = try? compiled()
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
                    let found = search(bytes, regex: regex, keep: keep)
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
    func compiled() throws -> Regex<AnyRegexOutput>? {
        guard case .regex(let text, let ignoreCase) = pattern else { return nil }
        do {
            return ignoreCase ? try Regex(text).ignoresCase() : try Regex(text)
        } catch {
            throw ReportError("'\(text)' is not a regular expression: \(error)")
        }
    }

    /// The matching lines of one log: the first `keep` as (1-based line number, cleaned text), and
    /// how many lines match in all.
    func search(_ bytes: [UInt8], regex: Regex<AnyRegexOutput>?, keep: Int) -> (kept: [(Int, String)], count: Int) {
        var count = 0
        var out: [(Int, String)] = []
        if let regex {
            var line = 1, start = 0
            for index in 0...bytes.count where index == bytes.count || bytes[index] == 0x0A {
                if index > start || index < bytes.count {
                    let text = String(decoding: bytes[start..<index], as: UTF8.self)
                    if let match = text.firstMatch(of: regex) {
                        count += 1
                        if out.count < keep {
                            out.append((line, Self.clean(text, around: text.distance(from: text.startIndex, to: match.range.lowerBound))))
                        }
                    }
                }
                line += 1
                start = index + 1
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
                            let text = String(decoding: bytes[start..<end], as: UTF8.self)
                            out.append((line, Self.clean(text, around: String(decoding: bytes[start..<position], as: UTF8.self).count)))
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
