/// Internal conformance shared by every message body and nested record:
/// exact encoded size, encoding and decoding of the fields in wire order.
protocol WireCodable {
    /// The least number of bytes one encoded value occupies (bounds list
    /// counts before allocation).
    static var minWireSize: Int { get }
    /// The exact number of bytes ``encode(to:)`` appends.
    var wireSize: Int { get }
    /// Appends the fields in wire order.
    func encode(to writer: inout ByteWriter)
    /// Reads the fields in wire order; `path` names the value for errors.
    init(from reader: inout ByteReader, path: () -> String) throws(ProtocolError)
}
