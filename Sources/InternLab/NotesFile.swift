import Foundation

/// The notes, one JSON object a line, in `lab-notes.jsonl` next to the lab's database: the only
/// thing the lab knows that no campaign store holds, so it is kept out of the database (which can
/// be deleted and rebuilt from the stores at any time) and only ever appended to.
public struct NotesFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Every note, the oldest first; none when the file does not exist.
    public func read() throws(LabError) -> [LabNote] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError(code: .notes, message: "cannot read the lab's notes in \(path)")
        }
        var notes: [LabNote] = []
        let decoder = JSONDecoder()
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.allSatisfy({ $0 == 0x20 }) {
            do {
                notes.append(try decoder.decode(LabNote.self, from: Data(line)))
            } catch {
                // A half-written last line (a crash mid-append) is skipped; anything else is said.
                if index == data.split(separator: UInt8(ascii: "\n")).count - 1, data.last != UInt8(ascii: "\n") { continue }
                throw LabError(code: .notes, message: "\(path):\(index + 1): not a note (\(error)); fix or remove the line", underlying: error)
            }
        }
        return notes
    }

    /// Appends `note` as one line (with O_APPEND: two writers never interleave within a line).
    public func append(_ note: LabNote) throws(LabError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(note) else { throw LabError(code: .notes, message: "cannot encode the note") }
        line.append(UInt8(ascii: "\n"))
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LabError(code: .notes, message: "cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw LabError(code: .notes, message: "cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    /// The file's size and modification time, which say whether the lab's copy of the notes is current.
    public func stamp() -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "none" }
        return "\(info.st_size).\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }
}
