/// The campaign's shared secret: 32 random bytes that every worker, admin client and the
/// coordinator of one campaign hold. It never leaves a node: peers prove they hold it with
/// HMAC-SHA256 tags (see ``AuthFrame``). Printing it shows nothing.
public struct CampaignSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The fewest bytes accepted (256 bits).
    public static let minimumLength = 32

    let key: [UInt8]

    /// A secret from raw bytes (at least 32).
    public init(key: [UInt8]) throws(CredentialError) {
        guard key.count >= Self.minimumLength else {
            throw CredentialError("the campaign secret is \(key.count) bytes; at least \(Self.minimumLength) are required (make one with `intern init-auth DIR`)")
        }
        self.key = key
    }

    /// A secret written as hexadecimal text (surrounding whitespace ignored); `source` names
    /// where it came from in errors (the text itself is never quoted).
    public init(hex text: String, source: String) throws(CredentialError) {
        let digits = Array(text.utf8).filter { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        guard digits.count % 2 == 0, let bytes = Self.decodeHex(digits) else {
            throw CredentialError("\(source) does not hold a hexadecimal secret (make one with `intern init-auth DIR`)")
        }
        do {
            try self.init(key: bytes)
        } catch {
            throw CredentialError("\(source): \(error.message)")
        }
    }

    /// 32 bytes from the system's cryptographic random source (getrandom(2)).
    public static func generate() -> CampaignSecret {
        var generator = SystemRandomNumberGenerator()
        return try! CampaignSecret(key: (0..<minimumLength).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The secret as hexadecimal text, for writing the secret file and nothing else.
    public var hexText: String { Self.hex(key) }

    /// `bytes` as lowercase hexadecimal text.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { "CampaignSecret(redacted)" }
    public var debugDescription: String { description }

    private static func decodeHex(_ digits: [UInt8]) -> [UInt8]? {
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// Credentials are missing, unreadable, malformed, or too widely readable.
public struct CredentialError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
