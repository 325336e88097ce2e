/// A guardrail on a metric a trial reports (`constraints: ["toxicity <= 0.1"]`): a completed trial
/// is feasible when its last value of every constrained metric satisfies the bound. The best trial
/// is the best feasible one; infeasible trials are reported as such.
public struct Constraint: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Comparison: String, Sendable, Hashable, Codable, CaseIterable {
        case atLeast = ">="
        case atMost = "<="
        case above = ">"
        case below = "<"
    }

    public var metric: String
    public var comparison: Comparison
    public var bound: Double

    public init(metric: String, comparison: Comparison, bound: Double) {
        self.metric = metric
        self.comparison = comparison
        self.bound = bound
    }

    /// Reads `NAME OP NUMBER` (`eval_worst_class_accuracy >= 0.85`); `nil` if it is not one.
    public init?(parsing text: String) {
        let characters = Array(text)
        guard let at = characters.firstIndex(where: { $0 == "<" || $0 == ">" }) else { return nil }
        let orEqual = at + 1 < characters.count && characters[at + 1] == "="
        let comparison: Comparison = switch (characters[at], orEqual) {
        case (">", true): .atLeast
        case ("<", true): .atMost
        case (">", false): .above
        default: .below
        }
        let name = String(characters[..<at]).trimmingSpaces
        let number = String(characters[(at + (orEqual ? 2 : 1))...]).trimmingSpaces
        let forbidden: Set<Character> = [" ", "<", ">", "="]
        guard !name.isEmpty, !name.contains(where: { forbidden.contains($0) }), let bound = Double(number), bound.isFinite else { return nil }
        self.init(metric: name, comparison: comparison, bound: bound)
    }

    public var description: String { "\(metric) \(comparison.rawValue) \(bound)" }

    /// Whether `value` satisfies the bound (NaN never does).
    public func holds(for value: Double) -> Bool {
        switch comparison {
        case .atLeast: value >= bound
        case .atMost: value <= bound
        case .above: value > bound
        case .below: value < bound
        }
    }

    /// Why a trial with these last values is infeasible, or `nil` when every constraint holds.
    /// How far `values` are from meeting every constraint: per constraint broken, its distance
    /// beyond the bound relative to the bound (at least 1 as the scale, so a bound near 0 reads in
    /// the metric's own units), a value not reported or not finite counting 1; 0 when all hold.
    /// A constrained sampler ranks infeasible trials by it (the nearer miss first).
    public static func shortfall(of constraints: [Constraint], values: [String: Double]) -> Double {
        constraints.reduce(0) { total, constraint in
            guard let value = values[constraint.metric], value.isFinite else { return total + 1 }
            guard !constraint.holds(for: value) else { return total }
            // A strict comparison broken exactly at its bound still misses, by a hair.
            return total + max(abs(value - constraint.bound) / max(abs(constraint.bound), 1), 1e-9)
        }
    }

    public static func violation(of constraints: [Constraint], values: [String: Double]) -> String? {
        let broken = constraints.compactMap { constraint -> String? in
            guard let value = values[constraint.metric] else { return "\(constraint.metric) not reported (needs \(constraint))" }
            return constraint.holds(for: value) ? nil : "\(constraint.metric) = \(value) (needs \(constraint))"
        }
        return broken.isEmpty ? nil : broken.joined(separator: "; ")
    }
}
