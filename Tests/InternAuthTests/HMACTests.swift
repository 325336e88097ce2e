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

    @Test func constantTimeEqual() {
        #expect(HMAC.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!HMAC.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!HMAC.constantTimeEqual([1, 2, 3], [1, 2]))
    }
}
