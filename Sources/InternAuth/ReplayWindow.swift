/// Which message counters of one direction of one session have been seen: a counter is
/// accepted once, and only if it is within ``width`` of the highest seen (as IPsec and DTLS
/// do). Messages of one session may arrive out of order (a worker has several requests in
/// flight on different contexts), but never twice.
public struct ReplayWindow: Sendable, Equatable {
    /// How far behind the highest counter a late message may be.
    public static let width: UInt64 = 1024

    /// The highest counter accepted so far (0: none; counters start at 1).
    public private(set) var highest: UInt64 = 0
    /// Bit `i` of the window: counter `highest - i` was seen.
    private var seen = [UInt64](repeating: 0, count: Int(width / 64))

    public init() {}

    /// Records `counter`; false if it was seen before, is 0, or is too old to tell.
    public mutating func accept(_ counter: UInt64) -> Bool {
        guard counter > 0 else { return false }
        if counter > highest {
            shift(by: counter - highest)
            highest = counter
            seen[0] |= 1
            return true
        }
        let age = highest - counter
        guard age < Self.width else { return false }
        let (word, bit) = (Int(age / 64), age % 64)
        if seen[word] & (1 << bit) != 0 { return false }
        seen[word] |= 1 << bit
        return true
    }

    /// Moves the window forward: bit i becomes bit i + distance.
    private mutating func shift(by distance: UInt64) {
        guard distance < Self.width else {
            for i in seen.indices { seen[i] = 0 }
            return
        }
        let words = Int(distance / 64), bits = distance % 64
        for i in stride(from: seen.count - 1, through: 0, by: -1) {
            let source = i - words
            var value: UInt64 = source >= 0 ? seen[source] << bits : 0
            if bits > 0, source - 1 >= 0 { value |= seen[source - 1] >> (64 - bits) }
            seen[i] = value
        }
    }
}
