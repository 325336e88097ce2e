import CZstd

/// An error reported by libzstd or by this wrapper.
///
/// Every failing libzstd call surfaces as exactly one `ZstdError`; callers
/// branch on `code` and show `message` to humans.
public struct ZstdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A coarse classification of what went wrong, stable across libzstd versions.
    ///
    /// Several libzstd error codes map onto one `Code`; the exact one is kept
    /// in `ZstdError.zstdErrorCode`.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The wrapper's own identifier for this category (not a libzstd code).
        public let rawValue: Int

        /// Creates a code from its raw identifier.
        public init(rawValue: Int) {
            self.rawValue = rawValue
        }

        /// The input is not valid zstd data (bad magic, corrupt block, wrong checksum, ...).
        public static let corruptData = Code(rawValue: 1)
        /// The frame needs a larger window than the decompressor's `windowLogMax` allows.
        public static let windowTooLarge = Code(rawValue: 2)
        /// libzstd could not allocate memory.
        public static let memoryAllocation = Code(rawValue: 3)
        /// The input ended in the middle of a frame.
        public static let truncatedInput = Code(rawValue: 4)
        /// A compression or decompression parameter was rejected.
        public static let invalidParameter = Code(rawValue: 5)
        /// Any other libzstd failure; see `ZstdError.message`.
        public static let other = Code(rawValue: 0)

        /// A short human-readable name for the category.
        public var description: String {
            switch self {
            case .corruptData: "corruptData"
            case .windowTooLarge: "windowTooLarge"
            case .memoryAllocation: "memoryAllocation"
            case .truncatedInput: "truncatedInput"
            case .invalidParameter: "invalidParameter"
            case .other: "other"
            default: "code(\(rawValue))"
            }
        }
    }

    /// The category callers should branch on.
    public let code: Code
    /// A human-readable explanation (libzstd's `ZSTD_getErrorName` for library errors).
    public let message: String
    /// The raw `ZSTD_ErrorCode` value, or 0 when the error was detected by this wrapper.
    public let zstdErrorCode: Int

    /// Creates an error; mostly useful for tests and for wrapper-detected conditions.
    public init(code: Code, message: String, zstdErrorCode: Int = 0) {
        self.code = code
        self.message = message
        self.zstdErrorCode = zstdErrorCode
    }

    /// A one-line summary such as `zstd windowTooLarge: Frame requires too much memory for decoding`.
    public var description: String {
        "zstd \(code): \(message)"
    }

    /// The error thrown when input ends while a frame is still incomplete.
    static let truncatedInput = ZstdError(
        code: .truncatedInput, message: "input ended in the middle of a zstd frame")

    /// Builds the error for a libzstd result that `ZSTD_isError` flagged.
    init(zstdResult result: Int) {
        let raw = ZSTD_getErrorCode(result)
        let code: Code
        switch raw {
        case ZSTD_error_frameParameter_windowTooLarge:
            code = .windowTooLarge
        case ZSTD_error_memory_allocation:
            code = .memoryAllocation
        case ZSTD_error_prefix_unknown, ZSTD_error_version_unsupported,
            ZSTD_error_frameParameter_unsupported, ZSTD_error_corruption_detected,
            ZSTD_error_checksum_wrong, ZSTD_error_literals_headerWrong,
            ZSTD_error_dictionary_corrupted, ZSTD_error_srcSize_wrong:
            code = .corruptData
        case ZSTD_error_parameter_unsupported, ZSTD_error_parameter_combination_unsupported,
            ZSTD_error_parameter_outOfBound:
            code = .invalidParameter
        default:
            code = .other
        }
        self.init(
            code: code,
            message: String(cString: ZSTD_getErrorName(result)),
            zstdErrorCode: Int(raw.rawValue))
    }
}

/// Converts a libzstd `size_t` result into either its value or a thrown `ZstdError`.
///
/// This is the single place where C return codes are interpreted, so no other
/// code needs to call `ZSTD_isError`.
@inline(__always)
func check(_ result: Int) throws -> Int {
    if ZSTD_isError(result) != 0 {
        throw ZstdError(zstdResult: result)
    }
    return result
}
