import Foundation
import Zstd

/// Deterministic generator so failures reproduce exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// Output shaped like a Hugging Face Trainer run: tqdm progress redraws with
/// `\r` plus periodic metric dicts, the workload the log store compresses.
func trainerLog(approximateBytes: Int, seed: UInt64 = 42) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    var out: [UInt8] = []
    out.reserveCapacity(approximateBytes + 256)
    let totalSteps = 10_000
    var step = 0
    var loss = 2.3
    while out.count < approximateBytes {
        step += 1
        let pct = step * 100 / totalSteps % 101
        let filled = pct / 10
        let bar = String(repeating: "█", count: filled) + String(repeating: " ", count: 10 - filled)
        let rate = Double.random(in: 8.5...10.5, using: &rng)
        let elapsed = step / 10
        let remaining = max(0, (totalSteps - step) / 10)
        let progress = String(
            format: "\r%3d%%|%@| %d/%d [%02d:%02d<%02d:%02d, %5.2fit/s]",
            pct, bar, step % totalSteps, totalSteps,
            elapsed / 60, elapsed % 60, remaining / 60, remaining % 60, rate)
        out.append(contentsOf: progress.utf8)
        if step % 10 == 0 {
            loss = max(0.01, loss - Double.random(in: -0.01...0.02, using: &rng))
            let epoch = Double(step) / Double(totalSteps) * 3
            let line = String(
                format: "\n{'loss': %.4f, 'learning_rate': %.0e, 'epoch': %.2f}\n",
                loss, 2e-05 * (1 - Double(step % totalSteps) / Double(totalSteps)), epoch)
            out.append(contentsOf: line.utf8)
        }
    }
    return out
}

/// Compresses `input` in `writeSize` pieces, flushing whenever another
/// `flushEvery` bytes have been fed; returns the bytes each flush released.
func compressWithFlushes(
    _ input: [UInt8], writeSize: Int = 1000, flushEvery: Int = 64 * 1024,
    finish: Bool = true, compressor: ZstdCompressor? = nil
) throws -> (chunks: [[UInt8]], inputEnds: [Int]) {
    let compressor = try compressor ?? ZstdCompressor()
    var chunks: [[UInt8]] = []
    var inputEnds: [Int] = []
    var pending: [UInt8] = []
    var sinceFlush = 0
    var offset = 0
    while offset < input.count {
        let end = min(offset + writeSize, input.count)
        try compressor.compress(input[offset..<end], into: &pending)
        sinceFlush += end - offset
        offset = end
        if sinceFlush >= flushEvery {
            try compressor.flush(into: &pending)
            chunks.append(pending)
            inputEnds.append(offset)
            pending = []
            sinceFlush = 0
        }
    }
    if finish {
        try compressor.finish(into: &pending)
        chunks.append(pending)
        inputEnds.append(offset)
    }
    return (chunks, inputEnds)
}

/// Runs the system `zstd -dc` on `bytes` and returns what it printed.
func decodeWithCLI(_ bytes: [UInt8]) throws -> (status: Int32, output: [UInt8]) {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("zstd-test-\(UUID().uuidString).zst")
    try Data(bytes).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
    process.arguments = ["-dc", "-q", url.path]
    let stdout = Pipe()
    process.standardOutput = stdout
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Read before waiting so a large output cannot fill the pipe and deadlock.
    let data = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, [UInt8](data))
}
