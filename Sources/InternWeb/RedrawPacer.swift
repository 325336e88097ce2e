import InternCore

/// When a costly part of the campaign page (the analysis: the report's charts, failure clusters,
/// goal and hours spent; the trials table and the workers) is worth drawing again while the
/// campaign changes: at once after a quiet spell, then at most once per window, the window four
/// times as long as the last drawing took (at least half a second): a small campaign's page
/// follows it within a second, a 10,000-trial one's charts (most of a second to draw) every few
/// seconds, each part at a quarter of a core at most however many pages watch. Its ``version``
/// rides on every progress event; a page fetches the part again when the version changed. The
/// campaign's last state is always drawn. Pure: the time is passed in.
public struct RedrawPacer<Fingerprint: Equatable & Sendable>: Sendable {
    /// The shortest window between two drawings, milliseconds.
    public static var minimumWindowMillis: Int64 { 1_000 }

    /// Bumped each time the part should be drawn again.
    public private(set) var version = 0
    private var drawnFor: Fingerprint?
    private var bumpedAt: Timestamp = .min

    public init() {}

    /// The window after a drawing that took `buildMillis`.
    public static func windowMillis(buildMillis: Int64) -> Int64 { max(minimumWindowMillis, 4 * buildMillis) }

    /// The campaign stands at `fingerprint` at `now` (`final`: it will not change again); the
    /// last drawing took `buildMillis`. Returns the version pages should show.
    public mutating func poll(_ fingerprint: Fingerprint, final: Bool, now: Timestamp, buildMillis: Int64) -> Int {
        guard let drawn = drawnFor else {
            // The first look: what a page loaded now shows.
            drawnFor = fingerprint
            bumpedAt = now
            return version
        }
        guard drawn != fingerprint else { return version }
        if final || now - bumpedAt >= Self.windowMillis(buildMillis: buildMillis) {
            version += 1
            drawnFor = fingerprint
            bumpedAt = now
        }
        return version
    }
}
