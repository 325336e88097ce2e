/// The dashboard's steering token of a campaign with credentials: HMAC-SHA256 of the campaign
/// secret under a label of its own (``Label/dashboard``), in hex. Whoever holds the secret can
/// work it out (`intern token`); the token itself reveals nothing of the secret (HMAC is one-way)
/// and can stand for no tag of the protocol (each HMAC use has its own label). A coordinator's
/// `--http` takes it as its token when no `--http-token-file` is given (docs/security.md).
public enum DashboardToken {
    /// The token of the campaign whose secret is `secret`: 64 hexadecimal digits.
    public static func derive(from secret: CampaignSecret) -> String {
        CampaignSecret.hex(HMAC.sha256(key: secret.key, Label.dashboard))
    }
}
