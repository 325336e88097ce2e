import CNNG

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TLS settings for a listener or dialer on a `tls+tcp://` URL (see ``Socket/listen(_:tls:)``
/// and ``Socket/dial(_:blocking:tls:)``), given as PEM files as NNG reads them.
///
/// For mutual TLS both sides name the same CA file, both present a certificate, and both
/// require the peer's (the default): the listener then accepts only clients whose certificate
/// the CA signed, and the dialer accepts only a server whose certificate the CA signed for
/// ``serverName``.
///
/// A failed handshake is not reported to the application: NNG closes that connection, the
/// pipe never appears (no ``PipeEvent``), and a dialer redials after its reconnect interval. What
/// the application sees is a request that times out. Only a blocking dial's first attempt
/// throws it.
public struct TLSSettings: Sendable, Hashable {
    /// The PEM file with the certificate authority (or authorities) whose signature makes a
    /// peer's certificate trusted (`NNG_OPT_TLS_CA_FILE`).
    public var caFile: String
    /// The PEM file holding this side's certificate followed by its unencrypted private key
    /// (`NNG_OPT_TLS_CERT_KEY_FILE`). Required to listen; a dialer without one presents no
    /// certificate, which a listener that requires one refuses.
    public var certificateKeyFile: String?
    /// For dialers: the name the server's certificate must carry (subjectAltName DNS entry, or
    /// common name when it has none) (`NNG_OPT_TLS_SERVER_NAME`). `nil` leaves NNG's default,
    /// the host part of the URL. Ignored by listeners.
    public var serverName: String?
    /// Whether the peer must present a certificate signed by ``caFile``
    /// (`NNG_TLS_AUTH_MODE_REQUIRED`). `false` (`NNG_TLS_AUTH_MODE_NONE`) checks nothing about
    /// the peer: encryption without authentication, for tests only.
    public var requirePeerCertificate: Bool

    /// Creates settings; see the properties for what each one means.
    public init(caFile: String, certificateKeyFile: String?, serverName: String? = nil, requirePeerCertificate: Bool = true) {
        self.caFile = caFile
        self.certificateKeyFile = certificateKeyFile
        self.serverName = serverName
        self.requirePeerCertificate = requirePeerCertificate
    }

    /// The NNG auth mode these settings ask for.
    var authMode: nng_tls_auth_mode {
        requirePeerCertificate ? NNG_TLS_AUTH_MODE_REQUIRED : NNG_TLS_AUTH_MODE_NONE
    }

    /// Sets these settings on an endpoint that has not started yet, through its option setters.
    ///
    /// The files are checked first, so a missing or unreadable file is reported with its path
    /// and the system's reason rather than NNG's generic one.
    func apply(to endpoint: EndpointOptions, listening: Bool, url: String) throws(NNGError) {
        let side = listening ? "listen" : "dial"
        if listening && certificateKeyFile == nil {
            throw NNGError.invalidArgument.during("\(side) \(url) with TLS: a listener needs a certificate and key file")
        }
        try Self.checkReadable(caFile, "TLS CA file", side: side, url: url)
        if let certificateKeyFile {
            try Self.checkReadable(certificateKeyFile, "TLS certificate and key file", side: side, url: url)
        }

        try set(
            endpoint.setString(NNG_OPT_TLS_CA_FILE, caFile), "load TLS CA file \(caFile)", side: side, url: url,
            contentHint: "it must hold PEM certificates")
        if let certificateKeyFile {
            try set(
                endpoint.setString(NNG_OPT_TLS_CERT_KEY_FILE, certificateKeyFile),
                "load TLS certificate and key file \(certificateKeyFile)", side: side, url: url,
                contentHint: "it must hold a PEM certificate followed by its unencrypted private key")
        }
        try set(
            endpoint.setInt(NNG_OPT_TLS_AUTH_MODE, Int32(bitPattern: authMode.rawValue)),
            "set \(NNG_OPT_TLS_AUTH_MODE)=\(requirePeerCertificate ? "required" : "none")", side: side, url: url)
        if !listening, let serverName {
            try set(endpoint.setString(NNG_OPT_TLS_SERVER_NAME, serverName), "set \(NNG_OPT_TLS_SERVER_NAME)=\(serverName)", side: side, url: url)
        }
    }

    private func set(_ rv: Int32, _ operation: String, side: String, url: String, contentHint: String? = nil) throws(NNGError) {
        if rv == Int32(bitPattern: NNG_ENOTSUP.rawValue) {
            // The transport has no TLS options: the URL is plain tcp://, ipc:// or inproc://.
            throw NNGError(code: rv, operation: "\(side) \(url) with TLS: the URL must be tls+tcp:// (\(operation))")
        }
        if rv == NNGError.cryptographic.code, let contentHint {
            // NNG reports any PEM the TLS library cannot use as NNG_ECRYPTO, with no detail.
            throw NNGError(code: rv, operation: "\(side) \(url): \(operation) (\(contentHint))")
        }
        try check(rv, "\(side) \(url): \(operation)")
    }

    /// Throws `NNG_ESYSERR | errno` (whose message is the system's, e.g. "No such file or
    /// directory") naming `path` when it cannot be read.
    private static func checkReadable(_ path: String, _ what: String, side: String, url: String) throws(NNGError) {
        if access(path, R_OK) != 0 {
            let code = Int32(bitPattern: NNG_ESYSERR.rawValue) | errno
            throw NNGError(code: code, operation: "\(side) \(url): read \(what) \(path)")
        }
    }
}

/// The option setters of one listener or dialer, so ``TLSSettings`` configures both alike.
struct EndpointOptions {
    let setString: (String, String) -> Int32
    let setInt: (String, Int32) -> Int32

    static func listener(_ handle: nng_listener) -> EndpointOptions {
        EndpointOptions(
            setString: { nng_listener_set_string(handle, $0, $1) },
            setInt: { nng_listener_set_int(handle, $0, $1) })
    }

    static func dialer(_ handle: nng_dialer) -> EndpointOptions {
        EndpointOptions(
            setString: { nng_dialer_set_string(handle, $0, $1) },
            setInt: { nng_dialer_set_int(handle, $0, $1) })
    }
}
