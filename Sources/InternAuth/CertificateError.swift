import CMbedTLS

/// Why the campaign's certificate authority could not make or sign a certificate.
///
/// ``code`` says which kind of failure it was (so callers can tell a bad argument from a
/// broken CA file); ``message`` says what was being done and why it failed, with mbedtls's own
/// text (`mbedtls_strerror`) when mbedtls reported the failure.
public struct CertificateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// A name or validity period the CA refuses (e.g. an empty common name, `validDays <= 0`).
        public static let invalidArgument = Code("invalidArgument")
        /// The CA credential given to ``CertificateAuthority/issue(commonName:ca:validDays:server:now:)``
        /// is unusable: its certificate or key does not parse, the certificate is not a CA, or
        /// the key is not the certificate's key.
        public static let invalidAuthority = Code("invalidAuthority")
        /// mbedtls failed while making a key or a certificate (entropy, key generation, signing).
        public static let cryptoFailure = Code("cryptoFailure")

        /// The code's name, e.g. `"invalidAuthority"`.
        public var description: String { name }
    }

    /// The kind of failure.
    public let code: Code
    /// What was being done, e.g. `"parse the CA certificate"`.
    public let operation: String
    /// Why it failed, e.g. `"X509 - The CRT/CRL/CSR format is invalid, e.g. different type expected"`.
    public let reason: String
    /// The (negative) mbedtls error code, when mbedtls reported the failure.
    public let mbedtlsCode: Int32?

    /// Creates an error; `reason` defaults to mbedtls's text for `mbedtlsCode`.
    public init(code: Code, operation: String, reason: String? = nil, mbedtlsCode: Int32? = nil) {
        self.code = code
        self.operation = operation
        self.mbedtlsCode = mbedtlsCode
        self.reason = reason ?? mbedtlsCode.map(CertificateError.mbedtlsText) ?? "failed"
    }

    /// `"<operation>: <reason>"`, plus the mbedtls code in hex when there is one.
    public var message: String {
        let suffix = mbedtlsCode.map { " (mbedtls error -0x\(String(-Int($0), radix: 16, uppercase: true)))" } ?? ""
        return "\(operation): \(reason)\(suffix)"
    }

    /// Same as ``message``.
    public var description: String { message }

    /// mbedtls's description of an error code (`mbedtls_strerror`).
    static func mbedtlsText(_ code: Int32) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            mbedtls_strerror(code, buffer.baseAddress, buffer.count)
            return String(cString: buffer.baseAddress!)
        }
    }
}

/// Throws a ``CertificateError`` with `code` describing `operation` when an mbedtls call
/// returned an error (`rv != 0`).
@inline(__always)
func check(
    _ rv: Int32, _ code: CertificateError.Code, _ operation: @autoclosure () -> String
) throws(CertificateError) {
    if rv != 0 {
        throw CertificateError(code: code, operation: operation(), mbedtlsCode: rv)
    }
}
