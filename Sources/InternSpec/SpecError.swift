/// A campaign spec that cannot be used, located in its file: what is wrong, where, and what would be valid.
///
/// Its description reads like a compiler diagnostic:
/// `campaign.yaml:3:1: trails: unknown key 'trails'; did you mean 'trials'? (valid keys: name, command, ...)`.
public struct SpecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's name, e.g. `unknownKey`.
        public let rawValue: String

        /// Creates a code from its name.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        /// The text is not valid YAML, is empty, holds several documents, or repeats a key in a mapping.
        public static let syntax = Code(rawValue: "syntax")
        /// A key that the spec does not define at that place (often a typo; see ``SpecError/suggestion``).
        public static let unknownKey = Code(rawValue: "unknownKey")
        /// A required key is absent.
        public static let missingKey = Code(rawValue: "missingKey")
        /// A value of the right kind but not allowed (out of range, unknown name, unknown placeholder, ...).
        public static let invalidValue = Code(rawValue: "invalidValue")
        /// A value of the wrong kind (a list where a number belongs, a string where a mapping belongs, ...).
        public static let typeMismatch = Code(rawValue: "typeMismatch")
        /// The spec file could not be read (``CampaignSpecParser/load(path:)`` only); line and column are 0.
        public static let io = Code(rawValue: "io")

        /// The code's name.
        public var description: String { rawValue }
    }

    /// The kind of problem.
    public var code: Code
    /// The spec file, as given to the parser.
    public var file: String
    /// The 1-based line of the offending node (0 when there is no position, for ``Code/io``).
    public var line: Int
    /// The 1-based column of the offending node (0 when there is no position).
    public var column: Int
    /// The dotted path of the offending key or value (`space.learning_rate.low`, `command[3]`); empty for
    /// errors about the whole document.
    public var keyPath: String
    /// What is wrong and what would be valid, including any "did you mean" suggestion.
    public var message: String
    /// The name that was probably meant, when one is close (also part of ``message``).
    public var suggestion: String?

    /// Creates an error.
    public init(code: Code, file: String, line: Int, column: Int, keyPath: String, message: String, suggestion: String? = nil) {
        self.code = code
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
        self.suggestion = suggestion
    }

    /// `file:line:column: keyPath: message`.
    public var description: String {
        var text = line > 0 ? "\(file):\(line):\(column): " : "\(file): "
        if !keyPath.isEmpty { text += "\(keyPath): " }
        return text + message
    }
}
