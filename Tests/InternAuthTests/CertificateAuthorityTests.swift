import CMbedTLS
import Foundation
import InternAuth
import Testing

// The certificates are checked with mbedtls itself, the same library NNG's TLS transport uses.

/// A parsed certificate (chain), freed with the object.
private final class Certificate {
    let crt = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)

    init(_ pem: String) throws {
        mbedtls_x509_crt_init(crt)
        var bytes = Array(pem.utf8)
        bytes.append(0)
        let rv = mbedtls_x509_crt_parse(crt, bytes, bytes.count)
        guard rv == 0 else { throw MbedTLSFailure(rv: rv, operation: "mbedtls_x509_crt_parse") }
    }

    deinit {
        mbedtls_x509_crt_free(crt)
        crt.deallocate()
    }

    /// `mbedtls_x509_crt_verify` against `ca`: the flags (0 when trusted).
    func verify(against ca: Certificate, name: String? = nil) -> UInt32 {
        var flags: UInt32 = 0
        let rv = mbedtls_x509_crt_verify(crt, ca.crt, nil, name, &flags, nil, nil)
        #expect((rv == 0) == (flags == 0), "rv \(rv) flags \(flags)")
        return flags
    }

    func hasExtendedKeyUsage(_ oid: [UInt8]) -> Bool {
        let chars = oid.map { CChar(bitPattern: $0) }
        return mbedtls_x509_crt_check_extended_key_usage(crt, chars, chars.count) == 0
    }

    func hasKeyUsage(_ usage: Int32) -> Bool {
        mbedtls_x509_crt_check_key_usage(crt, UInt32(usage)) == 0
    }

    var serial: [UInt8] { Array(UnsafeBufferPointer(start: crt.pointee.serial.p, count: crt.pointee.serial.len)) }

    var notAfter: [Int32] {
        let t = crt.pointee.valid_to
        return [t.year, t.mon, t.day, t.hour, t.min, t.sec]
    }
}

/// A parsed private key, freed with the object.
private final class Key {
    let pk = UnsafeMutablePointer<mbedtls_pk_context>.allocate(capacity: 1)

    init(_ pem: String) throws {
        mbedtls_pk_init(pk)
        var bytes = Array(pem.utf8)
        bytes.append(0)
        let rv = mbedtls_pk_parse_key(pk, bytes, bytes.count, nil, 0)
        guard rv == 0 else { throw MbedTLSFailure(rv: rv, operation: "mbedtls_pk_parse_key") }
    }

    deinit {
        mbedtls_pk_free(pk)
        pk.deallocate()
    }

    func matches(_ certificate: Certificate) -> Bool {
        mbedtls_pk_check_pair(&certificate.crt.pointee.pk, pk) == 0
    }
}

private struct MbedTLSFailure: Error {
    let rv: Int32
    let operation: String
}

private let serverAuth: [UInt8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]
private let clientAuth: [UInt8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02]

/// Expects `body` to throw a CertificateError with `code`; returns it for further checks.
@discardableResult
private func expectCertificateError(
    _ code: CertificateError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> CertificateError? {
    do {
        try body()
        Issue.record("expected a \(code) error, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as CertificateError {
        #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a CertificateError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite struct CertificateAuthorityTests {
    @Test func createdAuthority_isSelfSignedCA() throws {
        let ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 30)
        #expect(ca.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(ca.privateKeyPEM.hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
        let certificate = try Certificate(ca.certificatePEM)
        #expect(certificate.crt.pointee.ca_istrue == 1)
        #expect(certificate.crt.pointee.version == 3)
        #expect(certificate.hasKeyUsage(MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN))
        #expect(certificate.verify(against: certificate) == 0)
        #expect(try Key(ca.privateKeyPEM).matches(certificate))
    }

    @Test func serverCertificate_verifiesAgainstItsCA_withTheCoordinatorName() throws {
        let ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 30)
        let server = try CertificateAuthority.issue(commonName: "intern-coordinator", ca: ca, validDays: 30, server: true)
        let certificate = try Certificate(server.certificatePEM)
        let authority = try Certificate(ca.certificatePEM)

        #expect(certificate.verify(against: authority, name: "intern-coordinator") == 0)
        #expect(certificate.verify(against: authority, name: "INTERN-coordinator") == 0, "names compare case-insensitively")
        #expect(certificate.verify(against: authority, name: "intern-worker") & UInt32(MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0)

        #expect(certificate.crt.pointee.ca_istrue == 0)
        #expect(certificate.hasKeyUsage(MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_AGREEMENT))
        #expect(!certificate.hasKeyUsage(MBEDTLS_X509_KU_KEY_CERT_SIGN))
        #expect(certificate.hasExtendedKeyUsage(serverAuth))
        #expect(!certificate.hasExtendedKeyUsage(clientAuth))
        #expect(try Key(server.privateKeyPEM).matches(certificate))
    }

    @Test func workerCertificate_verifiesAgainstItsCA_forClientAuthOnly() throws {
        let ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 30)
        let worker = try CertificateAuthority.issue(commonName: "intern-worker", ca: ca, validDays: 30, server: false)
        let certificate = try Certificate(worker.certificatePEM)
        #expect(certificate.verify(against: try Certificate(ca.certificatePEM)) == 0)
        #expect(certificate.hasExtendedKeyUsage(clientAuth))
        #expect(!certificate.hasExtendedKeyUsage(serverAuth))
        #expect(try Key(worker.privateKeyPEM).matches(certificate))
    }

    @Test func certificate_failsAgainstAnotherCA() throws {
        let ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 30)
        let other = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 30)
        let server = try CertificateAuthority.issue(commonName: "intern-coordinator", ca: ca, validDays: 30, server: true)
        let flags = try Certificate(server.certificatePEM).verify(against: try Certificate(other.certificatePEM), name: "intern-coordinator")
        #expect(flags & UInt32(MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0)
    }

    @Test func key_doesNotMatchAnotherCertificate() throws {
        let ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 30)
        let a = try CertificateAuthority.issue(commonName: "intern-worker", ca: ca, validDays: 30, server: false)
        let b = try CertificateAuthority.issue(commonName: "intern-worker", ca: ca, validDays: 30, server: false)
        #expect(try !Key(a.privateKeyPEM).matches(Certificate(b.certificatePEM)))
        #expect(try Certificate(a.certificatePEM).serial != Certificate(b.certificatePEM).serial)
        #expect(try Certificate(a.certificatePEM).serial.count == 16)
    }

    @Test func certificateAndKeyPEM_holdsBothInOrder() throws {
        let ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 30)
        let worker = try CertificateAuthority.issue(commonName: "intern-worker", ca: ca, validDays: 30, server: false)
        let combined = worker.certificateAndKeyPEM
        #expect(combined.hasPrefix("-----BEGIN CERTIFICATE-----"))
        // NNG's mbedtls engine reads the one file both ways: as a certificate and as a key.
        #expect(try Key(combined).matches(Certificate(combined)))
    }

    @Test func expiredCertificate_failsVerification() throws {
        let twoYearsAgo = Date().addingTimeInterval(-2 * 365 * 86_400)
        let ca = try CertificateAuthority.create(commonName: "old CA", validDays: 10, now: twoYearsAgo)
        let worker = try CertificateAuthority.issue(commonName: "intern-worker", ca: ca, validDays: 1, server: false, now: twoYearsAgo)
        let flags = try Certificate(worker.certificatePEM).verify(against: try Certificate(ca.certificatePEM))
        #expect(flags & UInt32(MBEDTLS_X509_BADCERT_EXPIRED) != 0)
    }

    @Test func leaf_neverOutlivesItsCA() throws {
        let ca = try CertificateAuthority.create(commonName: "short CA", validDays: 2)
        let worker = try CertificateAuthority.issue(commonName: "intern-worker", ca: ca, validDays: 365, server: false)
        #expect(try Certificate(worker.certificatePEM).notAfter == Certificate(ca.certificatePEM).notAfter)
    }

    @Test func badNamesAndPeriods_areRefused() {
        expectCertificateError(.invalidArgument) { _ = try CertificateAuthority.create(commonName: "", validDays: 30) }
        expectCertificateError(.invalidArgument) { _ = try CertificateAuthority.create(commonName: "a,O=evil", validDays: 30) }
        expectCertificateError(.invalidArgument) {
            _ = try CertificateAuthority.create(commonName: String(repeating: "x", count: 65), validDays: 30)
        }
        expectCertificateError(.invalidArgument) { _ = try CertificateAuthority.create(commonName: "ca", validDays: 0) }
        let error = expectCertificateError(.invalidArgument) {
            let ca = try CertificateAuthority.create(commonName: "ca", validDays: 30)
            _ = try CertificateAuthority.issue(commonName: "intern coordinator", ca: ca, validDays: 30, server: true)
        }
        #expect(error?.message.contains("DNS name") == true, "\(String(describing: error))")
    }

    @Test func unusableAuthority_isRefusedWithMbedTLSReason() throws {
        let ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: 30)
        let other = try CertificateAuthority.create(commonName: "other CA", validDays: 30)
        let worker = try CertificateAuthority.issue(commonName: "intern-worker", ca: ca, validDays: 30, server: false)

        let garbage = expectCertificateError(.invalidAuthority) {
            _ = try CertificateAuthority.issue(
                commonName: "intern-worker", ca: PEMCredential(certificatePEM: "not a certificate", privateKeyPEM: ca.privateKeyPEM),
                validDays: 30, server: false)
        }
        #expect(garbage?.mbedtlsCode != nil)
        #expect(garbage?.message.hasPrefix("parse the CA certificate: X509 - ") == true, "\(String(describing: garbage))")

        let leafAsCA = expectCertificateError(.invalidAuthority) {
            _ = try CertificateAuthority.issue(commonName: "intern-worker", ca: worker, validDays: 30, server: false)
        }
        #expect(leafAsCA?.message.contains("not a certificate authority") == true)

        expectCertificateError(.invalidAuthority) {
            let mixed = PEMCredential(certificatePEM: ca.certificatePEM, privateKeyPEM: other.privateKeyPEM)
            _ = try CertificateAuthority.issue(commonName: "intern-worker", ca: mixed, validDays: 30, server: false)
        }
    }
}
