/// One metric observation taken from a line a job printed.
///
/// `step` is the value of a `step` (or `global_step`) key found on the same line, if any;
/// a line without one gives points with `step == nil`, and the caller orders them by the
/// line's position in the log.
public struct MetricPoint: Sendable, Equatable {
    /// The metric's name exactly as printed (`loss`, `eval_accuracy`, `rewards/chosen`):
    /// valid UTF-8, no control characters, at most `MetricLineParser.maxNameLength` bytes.
    public var name: String
    /// The value; may be NaN or ±infinity when the job printed `nan`, `inf`, `NaN`, `Infinity`.
    public var value: Double
    /// The step the line declared, if any.
    public var step: Int64?

    public init(name: String, value: Double, step: Int64? = nil) {
        self.name = name
        self.value = value
        self.step = step
    }
}
