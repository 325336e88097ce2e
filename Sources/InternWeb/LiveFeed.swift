import InternCore

/// One Server-Sent Event as it goes on the wire: `event:`, `id:` and one `data:` line per line
/// of `data` (a line break inside the data cannot end the event early; CR and CRLF, line breaks
/// to a reader, arrive as LF), then a blank line.
public struct ServerSentEvent: Sendable, Equatable {
    public var event: String?
    public var id: String?
    public var data: String

    public init(event: String? = nil, id: String? = nil, data: String) {
        self.event = event
        self.id = id
        self.data = data
    }

    /// The event's bytes as text.
    public var text: String {
        var out = ""
        if let event { out += "event: \(Self.oneLine(event))\n" }
        if let id { out += "id: \(Self.oneLine(id))\n" }
        let lines = data.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for line in lines.split(separator: "\n", omittingEmptySubsequences: false) {
            out += "data: \(line)\n"
        }
        return out + "\n"
    }

    /// A comment line: keeps the connection (and the proxies on its way) from timing out, and
    /// finds a reader that has gone.
    public static let keepAlive = ": keep-alive\n\n"

    private static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
    }
}

/// What a live feed (a campaign's progress, a log being followed) does at each poll of the
/// store: send what changed, send a keep-alive after a quiet spell, end once the thing watched
/// can no longer change, or nothing. Pure: the time is passed in, the store read by the caller.
public struct LiveFeed<Fingerprint: Equatable & Sendable>: Sendable {
    /// What to do after a poll.
    public enum Action: Equatable, Sendable {
        /// Send the new state.
        case send
        /// Send the new state, then end the stream (the campaign finished: nothing will change).
        case sendAndEnd
        /// Send a keep-alive comment.
        case keepAlive
        /// Nothing to send.
        case wait
    }

    /// How often the store is read: a change reaches the page within this (and the page's own
    /// render), well inside a second.
    public static var pollInterval: Duration { .milliseconds(250) }
    /// After how long without a change a keep-alive is sent.
    public static var keepAliveMillis: Int64 { 15_000 }

    private var sent: Fingerprint?
    private var lastWrite: Timestamp

    /// A feed that has sent nothing yet, started at `now`.
    public init(now: Timestamp) {
        lastWrite = now
    }

    /// The poll at `now` found `fingerprint`; `final` says the watched thing cannot change again.
    public mutating func poll(_ fingerprint: Fingerprint, final: Bool, now: Timestamp) -> Action {
        if fingerprint != sent || final {
            sent = fingerprint
            lastWrite = now
            return final ? .sendAndEnd : .send
        }
        if now - lastWrite >= Self.keepAliveMillis {
            lastWrite = now
            return .keepAlive
        }
        return .wait
    }
}
