/// Admin client -> coordinator: run an admin command on the campaign (kind 11), e.g.
/// `["status"]`, `["trials", "--json"]`, `["cancel", "12"]`. The coordinator runs it against its
/// own campaign directory and answers ``AdminReply``.
public struct AdminRequest: Sendable, Equatable {
    public var requestId: UInt64
    /// The admin command's name and arguments, as typed after `intern`.
    public var arguments: [String]

    public init(requestId: UInt64, arguments: [String]) {
        self.requestId = requestId
        self.arguments = arguments
    }
}

extension AdminRequest: WireCodable {
    static var minWireSize: Int { 2 }

    var wireSize: Int { ByteWriter.uintSize(requestId) + ByteWriter.stringListSize(arguments) }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeStringList(arguments)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        arguments = try r.readStringList(path() + ".arguments")
    }
}

/// Coordinator -> admin client: what the admin command printed and its exit status (kind 12).
public struct AdminReply: Sendable, Equatable {
    public var requestId: UInt64
    /// The command's exit status (0 success, 64 usage, 75 for `logs --from-byte`: more to come).
    public var exitCode: Int64
    public var stdout: [UInt8]
    public var stderr: [UInt8]

    public init(requestId: UInt64, exitCode: Int64, stdout: [UInt8], stderr: [UInt8]) {
        self.requestId = requestId
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }
}

extension AdminReply: WireCodable {
    static var minWireSize: Int { 4 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.intSize(exitCode) + ByteWriter.bytesSize(stdout) + ByteWriter.bytesSize(stderr)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeInt(exitCode)
        w.writeBytes(stdout)
        w.writeBytes(stderr)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        exitCode = try r.readInt(path() + ".exitCode")
        stdout = try r.readBytes(path() + ".stdout")
        stderr = try r.readBytes(path() + ".stderr")
    }
}
