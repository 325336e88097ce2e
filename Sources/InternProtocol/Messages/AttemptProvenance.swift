/// What an attempt ran with, captured by its worker when the job started: the code version of
/// its working directory, the interpreter and packages, CUDA and the driver, the host. Sent in a
/// ``Report`` (version 3) and acknowledged in ``ReportAck/provenanceStored``.
public struct AttemptProvenance: Sendable, Equatable {
    public var attemptId: UInt64
    /// `git.commit`, `git.branch`, `git.dirty`, `git.diff` (a blob digest), `python`,
    /// `packages` (a blob digest), `cuda`, `driver`, `hostname` (docs/protocol.md).
    public var fields: StringPairs
    /// Blobs the fields name by digest (the diff, the package list), zstd-compressed. A worker
    /// sends each digest's content once in its life; the coordinator stores it once.
    public var blobs: [ProvenanceBlob]

    public init(attemptId: UInt64, fields: StringPairs, blobs: [ProvenanceBlob] = []) {
        self.attemptId = attemptId
        self.fields = fields
        self.blobs = blobs
    }

    /// Exact number of bytes this record occupies inside a ``Report``.
    public var encodedSize: Int { wireSize }
}

/// Content named by its SHA-256 (hex): `kind` says what it is (`git.diff`, `packages`).
public struct ProvenanceBlob: Sendable, Equatable {
    public var digest: String
    public var kind: String
    /// The content's length before compression.
    public var rawLength: UInt64
    /// One zstd frame.
    public var data: [UInt8]

    public init(digest: String, kind: String, rawLength: UInt64, data: [UInt8]) {
        self.digest = digest
        self.kind = kind
        self.rawLength = rawLength
        self.data = data
    }
}

extension ProvenanceBlob: WireCodable {
    static var minWireSize: Int { 4 }

    var wireSize: Int {
        ByteWriter.stringSize(digest) + ByteWriter.stringSize(kind) + ByteWriter.uintSize(rawLength) + ByteWriter.bytesSize(data)
    }

    func encode(to w: inout ByteWriter) {
        w.writeString(digest)
        w.writeString(kind)
        w.writeUInt(rawLength)
        w.writeBytes(data)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        digest = try r.readString(path() + ".digest")
        kind = try r.readString(path() + ".kind")
        rawLength = try r.readUInt(path() + ".rawLength")
        data = try r.readBytes(path() + ".data")
    }
}

extension AttemptProvenance: WireCodable {
    static var minWireSize: Int { 3 }

    var wireSize: Int {
        ByteWriter.uintSize(attemptId) + ByteWriter.pairsSize(fields) + ByteWriter.listSize(blobs)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(attemptId)
        w.writePairs(fields)
        w.writeList(blobs)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        attemptId = try r.readUInt(path() + ".attemptId")
        fields = try r.readPairs(path() + ".fields")
        blobs = try r.readRecords(path() + ".blobs", ProvenanceBlob.self)
    }
}
