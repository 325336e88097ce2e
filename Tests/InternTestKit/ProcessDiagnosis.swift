import Foundation

/// What a process that seems stuck is doing, for a failing test's message: its children with
/// their state and the kernel function each sleeps in (`wchan`: `pipe_write` is a job blocked on a
/// full pipe), and every thread's stack from gdb when gdb is installed (at most 20 s).
public enum ProcessDiagnosis {
    public static func describe(pid: Int32) -> String {
        var lines: [String] = []
        for child in children(of: pid) + [pid] {
            let stat = (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)) ?? "?"
            let wchan = (try? String(contentsOfFile: "/proc/\(child)/wchan", encoding: .utf8)) ?? "?"
            lines.append("process \(child): wchan \(wchan); stat \(stat.prefix(120))")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") {
            let gdb = Process()
            gdb.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            gdb.arguments = ["20", "/usr/bin/gdb", "-p", "\(pid)", "-batch", "-ex", "thread apply all bt 30"]
            let out = Pipe()
            gdb.standardOutput = out
            gdb.standardError = out
            if (try? gdb.run()) != nil {
                let data = out.fileHandleForReading.readDataToEndOfFile()
                gdb.waitUntilExit()
                lines.append(String(decoding: data.suffix(60_000), as: UTF8.self))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The pids whose parent is `pid`, from `/proc`.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }
}
