/// A lab that cannot be used, or a lab request that cannot be answered: a code scripts can test,
/// a message that says what to do, and the cause.
public struct LabError: Error, Sendable, CustomStringConvertible {
    /// What went wrong; new codes may be added.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The lab's database cannot be opened or written.
        public static let database = Code(rawValue: "database")
        /// The notes file cannot be read or written, or holds a line that is not a note.
        public static let notes = Code(rawValue: "notes")
        /// A note's subject names nothing the lab knows (no such signature, trial or campaign).
        public static let unknownSubject = Code(rawValue: "unknown-subject")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?

    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
