/// Coordinator -> worker: one attempt to run (kind 5). Reply to
/// ``WorkRequest``.
public struct Assignment: Sendable, Equatable {
    /// Echo of the request's id.
    public var requestId: UInt64
    /// Campaign the trial belongs to.
    public var campaign: String
    /// The trial being run.
    public var trialId: UInt64
    /// This attempt's id (unique within the campaign).
    public var attemptId: UInt64
    /// 1 for the first attempt of the trial, 2 for the first retry, ...
    public var attemptNumber: UInt64
    /// Program and arguments; `[script]` when ``shell`` is `true`.
    public var argv: [String]
    /// `true` only when the campaign explicitly asks for `/bin/sh -c`; then
    /// ``argv`` holds exactly the script.
    public var shell: Bool
    /// Environment variables for the attempt, in order.
    public var environment: StringPairs
    /// Working directory of the attempt.
    public var workdir: String
    /// Wall-clock limit in milliseconds; 0 means none.
    public var timeoutMs: UInt64
    /// Trial parameters: name -> rendered value, in order.
    public var parameters: StringPairs
    /// The worker's GPU ids this attempt gets (its `CUDA_VISIBLE_DEVICES`; empty: none).
    public var gpus: [String]
    /// Result files the job declared (`outputs: {results: results.json}`): output name -> path,
    /// relative to `workdir`, `*` allowed in its last part. The worker reads them when the job
    /// ends: their numbers become metrics, their paths the outputs (version 3).
    public var resultFiles: StringPairs

    /// Creates an `Assignment`.
    public init(
        requestId: UInt64, campaign: String, trialId: UInt64, attemptId: UInt64,
        attemptNumber: UInt64, argv: [String], shell: Bool = false,
        environment: StringPairs = [:], workdir: String, timeoutMs: UInt64 = 0,
        parameters: StringPairs = [:], gpus: [String] = [], resultFiles: StringPairs = [:]
    ) {
        self.requestId = requestId
        self.campaign = campaign
        self.trialId = trialId
        self.attemptId = attemptId
        self.attemptNumber = attemptNumber
        self.argv = argv
        self.shell = shell
        self.environment = environment
        self.workdir = workdir
        self.timeoutMs = timeoutMs
        self.parameters = parameters
        self.gpus = gpus
        self.resultFiles = resultFiles
    }
}

extension Assignment: WireCodable {
    static var minWireSize: Int { 12 }

    var wireSize: Int {
        ByteWriter.uintSize(requestId) + ByteWriter.stringSize(campaign)
            + ByteWriter.uintSize(trialId) + ByteWriter.uintSize(attemptId)
            + ByteWriter.uintSize(attemptNumber) + ByteWriter.stringListSize(argv)
            + 1 + ByteWriter.pairsSize(environment) + ByteWriter.stringSize(workdir)
            + ByteWriter.uintSize(timeoutMs) + ByteWriter.pairsSize(parameters) + ByteWriter.stringListSize(gpus)
            + ByteWriter.pairsSize(resultFiles)
    }

    func encode(to w: inout ByteWriter) {
        w.writeUInt(requestId)
        w.writeString(campaign)
        w.writeUInt(trialId)
        w.writeUInt(attemptId)
        w.writeUInt(attemptNumber)
        w.writeStringList(argv)
        w.writeBool(shell)
        w.writePairs(environment)
        w.writeString(workdir)
        w.writeUInt(timeoutMs)
        w.writePairs(parameters)
        w.writeStringList(gpus)
        w.writePairs(resultFiles)
    }

    init(from r: inout ByteReader, path: () -> String) throws(ProtocolError) {
        requestId = try r.readUInt(path() + ".requestId")
        campaign = try r.readString(path() + ".campaign")
        trialId = try r.readUInt(path() + ".trialId")
        attemptId = try r.readUInt(path() + ".attemptId")
        attemptNumber = try r.readUInt(path() + ".attemptNumber")
        argv = try r.readStringList(path() + ".argv")
        shell = try r.readBool(path() + ".shell")
        environment = try r.readPairs(path() + ".environment")
        workdir = try r.readString(path() + ".workdir")
        timeoutMs = try r.readUInt(path() + ".timeoutMs")
        parameters = try r.readPairs(path() + ".parameters")
        gpus = try r.readStringList(path() + ".gpus")
        resultFiles = try r.readPairs(path() + ".resultFiles")
    }
}
