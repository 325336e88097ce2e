import CSHA256

/// HMAC-SHA256 (RFC 2104 over FIPS 180-4), on intern's own SHA-256 (`CSHA256`: the CPU's SHA
/// instructions where it has them).
public enum HMAC {
    /// Bytes in a tag.
    public static let tagLength = 32

    /// The HMAC-SHA256 tag of the concatenation of `parts` under `key`.
    public static func sha256(key: [UInt8], _ parts: [UInt8]...) -> [UInt8] {
        HMACKey(key).tag(parts: parts)
    }

    /// The HMAC-SHA256 tag of the concatenation of `parts` under `key`.
    public static func sha256(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        HMACKey(key).tag(parts: parts)
    }

    /// HMAC-SHA256 of a contiguous region without copying it.
    public static func sha256(key: [UInt8], bytes: UnsafeRawBufferPointer) -> [UInt8] {
        HMACKey(key).tag(bytes)
    }

    /// Compares two byte strings in time that depends only on their lengths (a tag check must
    /// not tell an attacker how many leading bytes were right).
    public static func constantTimeEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

/// An HMAC-SHA256 key with its inner and outer padded blocks already hashed: a session tags every
/// message under one key, and each tag then costs the message's blocks and two more, not four.
public struct HMACKey: Sendable {
    private var inner = intern_sha256()
    private var outer = intern_sha256()

    public init(_ key: [UInt8]) {
        // A key longer than a block is hashed first (RFC 2104, section 2).
        var block = key.count > 64 ? key.withUnsafeBytes { SHA256.digest($0) } : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        intern_sha256_init(&inner)
        intern_sha256_init(&outer)
        intern_sha256_update(&inner, block.map { $0 ^ 0x36 }, 64)
        intern_sha256_update(&outer, block.map { $0 ^ 0x5C }, 64)
    }

    /// The tag of `bytes`.
    public func tag(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var context = inner
        if let base = bytes.baseAddress { intern_sha256_update(&context, base, bytes.count) }
        return finish(context)
    }

    /// The tag of the concatenation of `parts`.
    public func tag(parts: [[UInt8]]) -> [UInt8] {
        var context = inner
        for part in parts where !part.isEmpty { intern_sha256_update(&context, part, part.count) }
        return finish(context)
    }

    private func finish(_ innerContext: intern_sha256) -> [UInt8] {
        var context = innerContext
        var innerDigest = [UInt8](repeating: 0, count: 32)
        intern_sha256_final(&context, &innerDigest)
        context = outer
        intern_sha256_update(&context, innerDigest, 32)
        var tag = [UInt8](repeating: 0, count: HMAC.tagLength)
        intern_sha256_final(&context, &tag)
        return tag
    }
}

/// SHA-256 (FIPS 180-4): content digests (provenance blobs are stored once per distinct content,
/// named by their digest).
public enum SHA256 {
    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var context = intern_sha256()
        intern_sha256_init(&context)
        if let base = bytes.baseAddress { intern_sha256_update(&context, base, bytes.count) }
        var digest = [UInt8](repeating: 0, count: 32)
        intern_sha256_final(&context, &digest)
        return digest
    }

    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        let sum = bytes.withUnsafeBytes { Self.digest($0) }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in sum {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether the CPU's SHA instructions compute the digests and tags.
    public static var accelerated: Bool { intern_sha256_accelerated() != 0 }
}
