import Foundation

/// The campaign's TLS certificates, made by `intern init-auth` beside the secret: a certificate
/// authority of its own (`ca.crt`, `ca.key`), a server certificate for the coordinator
/// (`coordinator.pem`, certificate then key) and a client certificate that every worker and
/// admin client shares (`worker.pem`). Trust is the campaign's CA, not DNS: workers check the
/// coordinator's certificate for the fixed name ``coordinatorName`` wherever it runs.
public enum CampaignCertificates {
    public static let coordinatorName = "intern-coordinator"
    public static let workerName = "intern-worker"
    /// Ten years: a certificate must never expire in the middle of a campaign (rotate by
    /// making new credentials, see docs/operations.md).
    public static let validDays = 3650

    /// Writes the CA and both certificates into `credentials.directory`; refuses to overwrite.
    public static func create(in credentials: Credentials) throws(CredentialError) {
        guard let directory = credentials.directory else { throw CredentialError("certificates need a credentials directory") }
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let ca: PEMCredential, coordinator: PEMCredential, worker: PEMCredential
        do {
            ca = try CertificateAuthority.create(commonName: "intern campaign CA", validDays: validDays)
            coordinator = try CertificateAuthority.issue(commonName: coordinatorName, ca: ca, validDays: validDays, server: true)
            worker = try CertificateAuthority.issue(commonName: workerName, ca: ca, validDays: validDays, server: false)
        } catch {
            throw CredentialError("cannot make the campaign's certificates: \(error)")
        }
        try Credentials.writePrivate(ca.certificatePEM, to: path(Credentials.File.caCertificate), mode: 0o644)
        try Credentials.writePrivate(ca.privateKeyPEM, to: path(Credentials.File.caKey))
        try Credentials.writePrivate(coordinator.certificateAndKeyPEM, to: path(Credentials.File.coordinator))
        try Credentials.writePrivate(worker.certificateAndKeyPEM, to: path(Credentials.File.worker))
    }
}
