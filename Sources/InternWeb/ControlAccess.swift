/// Who may steer a campaign from the dashboard: whoever shows the token the server was started
/// with (`intern serve --token-file`, or the campaign's own under `--http`), as
/// `Authorization: Bearer TOKEN` on a POST. A header, never a cookie: a browser sends no header
/// by itself, so another site cannot make it steer (no CSRF). Without a token, control is off.
/// A token may steer every campaign the dashboard shows, or only one (``only``). Pure.
public struct ControlAccess: Sendable, Equatable {
    /// What a request's `Authorization` header amounts to.
    public enum Verdict: Sendable, Equatable {
        case allowed
        /// The server has no token: nobody may steer from the dashboard (403).
        case off
        /// No bearer token in the request (401).
        case missing
        /// A token that is not the server's (403).
        case wrong
    }

    private let token: [UInt8]?
    /// The one campaign the token steers (nil: every campaign under the root).
    public let only: String?

    /// `token` nil or empty: control off. `only`: the token steers that campaign alone (the
    /// campaign whose credentials it comes from).
    public init(token: String?, only campaign: String? = nil) {
        self.token = token.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        only = campaign
    }

    /// Whether control is on at all.
    public var isOn: Bool { token != nil }

    /// Whether the token steers campaign `name`.
    public func steers(_ name: String) -> Bool { isOn && (only == nil || only == name) }

    /// The verdict on `authorization` (the header's value, if any), compared in constant time.
    public func check(authorization: String?) -> Verdict {
        guard let token else { return .off }
        guard let header = authorization, header.hasPrefix("Bearer ") else { return .missing }
        let given = Array(header.dropFirst("Bearer ".count).utf8)
        var difference = UInt8(given.count == token.count ? 0 : 1)
        for index in token.indices { difference |= token[index] ^ (index < given.count ? given[index] : 0) }
        return difference == 0 ? .allowed : .wrong
    }

    /// The error a refused verdict is answered with.
    public static func refusal(_ verdict: Verdict) -> WebError? {
        switch verdict {
        case .allowed: nil
        case .off: WebError(.forbidden, "control is off: this dashboard was started without --token-file (use intern pause, resume, cancel, add)")
        case .missing: WebError(.unauthorized, "steering needs the dashboard's token: send Authorization: Bearer TOKEN")
        case .wrong: WebError(.forbidden, "that is not this dashboard's token")
        }
    }

    /// The error a request to steer campaign `name`, which the token does not steer, is answered with.
    public func outOfReach(_ name: String) -> WebError? {
        guard !steers(name), let only else { return nil }
        return WebError(.forbidden, "this dashboard's token steers campaign '\(only)' only (its coordinator's credentials); use intern pause, resume, cancel, add for the others")
    }
}
