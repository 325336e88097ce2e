/// The error thrown when bytes cannot be decoded into a ``Message``.
///
/// Decoding never traps on hostile input; every failure is reported as a
/// `ProtocolError` whose ``code`` classifies the failure and whose
/// ``message`` names the field being decoded, for example
/// `"truncated while reading Assignment.argv[2]"`.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of a decoding failure.
    ///
    /// An open set of well-known values; compare against the static members.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The stable textual name of the code (for logs and metrics labels).
        public let rawValue: String

        /// Creates a code from its textual name.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// The input ended before the field being read was complete.
        public static let truncated = Code(rawValue: "truncated")
        /// The first two bytes are not the magic `0x49 0x4E` ("IN").
        public static let badMagic = Code(rawValue: "badMagic")
        /// The header names a protocol major version this side does not speak.
        public static let unsupportedVersion = Code(rawValue: "unsupportedVersion")
        /// The header names a message kind this side does not know.
        public static let unknownKind = Code(rawValue: "unknownKind")
        /// A field holds a value the encoding forbids (bad bool byte, invalid
        /// UTF-8, overlong varint, out-of-range enumeration value, ...).
        public static let malformed = Code(rawValue: "malformed")
        /// The message is larger than the decoder's configured maximum.
        public static let tooLarge = Code(rawValue: "tooLarge")

        /// The textual name of the code.
        public var description: String { rawValue }
    }

    /// The class of failure.
    public var code: Code
    /// A human-readable description naming the field being decoded.
    public var message: String
    /// The dotted path of the field being decoded when the failure happened
    /// (for example `"Report.frames[3].data"`), or `nil` for header failures.
    public var field: String?
    /// For ``Code/unsupportedVersion``: the major version found in the header.
    public var receivedVersion: UInt8?

    /// Creates an error.
    public init(code: Code, message: String, field: String? = nil, receivedVersion: UInt8? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.receivedVersion = receivedVersion
    }

    /// `"<code>: <message>"`.
    public var description: String { "\(code): \(message)" }

    /// The ``RejectCode`` a receiver should put in a ``Rejected`` reply to
    /// input that failed with this error: ``RejectCode/unsupportedVersion``
    /// for version mismatches, ``RejectCode/malformed`` for everything else.
    public var rejectCode: RejectCode {
        code == .unsupportedVersion ? .unsupportedVersion : .malformed
    }
}

extension ProtocolError {
    static func truncated(_ field: String) -> ProtocolError {
        ProtocolError(code: .truncated, message: "truncated while reading \(field)", field: field)
    }

    static func malformed(_ field: String, _ why: String) -> ProtocolError {
        ProtocolError(code: .malformed, message: "malformed \(field): \(why)", field: field)
    }
}
