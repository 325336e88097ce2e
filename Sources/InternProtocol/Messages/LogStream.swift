/// Which output stream of an attempt a log frame or cursor refers to.
/// A closed set: other wire values are malformed.
public enum LogStream: UInt64, Sendable, Hashable, CaseIterable {
    /// 1: standard output.
    case stdout = 1
    /// 2: standard error.
    case stderr = 2
}

extension ByteReader {
    mutating func readStream(_ field: @autoclosure Field) throws(ProtocolError) -> LogStream {
        let raw = try readUInt(field())
        guard let stream = LogStream(rawValue: raw) else {
            throw .malformed(field(), "stream must be 1 (stdout) or 2 (stderr), got \(raw)")
        }
        return stream
    }
}
