import CMbedTLS

/// HMAC-SHA256 (RFC 2104 over FIPS 180-4), computed by mbedtls.
public enum HMAC {
    /// Bytes in a tag.
    public static let tagLength = 32

    /// The HMAC-SHA256 tag of the concatenation of `parts` under `key`.
    public static func sha256(key: [UInt8], _ parts: [UInt8]...) -> [UInt8] {
        sha256(key: key, parts: parts)
    }

    /// The HMAC-SHA256 tag of the concatenation of `parts` under `key`.
    public static func sha256(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: tagLength)
        var context = mbedtls_md_context_t()
        mbedtls_md_init(&context)
        defer { mbedtls_md_free(&context) }
        // These calls fail only on bad arguments (an unknown digest, no memory): a bug, not input.
        precondition(mbedtls_md_setup(&context, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) == 0, "mbedtls_md_setup")
        precondition(mbedtls_md_hmac_starts(&context, key, key.count) == 0, "mbedtls_md_hmac_starts")
        for part in parts where !part.isEmpty {
            precondition(mbedtls_md_hmac_update(&context, part, part.count) == 0, "mbedtls_md_hmac_update")
        }
        precondition(mbedtls_md_hmac_finish(&context, &tag) == 0, "mbedtls_md_hmac_finish")
        return tag
    }

    /// HMAC-SHA256 of a contiguous region without copying it.
    public static func sha256(key: [UInt8], bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: tagLength)
        let rv = key.withUnsafeBufferPointer { k in
            mbedtls_md_hmac(
                mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), k.baseAddress, k.count,
                bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &tag)
        }
        precondition(rv == 0, "mbedtls_md_hmac")
        return tag
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

/// SHA-256 (FIPS 180-4), computed by mbedtls: content digests (provenance blobs are stored once
/// per distinct content, named by their digest).
public enum SHA256 {
    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        // Fails only on bad arguments: a bug, not input.
        precondition(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), bytes, bytes.count, &digest) == 0, "mbedtls_md")
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
