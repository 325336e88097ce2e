import Hummingbird
import InternReport

/// A request the dashboard cannot answer: an unknown campaign or trial (404), a malformed id or
/// query (400), a control request without the right token (401/403). Answered as a small HTML
/// page that says what was wrong; nothing on the server changes.
public struct WebError: HTTPResponseError, CustomStringConvertible, Equatable {
    /// The HTTP status the error is answered with: its code.
    public var status: HTTPResponse.Status
    /// What was wrong, for a person (shown escaped).
    public var message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.code) \(message)" }

    /// 404: `what` does not exist.
    public static func notFound(_ what: String) -> WebError { WebError(.notFound, what) }
    /// 400: the request itself is malformed.
    public static func badRequest(_ what: String) -> WebError { WebError(.badRequest, what) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let page = Pages.layout(title: "\(status.code) \(status.reasonPhrase)", body: "<h1>\(status.code) \(HTMLText.escape(status.reasonPhrase))</h1><p>\(HTMLText.escape(message))</p><p><a href=\"/\">all campaigns</a></p>")
        return Response.html(page, status: status)
    }
}

extension Response {
    /// What a page may load: only from this server (the script), styles inline, images inline
    /// (SVG), nothing else: a defence in depth behind the escaping of what campaigns write.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    /// An HTML page (UTF-8), never cached: the pages show a campaign as it is now.
    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: htmlHeaders, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Every page's headers: HTML, never cached, the Content-Security-Policy, no sniffing.
    static var htmlHeaders: HTTPFields {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        return headers
    }
}
