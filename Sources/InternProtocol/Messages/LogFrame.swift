/// One flush of a worker's streaming zstd compressor for one attempt stream.
///
/// Frames of one stream concatenated in ``seq`` order form a valid zstd
/// stream whose decompressed size is the sum of their ``rawLength``s. The
/// codec treats ``data`` as opaque bytes.
public struct LogFrame: Sendable, Equatable {
    /// The attempt whose output this is.
    public var attemptId: UInt64
    /// stdout or stderr.
    public var stream: LogStream
    /// 1, 2, 3, ... per attempt and stream.
    public var seq: UInt64
    /// Number of output bytes before compression.
    public var rawLength: UInt64
    /// zstd output of one flush.
    public var data: [UInt8]

    /// Creates a frame.
    public init(attemptId: UInt64, stream: LogStream, seq: UInt64, rawLength: UInt64, data: [UInt8]) {
        self.attemptId = attemptId
        self.stream = stream
        self.seq = seq
        self.rawLength = rawLength
        self.data = data
    }

    /// Exact number of bytes this frame occupies inside a ``Report``'s
    /// `frames` list (for batching frames under a message size limit).
    public var encodedSize: Int { wireSize }
}

extension LogFrame: WireCodable {
    static var minWireSize: Int { 5 }

    var wireSize: Int {
        ByteWriter.uintSize(attemptId) + ByteWriter.uintSize(stream.rawValue)
            + ByteWriter.uintSize(seq) + ByteWriter.uintSize(rawLength)
            + ByteWriter.bytesSize(data)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(attemptId)
        w.writeUInt(stream.rawValue)
        w.writeUInt(seq)
        w.writeUInt(rawLength)
        w.writeBytes(data)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        attemptId = try r.readUInt(path() + ".attemptId")
        stream = try r.readStream(path() + ".stream")
        seq = try r.readUInt(path() + ".seq")
        rawLength = try r.readUInt(path() + ".rawLength")
        data = try r.readBytes(path() + ".data")
    }
}
