import Foundation
import InternCore
import InternJob

/// Finds the GPUs this worker offers: `nvidia-smi` when it is on the PATH, restricted by
/// `CUDA_VISIBLE_DEVICES` or replaced by an explicit list (`--gpus`). No `nvidia-smi`, no GPUs.
public enum GPUDiscovery {
    /// The inventory; `nvidiaSMI` is the command's output when it ran, for logging.
    public static func detect(explicit: [String]?, environment: [String: String] = ProcessInfo.processInfo.environment) -> GPUInventory {
        let detected = run(environment: environment).map { GPUInventory.parse(nvidiaSMI: $0) } ?? GPUInventory(gpus: [])
        return detected.restricted(visibleDevices: environment["CUDA_VISIBLE_DEVICES"], explicit: explicit)
    }

    /// `nvidia-smi --query-gpu=…` output, or nil when it is missing, fails or hangs (10 s).
    static func run(environment: [String: String]) -> String? {
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/nvidia-smi" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { return nil }
        // nvidia-smi lists every GPU whatever CUDA_VISIBLE_DEVICES says; the restriction is ours.
        // A wedged driver can hang it: given up after 10 s.
        guard let result = ShortCommand.runBlocking(
            [path, "--query-gpu=\(GPUInventory.queryFields)", "--format=csv,noheader,nounits"],
            environment: environment, in: "/", timeout: .seconds(10)), result.succeeded
        else { return nil }
        return String(decoding: result.stdout, as: UTF8.self)
    }
}
