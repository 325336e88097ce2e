import Glibc

/// Where a spilled frame's bytes are on disk.
struct SpoolLocation: Sendable, Equatable {
    var segment: Int
    var offset: Int64
    var length: Int
}

/// The worker's on-disk spool: compressed log frames the coordinator has not acknowledged yet,
/// once more of them wait than the outbox keeps in memory (the coordinator is away, or slow).
/// Append-only segment files in one directory; a segment is deleted as soon as the last frame
/// in it is acknowledged, so the disk holds about what is unacknowledged and nothing more.
///
/// Only ever used under the outbox's lock (hence unchecked Sendable). A spool belongs to one worker incarnation: what a
/// previous incarnation left is deleted on start (the coordinator fences it off anyway).
final class SpoolFiles: @unchecked Sendable {
    let directory: String
    let segmentBytes: Int64
    private var segments: [Int: Segment] = [:]
    private var current = 0

    private struct Segment {
        var fd: Int32
        var size: Int64
        /// Frames written to it and not yet released.
        var live: Int
    }

    /// Creates (or empties) `directory`, mode 0700.
    init(directory: String, segmentBytes: Int64 = 64 << 20) throws(SpoolError) {
        self.directory = directory
        self.segmentBytes = max(1 << 16, segmentBytes)
        try Self.makeDirectories(directory)
        Self.removeSegments(in: directory)
    }

    deinit {
        for segment in segments.values { close(segment.fd) }
    }

    /// Appends `bytes` to the current segment (a new one when it is full).
    func write(_ bytes: [UInt8]) throws(SpoolError) -> SpoolLocation {
        if segments[current] == nil || segments[current]!.size >= segmentBytes {
            try open(segment: current + (segments[current] == nil ? 0 : 1))
        }
        var segment = segments[current]!
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                pwrite(segment.fd, buffer.baseAddress! + written, bytes.count - written, off_t(segment.size) + off_t(written))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SpoolError("cannot write the spool in \(directory): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        let location = SpoolLocation(segment: current, offset: segment.size, length: bytes.count)
        segment.size += Int64(bytes.count)
        segment.live += 1
        segments[current] = segment
        return location
    }

    /// Reads a frame's bytes back.
    func read(_ location: SpoolLocation) throws(SpoolError) -> [UInt8] {
        guard let segment = segments[location.segment] else {
            throw SpoolError("spool segment \(location.segment) is gone")
        }
        var bytes = [UInt8](repeating: 0, count: location.length)
        var done = 0
        while done < location.length {
            let n = bytes.withUnsafeMutableBytes { buffer in
                pread(segment.fd, buffer.baseAddress! + done, location.length - done, off_t(location.offset) + off_t(done))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw SpoolError("cannot read the spool in \(directory): short read") }
            done += n
        }
        return bytes
    }

    /// The frame at `location` is acknowledged: a segment no frame needs any more is deleted
    /// (the current one is emptied and reused).
    func release(_ location: SpoolLocation) {
        guard var segment = segments[location.segment] else { return }
        segment.live -= 1
        guard segment.live <= 0 else {
            segments[location.segment] = segment
            return
        }
        if location.segment == current {
            _ = ftruncate(segment.fd, 0)
            segment.size = 0
            segment.live = 0
            segments[location.segment] = segment
        } else {
            close(segment.fd)
            unlink(path(location.segment))
            segments[location.segment] = nil
        }
    }

    /// Bytes the segment files hold on disk.
    var diskBytes: Int64 { segments.values.reduce(0) { $0 + $1.size } }

    /// Deletes every segment (the worker is done).
    func removeAll() {
        for (id, segment) in segments {
            close(segment.fd)
            unlink(path(id))
        }
        segments = [:]
    }

    private func open(segment id: Int) throws(SpoolError) {
        let fd = Glibc.open(path(id), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SpoolError("cannot create a spool segment in \(directory): \(String(cString: strerror(errno)))")
        }
        segments[id] = Segment(fd: fd, size: 0, live: 0)
        current = id
    }

    private func path(_ id: Int) -> String { "\(directory)/segment-\(id).zst-frames" }

    /// Creates `directory` and its parents (mode 0700 for those it creates).
    static func makeDirectories(_ directory: String) throws(SpoolError) {
        var path = ""
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            path += "/" + component
            if mkdir(path, 0o700) != 0, errno != EEXIST {
                throw SpoolError("cannot create the spool directory \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func removeSegments(in directory: String) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("segment-") { unlink("\(directory)/\(name)") }
        }
    }
}

/// The spool cannot be written or read.
struct SpoolError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
