import CMbedTLS
import CSHA256
import Foundation
import InternAuth
import Testing

@Suite struct HMACTests {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    @Test func matchesRFC4231() {
        let tag = HMAC.sha256(key: Array("Jefe".utf8), Array("what do ya want ".utf8), Array("for nothing?".utf8))
        #expect(hex(tag) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let whole = Array("what do ya want for nothing?".utf8)
        let direct = whole.withUnsafeBytes { HMAC.sha256(key: Array("Jefe".utf8), bytes: $0) }
        #expect(direct == tag)
    }

    /// RFC 4231 test case 6: a key longer than the block size is hashed first.
    @Test func longKey() {
        let key = [UInt8](repeating: 0xaa, count: 131)
        let tag = HMAC.sha256(key: key, Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        #expect(hex(tag) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    /// The dashboard token is HMAC-SHA256(secret, "intern-auth/1 dashboard token") in hex: pinned,
    /// so `intern token` of one build steers the dashboard of another; it is neither the secret
    /// nor any other secret's token.
    @Test func theDashboardTokenIsTheSecretsHMACUnderItsOwnLabel() throws {
        let secret = try CampaignSecret(key: Array(0..<32))
        // Python: hmac.new(bytes(range(32)), b"intern-auth/1 dashboard token", hashlib.sha256).hexdigest()
        #expect(DashboardToken.derive(from: secret) == "8cc7ca129f5baf4a8c3a0072cfbf16352820069e86e60487855e6da2f108be55")
        #expect(DashboardToken.derive(from: secret) != secret.hexText)
        #expect(DashboardToken.derive(from: try CampaignSecret(key: Array(1..<33))) != DashboardToken.derive(from: secret))
    }

    /// FIPS 180-4's examples (one block, two blocks, the padding spilling into a second block)
    /// and a million "a", through the CPU's SHA instructions where it has them and through the
    /// portable block function.
    @Test(arguments: [false, true]) func sha256MatchesTheStandardsExamples(portable: Bool) {
        intern_sha256_force_portable(portable ? 1 : 0)
        defer { intern_sha256_force_portable(0) }
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Tags of random keys (empty, short, a block, longer than a block) over random messages cut
    /// at random places agree with mbedtls's HMAC-SHA256, on both block functions.
    @Test(arguments: [false, true]) func hmacAgreesWithMbedTLS(portable: Bool) {
        intern_sha256_force_portable(portable ? 1 : 0)
        defer { intern_sha256_force_portable(0) }
        var generator = SystemRandomNumberGenerator()
        for keyLength in [0, 1, 32, 63, 64, 65, 131] {
            for messageLength in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4099] {
                let key = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let message = (0..<messageLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
                var expected = [UInt8](repeating: 0, count: 32)
                #expect(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, key.count, message, message.count, &expected) == 0)
                let cut = Int.random(in: 0...messageLength, using: &generator)
                #expect(HMAC.sha256(key: key, Array(message[..<cut]), Array(message[cut...])) == expected)
                let whole = message.withUnsafeBytes { HMACKey(key).tag($0) }
                #expect(whole == expected, "key \(keyLength) bytes, message \(messageLength)")
            }
        }
    }

    @Test func constantTimeEqual() {
        #expect(HMAC.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!HMAC.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!HMAC.constantTimeEqual([1, 2, 3], [1, 2]))
    }
}
