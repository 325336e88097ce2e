/// Constants of the message header shared by every protocol version.
///
/// Every message starts with the two magic bytes, one byte of protocol major
/// version and one byte of ``MessageKind``. These four bytes, and the fact
/// that the body starts with the `requestId` varint, never change across
/// versions.
public enum ProtocolVersion {
    /// The protocol major version this library speaks and emits. 2 added outcome 5
    /// `preempted` and `AttemptEnd.logTail`; 3 added `AttemptEnd.outputs`; 4 added `Hello.held`;
    /// 5 added `WorkRequest.behind`; 6 carries a report's metric samples packed, in
    /// `MetricBatch`es (docs/protocol.md, Versioning).
    public static let current: UInt8 = 6
    /// The two magic bytes that start every message: `0x49 0x4E` ("IN").
    public static let magic: (UInt8, UInt8) = (0x49, 0x4E)
    /// The size of the fixed header in bytes (magic, version, kind).
    public static let headerSize = 4
}
