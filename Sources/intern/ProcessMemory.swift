import Glibc

/// A command that runs for hours (a coordinator, a worker): it gives memory it no longer uses
/// back to the system (``ProcessMemory``).
protocol LongRunningCommand {}

/// Gives memory a long-running process no longer uses back to the system.
///
/// glibc's malloc serves a block over its mmap threshold with `mmap` and unmaps it when it is
/// freed, but each such free raises the threshold to that block's size (up to 32 MiB): after one
/// 16 MiB message the next ones come from a heap. A heap of a thread arena other than the main
/// one keeps up to twice that threshold at its top, and `malloc_trim` never shrinks such a top:
/// a coordinator sent 24 strangers' messages of 15 MiB went from 38 to 173 MiB resident, three
/// arenas holding 31 to 47 MB each with a few KB in use, for good. So a long-running command
/// allocates from the main arena only (`M_ARENA_MAX` 1; small blocks still come from each
/// thread's cache), and every 2 s, when its resident size grew by 16 MiB or more since the last
/// look, `malloc_trim(0)` hands every free page back, wherever it lies: after the same 24
/// messages, 38 MiB.
///
/// Not fixed thresholds (`M_MMAP_THRESHOLD`): blocks over one are mapped and unmapped one by one,
/// with fresh zeroed pages each time; at 4 MiB the coordinator ingested logs a quarter slower,
/// at 256 KiB `intern grep` ran at half its speed. Not for short commands: one arena serialises
/// `intern grep`'s threads (it searched at about half its speed).
enum ProcessMemory {
    /// `malloc_trim` and `mallopt` live in <malloc.h>, which Swift's Glibc module does not include.
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    /// `M_ARENA_MAX` in <malloc.h>.
    private static let arenaMax: Int32 = -8

    /// How much the resident size must grow before a trim.
    static let growth = 16 << 20

    /// Call before the command starts its threads.
    static func returnFreedMemory() {
        guard let trim = dlsym(nil, "malloc_trim").map({ unsafeBitCast($0, to: MallocTrim.self) }),
              let mallopt = dlsym(nil, "mallopt").map({ unsafeBitCast($0, to: Mallopt.self) })
        else { return }
        _ = mallopt(arenaMax, 1)
        Task.detached(priority: .background) {
            var settled = residentBytes()
            while true {
                try? await Task.sleep(for: .seconds(2))
                let now = residentBytes()
                guard now >= settled + growth else {
                    settled = min(settled, now)
                    continue
                }
                _ = trim(0)
                settled = residentBytes()
            }
        }
    }

    /// The resident size, from `/proc/self/statm` (its second field, in pages).
    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        let fields = buffer[0..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension CoordinatorCommand: LongRunningCommand {}
extension Run: LongRunningCommand {}
extension Resume: LongRunningCommand {}
extension Serve: LongRunningCommand {}
extension WorkerCommand: LongRunningCommand {}
