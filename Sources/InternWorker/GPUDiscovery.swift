import Foundation
import InternCore

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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--query-gpu=\(GPUInventory.queryFields)", "--format=csv,noheader,nounits"]
        // nvidia-smi lists every GPU whatever CUDA_VISIBLE_DEVICES says; the restriction is ours.
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        // A wedged driver can hang nvidia-smi: read on another thread and give up after 10 s.
        let result = OutputBox()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            result.data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus == 0 ? String(decoding: result.data, as: UTF8.self) : nil
    }

    /// The reader thread's result (written before the semaphore is signalled, read after).
    private final class OutputBox: @unchecked Sendable {
        var data = Data()
    }
}
