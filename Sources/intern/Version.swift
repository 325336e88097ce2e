import InternProtocol

/// intern's version, as `intern --version` prints it: raised with each release (the store and the
/// wire protocol carry versions of their own).
enum InternVersion {
    static let number = "0.15.0"

    /// What `intern --version` prints and `intern coordinator` and `intern worker` say at start:
    /// the version, the git commit it was built from (``BuildInfo``, written by Plugins/BuildInfo)
    /// and the wire protocol version, e.g. `0.15.0 (commit 1a2b3c4d5e6f, protocol 6)`. One line, the
    /// version first: `intern mcp` reports it as its server's version.
    static let description = "\(number) (commit \(BuildInfo.commit), protocol \(ProtocolVersion.current))"
}
