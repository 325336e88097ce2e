import CMbedTLS
import Foundation

/// A certificate and its private key, both PEM text.
public struct PEMCredential: Sendable, Hashable {
    /// The X.509 certificate (`-----BEGIN CERTIFICATE-----`).
    public var certificatePEM: String
    /// The unencrypted private key (`-----BEGIN EC PRIVATE KEY-----`). Keep it out of logs and
    /// in files only its owner can read.
    public var privateKeyPEM: String

    /// Creates a credential from PEM text (not checked here).
    public init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// The certificate followed by the key: the one-file form NNG's `NNG_OPT_TLS_CERT_KEY_FILE`
    /// reads.
    public var certificateAndKeyPEM: String {
        let certificate = certificatePEM.hasSuffix("\n") ? certificatePEM : certificatePEM + "\n"
        return certificate + privateKeyPEM
    }
}

/// The campaign's own certificate authority: makes a self-signed CA and issues the coordinator's
/// and the workers' certificates for mutual TLS.
///
/// All keys are ECDSA on NIST P-256, signatures ECDSA with SHA-256, certificates X.509 v3 with
/// random 128-bit serials; the randomness comes from mbedtls's CTR_DRBG seeded from system entropy.
/// A certificate is valid from one hour before `now` (to tolerate clock skew between nodes) until
/// `validDays` days after `now`, and a leaf never outlives the CA that signed it.
///
/// What a peer's TLS stack checks (mbedtls 2.28, through NNG): the chain up to the CA, the
/// validity period, the key usage (digitalSignature) and the extended key usage (serverAuth for
/// the coordinator, clientAuth for workers), and for the server the name the client expects
/// (the subjectAltName DNS entry, which equals the common name).
public enum CertificateAuthority {
    /// Organization (`O=`) written into every subject name.
    public static let organization = "intern"
    /// The longest common name accepted (X.520's upper bound for commonName).
    public static let maxCommonNameLength = 64

    /// Makes a new self-signed CA: `CN=<commonName>,O=intern`, basicConstraints CA:true with a
    /// path length of 0 (it signs leaves only), keyUsage keyCertSign and cRLSign.
    ///
    /// - Parameters:
    ///   - commonName: 1–64 characters from `A-Z a-z 0-9 space . _ -`.
    ///   - validDays: days from `now` until the CA expires (1…36500).
    ///   - now: the start of the validity period (injected for tests).
    /// - Throws: ``CertificateError`` (``CertificateError/Code/invalidArgument`` for a bad name
    ///   or period).
    public static func create(commonName: String, validDays: Int, now: Date = Date()) throws(CertificateError) -> PEMCredential {
        try validate(commonName: commonName, dnsName: false)
        let (notBefore, notAfter) = try validity(days: validDays, from: now)
        let random = try RandomGenerator.seeded(personalization: "intern CA \(commonName)")
        let key = try PrivateKey.generateP256(using: random)
        let subject = "CN=\(commonName),O=\(organization)"
        let certificate = try writeCertificate(
            subject: subject, subjectKey: key, issuer: subject, issuerKey: key,
            notBefore: notBefore, notAfter: notAfter, random: random
        ) { writer throws(CertificateError) in
            try check(mbedtls_x509write_crt_set_basic_constraints(writer, 1, 0), .cryptoFailure, "set basicConstraints")
            try check(
                mbedtls_x509write_crt_set_key_usage(writer, UInt32(MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)),
                .cryptoFailure, "set keyUsage")
        }
        return PEMCredential(certificatePEM: certificate, privateKeyPEM: try key.pem())
    }

    /// Issues a leaf certificate signed by `ca`: `CN=<commonName>,O=intern`, basicConstraints
    /// CA:false, keyUsage digitalSignature and keyAgreement, and extendedKeyUsage serverAuth
    /// (`server: true`, with a subjectAltName DNS entry equal to `commonName`, the name clients
    /// verify) or clientAuth (`server: false`).
    ///
    /// - Parameters:
    ///   - commonName: 1–64 characters from `A-Z a-z 0-9 space . _ -`; for a server, a DNS name
    ///     (`A-Z a-z 0-9 . -`).
    ///   - ca: a credential made by ``create(commonName:validDays:now:)``.
    ///   - validDays: days from `now` until the certificate expires (1…36500); cut to the CA's
    ///     own expiry if that comes first.
    ///   - server: whether the certificate is for the TLS server (the coordinator) or a client
    ///     (a worker).
    ///   - now: the start of the validity period (injected for tests).
    /// - Throws: ``CertificateError`` (``CertificateError/Code/invalidAuthority`` when `ca` does
    ///   not parse, is not a CA, or its key does not match its certificate).
    public static func issue(
        commonName: String, ca: PEMCredential, validDays: Int, server: Bool, now: Date = Date()
    ) throws(CertificateError) -> PEMCredential {
        try validate(commonName: commonName, dnsName: server)
        var (notBefore, notAfter) = try validity(days: validDays, from: now)
        let caCertificate = try ParsedCertificate.parse(pem: ca.certificatePEM, what: "the CA certificate")
        let caKey = try PrivateKey.parse(pem: ca.privateKeyPEM, what: "the CA private key")
        guard caCertificate.isCertificateAuthority else {
            throw CertificateError(
                code: .invalidAuthority, operation: "check the CA certificate",
                reason: "it is not a certificate authority (basicConstraints CA:false)")
        }
        try check(
            mbedtls_pk_check_pair(&caCertificate.context.pointee.pk, caKey.context), .invalidAuthority,
            "check that the CA private key belongs to the CA certificate")
        notAfter = min(notAfter, caCertificate.notAfter)

        let random = try RandomGenerator.seeded(personalization: "intern leaf \(commonName)")
        let key = try PrivateKey.generateP256(using: random)
        let certificate = try writeCertificate(
            subject: "CN=\(commonName),O=\(organization)", subjectKey: key,
            issuer: try caCertificate.subjectName(), issuerKey: caKey,
            notBefore: notBefore, notAfter: notAfter, random: random
        ) { writer throws(CertificateError) in
            try check(mbedtls_x509write_crt_set_basic_constraints(writer, 0, -1), .cryptoFailure, "set basicConstraints")
            try check(
                mbedtls_x509write_crt_set_key_usage(writer, UInt32(MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_AGREEMENT)),
                .cryptoFailure, "set keyUsage")
            // mbedtls 2.28 has no writers for these two extensions (3.x added them), so their DER
            // is built here; see DER below.
            try setExtension(writer, oid: DER.extendedKeyUsageOID, value: DER.extendedKeyUsage(server ? DER.serverAuth : DER.clientAuth), "extendedKeyUsage")
            if server {
                try setExtension(writer, oid: DER.subjectAltNameOID, value: DER.subjectAltName(dnsName: commonName), "subjectAltName")
            }
        }
        return PEMCredential(certificatePEM: certificate, privateKeyPEM: try key.pem())
    }

    // MARK: - Certificate writing

    /// Writes and signs a certificate; `extensions` adds the kind-specific extensions.
    private static func writeCertificate(
        subject: String, subjectKey: PrivateKey, issuer: String, issuerKey: PrivateKey,
        notBefore: String, notAfter: String, random: RandomGenerator,
        extensions: (UnsafeMutablePointer<mbedtls_x509write_cert>) throws(CertificateError) -> Void
    ) throws(CertificateError) -> String {
        let writer = UnsafeMutablePointer<mbedtls_x509write_cert>.allocate(capacity: 1)
        mbedtls_x509write_crt_init(writer)
        defer {
            mbedtls_x509write_crt_free(writer)
            writer.deallocate()
        }
        mbedtls_x509write_crt_set_version(writer, MBEDTLS_X509_CRT_VERSION_3)
        mbedtls_x509write_crt_set_md_alg(writer, MBEDTLS_MD_SHA256)
        mbedtls_x509write_crt_set_subject_key(writer, subjectKey.context)
        mbedtls_x509write_crt_set_issuer_key(writer, issuerKey.context)
        try check(mbedtls_x509write_crt_set_subject_name(writer, subject), .invalidArgument, "set the subject name \"\(subject)\"")
        try check(mbedtls_x509write_crt_set_issuer_name(writer, issuer), .invalidAuthority, "set the issuer name \"\(issuer)\"")
        try check(mbedtls_x509write_crt_set_validity(writer, notBefore, notAfter), .invalidArgument, "set the validity \(notBefore)–\(notAfter)")
        try setSerial(writer, random: random)
        try check(mbedtls_x509write_crt_set_subject_key_identifier(writer), .cryptoFailure, "set subjectKeyIdentifier")
        try check(mbedtls_x509write_crt_set_authority_key_identifier(writer), .cryptoFailure, "set authorityKeyIdentifier")
        try extensions(writer)

        var buffer = [UInt8](repeating: 0, count: 4096)
        try check(
            mbedtls_x509write_crt_pem(writer, &buffer, buffer.count, RandomGenerator.function, random.context),
            .cryptoFailure, "sign and write the certificate")
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// A random positive 128-bit serial (RFC 5280 asks for at most 20 octets, unpredictable).
    private static func setSerial(_ writer: UnsafeMutablePointer<mbedtls_x509write_cert>, random: RandomGenerator) throws(CertificateError) {
        var bytes = try random.bytes(16)
        // Clear the sign bit (serials are positive) and set the next one, so the serial is
        // never zero and always 16 bytes long.
        bytes[0] = (bytes[0] & 0x7f) | 0x40
        var serial = mbedtls_mpi()
        mbedtls_mpi_init(&serial)
        defer { mbedtls_mpi_free(&serial) }
        try check(mbedtls_mpi_read_binary(&serial, bytes, bytes.count), .cryptoFailure, "make the serial number")
        try check(mbedtls_x509write_crt_set_serial(writer, &serial), .cryptoFailure, "set the serial number")
    }

    private static func setExtension(
        _ writer: UnsafeMutablePointer<mbedtls_x509write_cert>, oid: [UInt8], value: [UInt8], _ name: String
    ) throws(CertificateError) {
        let oidChars = oid.map { CChar(bitPattern: $0) }
        try check(
            mbedtls_x509write_crt_set_extension(writer, oidChars, oidChars.count, 0, value, value.count),
            .cryptoFailure, "set \(name)")
    }

    // MARK: - Arguments

    private static func validate(commonName: String, dnsName: Bool) throws(CertificateError) {
        let operation = "check the common name \"\(commonName)\""
        guard (1...maxCommonNameLength).contains(commonName.utf8.count) else {
            throw CertificateError(code: .invalidArgument, operation: operation, reason: "it must have 1 to \(maxCommonNameLength) characters")
        }
        // Commas, quotes and equals signs would need escaping in mbedtls's "CN=…,O=…" strings;
        // a campaign has no use for them, so they are refused rather than escaped.
        let allowed = dnsName ? "-." : "-._ "
        let invalid = commonName.unicodeScalars.first { scalar in
            !(scalar.isASCII && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || allowed.unicodeScalars.contains(scalar)))
        }
        if let invalid {
            let valid = dnsName ? "letters, digits, '.' and '-' (a DNS name)" : "letters, digits, space, '.', '_' and '-'"
            throw CertificateError(code: .invalidArgument, operation: operation, reason: "'\(invalid)' is not allowed; use \(valid)")
        }
    }

    /// The validity period as mbedtls's `YYYYMMDDhhmmss` strings (UTC).
    private static func validity(days: Int, from now: Date) throws(CertificateError) -> (notBefore: String, notAfter: String) {
        guard (1...36_500).contains(days) else {
            throw CertificateError(code: .invalidArgument, operation: "check validDays \(days)", reason: "it must be 1 to 36500 days")
        }
        let start = now.timeIntervalSince1970.rounded(.down)
        return (timestamp(start - 3600), timestamp(start + Double(days) * 86_400))
    }

    private static func timestamp(_ secondsSince1970: Double) -> String {
        var time = time_t(secondsSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        return timestamp(Int32(parts.tm_year) + 1900, Int32(parts.tm_mon) + 1, Int32(parts.tm_mday),
                         Int32(parts.tm_hour), Int32(parts.tm_min), Int32(parts.tm_sec))
    }

    /// `YYYYMMDDhhmmss`; a fixed-width form, so string order is time order.
    static func timestamp(_ year: Int32, _ month: Int32, _ day: Int32, _ hour: Int32, _ minute: Int32, _ second: Int32) -> String {
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + pad(hour, 2) + pad(minute, 2) + pad(second, 2)
    }
}

/// DER encodings of the two extensions mbedtls 2.28 cannot write itself (RFC 5280 4.2.1.6 and
/// 4.2.1.12). Every length here is under 128 bytes, so the short length form suffices.
enum DER {
    /// id-ce-subjectAltName, 2.5.29.17.
    static let subjectAltNameOID: [UInt8] = [0x55, 0x1D, 0x11]
    /// id-ce-extKeyUsage, 2.5.29.37.
    static let extendedKeyUsageOID: [UInt8] = [0x55, 0x1D, 0x25]
    /// id-kp-serverAuth, 1.3.6.1.5.5.7.3.1.
    static let serverAuth: [UInt8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]
    /// id-kp-clientAuth, 1.3.6.1.5.5.7.3.2.
    static let clientAuth: [UInt8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02]

    /// `ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId` with one purpose.
    static func extendedKeyUsage(_ purpose: [UInt8]) -> [UInt8] {
        sequence([0x06, UInt8(purpose.count)] + purpose)
    }

    /// `GeneralNames ::= SEQUENCE OF GeneralName` with one `dNSName [2] IA5String`.
    static func subjectAltName(dnsName: String) -> [UInt8] {
        let name = Array(dnsName.utf8)
        return sequence([0x82, UInt8(name.count)] + name)
    }

    private static func sequence(_ content: [UInt8]) -> [UInt8] {
        precondition(content.count < 128, "short-form DER length")
        return [0x30, UInt8(content.count)] + content
    }
}
