import Foundation
import Hummingbird
import InternCore
import InternStore
import NIOPosix
import ServiceLifecycle
import Zstd

/// The live feeds, as Server-Sent Events: the store is read every ``LiveFeed/pollInterval`` (a
/// campaign's progress once for all its feeds: ``SharedProgress``) and what changed is pushed,
/// so a page shows a change within a second, without a reload; a feed ends when what it watches
/// can no longer change, when the reader goes (a write fails), or when the server shuts down
/// (gracefully: at the next poll, after the state as it is then).
extension Dashboard {
    static let eventStreamHeaders: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"]

    /// `/c/NAME/events`: a `progress` event (``CampaignProgress`` as JSON, with the events after
    /// `after`) now and at every change; `end` (with the state) once the campaign is over or the
    /// server stops.
    func progressStream(_ entry: StoreShelf.Entry, after: Int64?) -> Response {
        Response(status: .ok, headers: Self.eventStreamHeaders, body: ResponseBody { writer in
            var feed = LiveFeed<SharedProgress.Mark>(now: self.now())
            var after = after
            // A browser reconnects on its own after an error; three seconds is plenty.
            try await writer.write(ByteBuffer(string: "retry: 3000\n\n"))
            polling: while true {
                // The server stopping ends the feed too, after the state as it is then (the
                // campaign's last, when the dashboard shares its process and stops after it).
                let stopping = Task.isShuttingDownGracefully
                let now = self.now()
                let snapshot = try await entry.progress.snapshot(now: now, fresh: stopping)
                let action = feed.poll(snapshot.mark, final: stopping || snapshot.progress.final, now: now)
                switch action {
                case .send, .sendAndEnd:
                    let event = await entry.progress.event(snapshot, after: after)
                    if after != nil { after = event.lastEventID }
                    try await writer.write(ByteBuffer(string: event.text))
                    if action == .sendAndEnd {
                        try await writer.write(ByteBuffer(string: ServerSentEvent(event: "end", data: snapshot.progress.state).text))
                        break polling
                    }
                case .keepAlive:
                    try await writer.write(ByteBuffer(string: ServerSentEvent.keepAlive))
                case .wait:
                    break
                }
                try await Task.sleep(for: LiveFeed<SharedProgress.Mark>.pollInterval)
            }
            try await writer.finish(nil)
        })
    }

    /// `…/STREAM/follow?from=N`: `log` events with the output stored after compressed offset `N`
    /// (where the page's copy ended), decoded; `end` once the attempt has ended and its output is
    /// all sent.
    func logStream(_ store: CampaignStore, trial: TrialID, attempt: AttemptID, stream: StoredStream, from: UInt64) -> Response {
        Response(status: .ok, headers: Self.eventStreamHeaders, body: ResponseBody { writer in
            var feed = LiveFeed<UInt64>(now: self.now())
            let decoder = try LogDecoder()
            polling: while true {
                let stopping = Task.isShuttingDownGracefully
                let (log, ended) = try await self.blocking {
                    let ended = try store.attempts(trial: trial).first { $0.id == attempt }?.status.isTerminal ?? true
                    return (try store.storedLog(trial: trial, attempt: attempt, stream: stream), ended)
                }
                let action = feed.poll(log.length, final: stopping || ended, now: self.now())
                switch action {
                case .send, .sendAndEnd:
                    let bytes = try await self.blocking {
                        // What the page has already: decoded (the stream's state needs it), not sent.
                        if decoder.consumed == 0, from > 0 {
                            var shown = log
                            shown.length = min(from, log.length)
                            _ = try decoder.advance(store, log: shown)
                        }
                        return try decoder.advance(store, log: log)
                    }
                    if !bytes.isEmpty {
                        let text = String(decoding: bytes, as: UTF8.self)
                        try await writer.write(ByteBuffer(string: ServerSentEvent(event: "log", id: "\(decoder.consumed)", data: text).text))
                    }
                    if action == .sendAndEnd {
                        try await writer.write(ByteBuffer(string: ServerSentEvent(event: "end", data: "ended").text))
                        break polling
                    }
                case .keepAlive:
                    try await writer.write(ByteBuffer(string: ServerSentEvent.keepAlive))
                case .wait:
                    break
                }
                try await Task.sleep(for: LiveFeed<UInt64>.pollInterval)
            }
            try await writer.finish(nil)
        })
    }
}

/// One attempt's stream decoded as it grows: a worker compresses a stream as one zstd frame
/// flushed block by block, so the bytes after a flush only decode with the state of what came
/// before; the decompressor is carried from one poll to the next.
///
/// `@unchecked Sendable`: one follow owns it and calls it from one task, each call awaited before
/// the next, so its mutable state is never touched by two threads at once.
final class LogDecoder: @unchecked Sendable {
    private let decompressor: ZstdDecompressor
    /// Compressed bytes decoded so far.
    private(set) var consumed: UInt64 = 0

    init() throws {
        decompressor = try ZstdDecompressor()
    }

    /// The output stored after what was decoded before, up to `log`'s committed length.
    func advance(_ store: CampaignStore, log: StoredLog) throws -> [UInt8] {
        guard log.length > consumed else { return [] }
        let (bytes, _) = try store.readAvailable(log, from: consumed, to: log.length)
        var out: [UInt8] = []
        try decompressor.decompress(bytes, into: &out)
        consumed += UInt64(bytes.count)
        return out
    }
}
