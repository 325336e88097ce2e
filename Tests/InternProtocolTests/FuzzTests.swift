import InternProtocol
import Testing

@Suite("Hostile input")
struct FuzzTests {
    let codec = MessageCodec(maxMessageBytes: 1 << 16)

    /// Decodes `bytes`; on success the canonical re-encoding must be exactly
    /// the prefix the decoder consumed (the encoding has one form per value).
    func check(_ bytes: [UInt8]) -> Bool {
        guard let message = try? codec.decode(bytes) else { return false }
        let again = codec.encode(message)
        #expect(bytes.starts(with: again), "non-canonical accept: \(hex(bytes))")
        return true
    }

    @Test("100,000 random byte strings never crash the decoder")
    func randomBytes() {
        var rng = SeededGenerator(seed: 0x1A7E_2B00)
        var accepted = 0
        for i in 0..<100_000 {
            let length = Int.random(in: 0...300, using: &rng)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Two thirds start with a valid header so the body parsers get exercised.
            if i % 3 != 0, bytes.count >= 4 {
                bytes[0] = 0x49
                bytes[1] = 0x4E
                bytes[2] = ProtocolVersion.current
                bytes[3] = UInt8.random(in: 1...12, using: &rng)  // every kind, the admin ones (11, 12) too
            }
            if check(bytes) { accepted += 1 }
        }
        // Sanity: some random bodies do decode (e.g. short NoWork/Rejected).
        #expect(accepted > 0)
    }

    @Test("random mutations of valid encodings never crash the decoder", arguments: Fixtures.small)
    func mutations(_ fixture: Fixture) {
        // FNV-1a of the fixture name: a stable per-fixture seed.
        let seed = fixture.name.utf8.reduce(UInt64(0xCBF2_9CE4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
        var rng = SeededGenerator(seed: seed)
        let original = codec.encode(fixture.message)
        for _ in 0..<3_000 {
            var bytes = original
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: // flip 1-3 bits
                for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                }
            case 1: // truncate
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
            case 2: // overwrite a byte
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] = UInt8.random(in: 0...255, using: &rng)
            case 3: // insert random bytes
                let i = Int.random(in: 0...bytes.count, using: &rng)
                bytes.insert(contentsOf: (0..<Int.random(in: 1...4, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: i)
            default: // delete a range
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                let n = Int.random(in: 1...min(4, bytes.count - i), using: &rng)
                bytes.removeSubrange(i..<(i + n))
            }
            _ = check(bytes)
        }
    }
}
