import CMbedTLS

// Owners of mbedtls contexts. mbedtls contexts hold pointers into each other (the DRBG points
// at its entropy source) and are freed by explicit calls, so each lives at a fixed heap address
// owned by a class whose deinit frees it. None of these is Sendable: they are used inside one
// call of CertificateAuthority and never shared.

/// mbedtls's CTR_DRBG (AES-256) seeded from the system's entropy (`mbedtls_entropy_func`:
/// getrandom or /dev/urandom).
final class RandomGenerator {
    private let entropy = UnsafeMutablePointer<mbedtls_entropy_context>.allocate(capacity: 1)
    /// The DRBG; pass it as `p_rng` with ``RandomGenerator/function`` as `f_rng`.
    let context = UnsafeMutablePointer<mbedtls_ctr_drbg_context>.allocate(capacity: 1)
    /// The `f_rng` callback that goes with ``context``.
    static let function: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int) -> Int32 =
        mbedtls_ctr_drbg_random

    private init() {
        mbedtls_entropy_init(entropy)
        mbedtls_ctr_drbg_init(context)
    }

    deinit {
        mbedtls_ctr_drbg_free(context)
        mbedtls_entropy_free(entropy)
        context.deallocate()
        entropy.deallocate()
    }

    /// A generator seeded from fresh entropy; `personalization` separates its stream from
    /// other users of the same entropy (NIST SP 800-90A's personalization string).
    static func seeded(personalization: String) throws(CertificateError) -> RandomGenerator {
        let generator = RandomGenerator()
        let custom = Array(personalization.utf8)
        try check(
            mbedtls_ctr_drbg_seed(generator.context, mbedtls_entropy_func, generator.entropy, custom, custom.count),
            .cryptoFailure, "seed the random generator from system entropy")
        return generator
    }

    /// `count` random bytes.
    func bytes(_ count: Int) throws(CertificateError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        try check(mbedtls_ctr_drbg_random(context, &output, count), .cryptoFailure, "draw random bytes")
        return output
    }
}

/// An mbedtls key (`mbedtls_pk_context`): generated here or parsed from PEM.
final class PrivateKey {
    let context = UnsafeMutablePointer<mbedtls_pk_context>.allocate(capacity: 1)

    private init() {
        mbedtls_pk_init(context)
    }

    deinit {
        mbedtls_pk_free(context)
        context.deallocate()
    }

    /// A new ECDSA key on NIST P-256 (secp256r1).
    static func generateP256(using random: RandomGenerator) throws(CertificateError) -> PrivateKey {
        let key = PrivateKey()
        try check(mbedtls_pk_setup(key.context, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), .cryptoFailure, "set up an EC key")
        try check(
            mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.context.pointee), RandomGenerator.function, random.context),
            .cryptoFailure, "generate a P-256 key")
        return key
    }

    /// Parses an unencrypted private key in PEM (SEC1 or PKCS#8).
    static func parse(pem: String, what: String) throws(CertificateError) -> PrivateKey {
        let key = PrivateKey()
        // mbedtls wants the terminating NUL counted in the length of PEM input.
        var bytes = Array(pem.utf8)
        bytes.append(0)
        try check(mbedtls_pk_parse_key(key.context, bytes, bytes.count, nil, 0), .invalidAuthority, "parse \(what)")
        return key
    }

    /// The key in PEM (`-----BEGIN EC PRIVATE KEY-----`, SEC1).
    func pem() throws(CertificateError) -> String {
        var buffer = [UInt8](repeating: 0, count: 2048)
        try check(mbedtls_pk_write_key_pem(context, &buffer, buffer.count), .cryptoFailure, "write the private key as PEM")
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// A parsed X.509 certificate (`mbedtls_x509_crt`, the first of its chain).
final class ParsedCertificate {
    let context = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)

    private init() {
        mbedtls_x509_crt_init(context)
    }

    deinit {
        mbedtls_x509_crt_free(context)
        context.deallocate()
    }

    /// Parses a PEM certificate.
    static func parse(pem: String, what: String) throws(CertificateError) -> ParsedCertificate {
        let certificate = ParsedCertificate()
        var bytes = Array(pem.utf8)
        bytes.append(0)
        try check(mbedtls_x509_crt_parse(certificate.context, bytes, bytes.count), .invalidAuthority, "parse \(what)")
        return certificate
    }

    /// Whether basicConstraints says CA:true.
    var isCertificateAuthority: Bool { context.pointee.ca_istrue != 0 }

    /// The subject's distinguished name as mbedtls prints it (`"CN=…, O=…"`), the form
    /// `mbedtls_x509write_crt_set_issuer_name` reads back.
    func subjectName() throws(CertificateError) -> String {
        let name: String? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1024) { buffer in
            guard mbedtls_x509_dn_gets(buffer.baseAddress, buffer.count, &context.pointee.subject) >= 0 else { return nil }
            return String(cString: buffer.baseAddress!)
        }
        guard let name else {
            throw CertificateError(code: .invalidAuthority, operation: "read the CA's subject name", reason: "the name is too long")
        }
        return name
    }

    /// The end of the validity period as `YYYYMMDDhhmmss` (UTC), comparable as a string.
    var notAfter: String {
        let t = context.pointee.valid_to
        return CertificateAuthority.timestamp(t.year, t.mon, t.day, t.hour, t.min, t.sec)
    }
}
