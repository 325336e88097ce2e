import InternCore

extension SplitMix64 {
    /// A generator for one item (an attempt, a worker) of a seeded run: distinct streams for
    /// distinct items, the same stream for the same item, so a run's draws do not depend on
    /// the order in which its items come up.
    init(seed: UInt64, item: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (item &* 0x9E37_79B9_7F4A_7C15))
        self.init(seed: mixer.next())
    }
}
