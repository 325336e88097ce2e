/// Ended trials and attempts are kept packed in the machine's tables (see ``RecordTable``).

/// What the machine's scans across every trial read: counts by status, the best trial, a
/// stage's completed trials.
/// Fields in this order, the stage as 4 bytes: 24 bytes, kept for every trial.
public struct TrialSummary: Sendable, Equatable {
    public var status: TrialStatus
    public var isRepeat: Bool
    public var feasible: Bool?
    var stageIndex: Int32
    public var objective: Double?

    public var stage: Int { Int(stageIndex) }

    /// A completed trial of `stage` that counts as a result: feasible, and not a validation repeat.
    public func isResult(ofStage stage: Int) -> Bool {
        self.stage == stage && status == .completed && feasible != false && !isRepeat
    }
}

extension TrialRecord: SettlingRecord {
    public var isSettled: Bool { status.isTerminal }

    public var summary: TrialSummary {
        TrialSummary(status: status, isRepeat: isRepeat, feasible: feasible, stageIndex: Int32(clamping: stage), objective: objective)
    }

    public func pack(into packer: inout RecordPacker) {
        packer.write(id)
        parameters.pack(into: &packer)
        packer.write(status)
        packer.write(objective) { $0.write($1) }
        packer.write(attemptCount)
        packer.write(retriesUsed)
        packer.write(lostCount)
        retryCounts.pack(into: &packer)
        packer.write(notBefore) { $0.write($1) }
        packer.write(note) { $0.write($1) }
        packer.write(feasible) { $0.write($1) }
        packer.write(stage)
        packer.write(parent) { $0.write($1) }
        packer.write(inputs) { $0.write($1) }
        packer.write(UInt64(parents.count))
        for parent in parents { packer.write(parent) }
        packer.write(outputs) { $0.write($1) }
        packer.write(repeatOf) { $0.write($1) }
        packer.write(repeatNumber) { $0.write($1) }
        packer.write(seed) { $0.write($1) }
        packer.write(createdAt)
        let createdAt = createdAt
        packer.write(endedAt) { $0.write($1 - createdAt) }
    }

    public init(unpacking unpacker: inout RecordUnpacker) {
        let id: TrialID = unpacker.read()
        self.init(id: id, parameters: Parameters(unpacking: &unpacker), createdAt: 0)
        status = unpacker.read()
        objective = unpacker.read { $0.read() as Double }
        attemptCount = unpacker.read()
        retriesUsed = unpacker.read()
        lostCount = unpacker.read()
        retryCounts = RetryCounts(unpacking: &unpacker)
        notBefore = unpacker.read { $0.read() as Timestamp }
        note = unpacker.read { $0.read() as String }
        feasible = unpacker.read { $0.read() as Bool }
        stage = unpacker.read()
        parent = unpacker.read { $0.read() as TrialID }
        inputs = unpacker.read { $0.read() as String }
        parents = (0..<Int(unpacker.read() as UInt64)).map { _ in unpacker.read() as TrialID }
        outputs = unpacker.read { $0.read() as String }
        repeatOf = unpacker.read { $0.read() as TrialID }
        repeatNumber = unpacker.read { $0.read() as Int }
        seed = unpacker.read { $0.read() as Int }
        createdAt = unpacker.read()
        let createdAt = createdAt
        endedAt = unpacker.read { createdAt + ($0.read() as Timestamp) }
    }
}

extension AttemptRecord: SettlingRecord {
    public var isSettled: Bool { status.isTerminal }

    public var summary: AttemptStatus { status }

    public func pack(into packer: inout RecordPacker) {
        packer.write(id)
        packer.write(trial)
        packer.write(number)
        packer.write(word: worker.rawValue)
        packer.write(incarnation)
        packer.write(status)
        packer.write(argv)
        packer.write(assignedAt)
        let assignedAt = assignedAt
        packer.write(startedAt) { $0.write($1 - assignedAt) }
        packer.write(endedAt) { $0.write($1 - assignedAt) }
        packer.write(exitCode) { $0.write($1) }
        packer.write(signal) { $0.write($1) }
        packer.write(detail) { $0.write($1) }
        packer.write(wallMillis) { $0.write($1) }
        packer.write(userCPUMillis) { $0.write($1) }
        packer.write(systemCPUMillis) { $0.write($1) }
        packer.write(peakRSSBytes) { $0.write($1) }
        packer.write(objective) { $0.write($1) }
        packer.write(requestID) { $0.write($1) }
        packer.write(gpus)
        packer.write(constraintValues) { $0.write($1) }
        packer.write(outputs) { $0.write($1) }
        packer.write(environment) { $0.write($1) }
        packer.write(failureClass) { $0.write($1) }
        packer.write(failureSignature) { $0.write($1) }
        packer.write(failureReason) { $0.write($1) }
        packer.write(signatureText) { $0.write($1) }
        packer.write(failureExcerpt) { $0.write($1) }
    }

    public init(unpacking unpacker: inout RecordUnpacker) {
        let id: AttemptID = unpacker.read()
        let trial: TrialID = unpacker.read()
        let number: Int = unpacker.read()
        let worker = WorkerID(unpacker.readWord())
        let incarnation: Incarnation = unpacker.read()
        let status: AttemptStatus = unpacker.read()
        self.init(
            id: id, trial: trial, number: number, worker: worker, incarnation: incarnation, status: status,
            argv: unpacker.read(), assignedAt: unpacker.read())
        let assignedAt = assignedAt
        startedAt = unpacker.read { assignedAt + ($0.read() as Timestamp) }
        endedAt = unpacker.read { assignedAt + ($0.read() as Timestamp) }
        exitCode = unpacker.read { $0.read() as Int32 }
        signal = unpacker.read { $0.read() as Int32 }
        detail = unpacker.read { $0.read() as String }
        wallMillis = unpacker.read { $0.read() as UInt64 }
        userCPUMillis = unpacker.read { $0.read() as UInt64 }
        systemCPUMillis = unpacker.read { $0.read() as UInt64 }
        peakRSSBytes = unpacker.read { $0.read() as UInt64 }
        objective = unpacker.read { $0.read() as Double }
        requestID = unpacker.read { $0.read() as UInt64 }
        gpus = unpacker.read()
        constraintValues = unpacker.read { $0.read() as Double }
        outputs = unpacker.read { $0.read() as String }
        environment = unpacker.read { $0.read() as String }
        failureClass = unpacker.read { $0.read() as FailureClass }
        failureSignature = unpacker.read { $0.read() as String }
        failureReason = unpacker.read { $0.read() as String }
        signatureText = unpacker.read { $0.read() as String }
        failureExcerpt = unpacker.read { $0.read() as String }
    }
}

extension Parameters {
    func pack(into packer: inout RecordPacker) {
        packer.write(values) { packer, value in
            switch value {
            case .int(let int):
                packer.write(0 as UInt64)
                packer.write(int)
            case .double(let double):
                packer.write(1 as UInt64)
                packer.write(double)
            case .string(let string):
                packer.write(2 as UInt64)
                packer.write(string)
            case .bool(let bool):
                packer.write(3 as UInt64)
                packer.write(bool)
            }
        }
    }

    init(unpacking unpacker: inout RecordUnpacker) {
        self.init(unpacker.read { unpacker -> ParameterValue in
            switch unpacker.read() as UInt64 {
            case 0: .int(unpacker.read())
            case 1: .double(unpacker.read())
            case 2: .string(unpacker.read())
            case 3: .bool(unpacker.read())
            case let tag: preconditionFailure("a packed parameter value has tag \(tag)")
            }
        })
    }
}

extension RetryCounts {
    func pack(into packer: inout RecordPacker) {
        let counts = FailureClass.allCases.compactMap { failureClass in byClass[failureClass].map { (failureClass, $0) } }
        packer.write(UInt64(counts.count))
        for (failureClass, count) in counts {
            packer.write(failureClass)
            packer.write(count)
        }
    }

    init(unpacking unpacker: inout RecordUnpacker) {
        var byClass: [FailureClass: Int] = [:]
        for _ in 0..<Int(unpacker.read() as UInt64) {
            let failureClass: FailureClass = unpacker.read()
            byClass[failureClass] = unpacker.read()
        }
        self.init(byClass)
    }
}
