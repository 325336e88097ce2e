/// What a reduce stage's trial receives (`reduce: true`): every trial of its map stage that
/// completed, with its item, parameters and declared outputs, as one JSON document that the job
/// reads from the file `$INTERN_INPUTS_FILE`:
///
/// ```json
/// {"stage": "shards", "inputs": [
///   {"trial": 1, "item": "/data/shards/000.jsonl", "parameters": {"item": "/data/shards/000.jsonl"},
///    "outputs": {"kept": "/out/000.jsonl"}}, ...]}
/// ```
///
/// The coordinator sends the document in the assignment's environment under
/// ``carrierVariable``; the worker writes it to a file of its own and gives the job
/// ``fileVariable`` instead (a document of thousands of shards is too long for one environment
/// variable of a process).
public struct ReduceInputs: Sendable, Equatable {
    /// The assignment's variable that carries the document to the worker (never to the job).
    public static let carrierVariable = "INTERN_INPUTS_JSON"
    /// The job's variable: the path of the file holding the document.
    public static let fileVariable = "INTERN_INPUTS_FILE"

    /// One trial that fed the reduce.
    public struct Input: Sendable, Equatable {
        public var trial: TrialID
        public var parameters: [(String, String)]
        public var outputs: [(String, String)]

        public init(trial: TrialID, parameters: [(String, String)], outputs: [(String, String)]) {
            self.trial = trial
            self.parameters = parameters
            self.outputs = outputs
        }

        public static func == (a: Input, b: Input) -> Bool {
            a.trial == b.trial && a.parameters.elementsEqual(b.parameters, by: ==) && a.outputs.elementsEqual(b.outputs, by: ==)
        }
    }

    /// The feeding stage's name, and its trials in trial order.
    public var stage: String
    public var inputs: [Input]

    public init(stage: String, inputs: [Input]) {
        self.stage = stage
        self.inputs = inputs
    }

    /// The inputs of `parents` (those that `record` knows), names sorted.
    public init(stage: String, parents: [TrialID], record: (TrialID) -> TrialRecord?) {
        self.stage = stage
        inputs = parents.compactMap { id in
            record(id).map { trial in
                Input(
                    trial: id, parameters: trial.parameters.sortedPairs.map { ($0.0, $0.1.text) },
                    outputs: trial.outputs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            }
        }
    }

    /// The document, compact JSON (`item` repeated from the parameters when the feeder maps).
    public var json: String {
        var out = "{\"stage\":"
        JSONText.appendString(stage, to: &out)
        out += ",\"inputs\":["
        for (index, input) in inputs.enumerated() {
            if index > 0 { out += "," }
            out += "{\"trial\":\(input.trial)"
            if let item = input.parameters.first(where: { $0.0 == ItemMap.parameterName })?.1 {
                out += ",\"item\":"
                JSONText.appendString(item, to: &out)
            }
            out += ",\"parameters\":"
            Self.appendObject(input.parameters, to: &out)
            out += ",\"outputs\":"
            Self.appendObject(input.outputs, to: &out)
            out += "}"
        }
        return out + "]}"
    }

    private static func appendObject(_ pairs: [(String, String)], to out: inout String) {
        out += "{"
        for (index, (name, value)) in pairs.enumerated() {
            if index > 0 { out += "," }
            JSONText.appendString(name, to: &out)
            out += ":"
            JSONText.appendString(value, to: &out)
        }
        out += "}"
    }
}
