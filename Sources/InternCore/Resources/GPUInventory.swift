/// The GPUs a worker offers: what `nvidia-smi` reports, restricted by `CUDA_VISIBLE_DEVICES`
/// or an explicit `--gpus` list. Pure: the worker shell runs `nvidia-smi` and hands the text in.
public struct GPUInventory: Sendable, Equatable {
    /// One GPU as `nvidia-smi` describes it.
    public struct GPU: Sendable, Equatable {
        /// The index `CUDA_VISIBLE_DEVICES` uses (as text: `0`, `1`, …).
        public var index: String
        public var uuid: String
        public var name: String
        public var memoryMiB: Int?

        /// Creates a GPU description.
        public init(index: String, uuid: String = "", name: String = "", memoryMiB: Int? = nil) {
            self.index = index
            self.uuid = uuid
            self.name = name
            self.memoryMiB = memoryMiB
        }
    }

    /// The GPUs offered, in order.
    public var gpus: [GPU]

    /// Creates an inventory.
    public init(gpus: [GPU]) { self.gpus = gpus }

    /// The ids the worker advertises and sets in `CUDA_VISIBLE_DEVICES` (the indices).
    public var ids: [String] { gpus.map(\.index) }

    /// The `--query-gpu` fields `parse(nvidiaSMI:)` expects, in order.
    public static let queryFields = "index,uuid,name,memory.total"

    /// Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`.
    /// Lines that do not have an integer index are skipped (warnings, blank lines).
    public static func parse(nvidiaSMI output: String) -> GPUInventory {
        var gpus: [GPU] = []
        for line in output.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            guard let index = fields.first, !index.isEmpty, Int(index) != nil else { continue }
            gpus.append(GPU(
                index: index, uuid: fields.count > 1 ? fields[1] : "", name: fields.count > 2 ? fields[2] : "",
                memoryMiB: fields.count > 3 ? Int(fields[3]) : nil))
        }
        return GPUInventory(gpus: gpus)
    }

    /// The GPUs a worker offers: `explicit` (`--gpus 0,1`) when given, else the detected ones
    /// restricted to `CUDA_VISIBLE_DEVICES` when that is set (by index or by UUID; an empty value
    /// or `-1`, `none` hides every GPU). Order follows the restriction. An explicit id that
    /// `nvidia-smi` did not report is dropped, unless nothing was detected at all (no
    /// `nvidia-smi` here): then the list is offered as given.
    public func restricted(visibleDevices: String?, explicit: [String]?) -> GPUInventory {
        let wanted: [String]
        if let explicit {
            wanted = explicit
        } else if let visibleDevices {
            let trimmed = visibleDevices.trimmingSpaces
            if trimmed.isEmpty || trimmed == "-1" || trimmed.lowercased() == "none" { return GPUInventory(gpus: []) }
            wanted = trimmed.split(separator: ",").map { $0.trimmingSpaces }
        } else {
            return self
        }
        var result: [GPU] = []
        for id in wanted {
            if let gpu = gpus.first(where: { $0.index == id || $0.uuid == id || (!$0.uuid.isEmpty && id.hasPrefix("GPU-") && $0.uuid.hasPrefix(id)) }) {
                if !result.contains(gpu) { result.append(gpu) }
            } else if explicit != nil, gpus.isEmpty, !result.contains(where: { $0.index == id }) {
                // Named on the command line but not detected (no nvidia-smi here): offered as given.
                result.append(GPU(index: id))
            }
        }
        return GPUInventory(gpus: result)
    }
}

