/// What a worker offers attempts besides its slots and GPUs, carried in `Hello.labels` under
/// reserved keys (`intern.cpus`, `intern.memory_bytes`: decimal integers). A label that is
/// missing or not a number means "not said": no limit.
public struct WorkerResources: Sendable, Equatable {
    public static let cpusLabel = "intern.cpus"
    public static let memoryLabel = "intern.memory_bytes"

    public var cpus: Int
    public var memoryBytes: Int

    public init(cpus: Int, memoryBytes: Int) {
        self.cpus = max(0, cpus)
        self.memoryBytes = max(0, memoryBytes)
    }

    /// Reads the reserved labels (the last occurrence of a key wins, as for every map).
    public init(labels: StringPairs) {
        var cpus = 0, memory = 0
        for pair in labels.pairs {
            if pair.key == Self.cpusLabel { cpus = Int(pair.value) ?? 0 }
            if pair.key == Self.memoryLabel { memory = Int(pair.value) ?? 0 }
        }
        self.init(cpus: cpus, memoryBytes: memory)
    }

    /// The labels that say this (none for what is 0).
    public var labels: [(String, String)] {
        (cpus > 0 ? [(Self.cpusLabel, String(cpus))] : []) + (memoryBytes > 0 ? [(Self.memoryLabel, String(memoryBytes))] : [])
    }
}
