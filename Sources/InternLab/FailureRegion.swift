import Foundation
import InternCore

/// Where in a campaign's space a failure happened: for each parameter, the range of the numbers
/// or the set of the other values that the failing trials had. A proposed configuration *repeats*
/// a region when it names at least one of the region's parameters and every one it names lies
/// inside (a number within the range, any other value in the set); a parameter the proposal does
/// not name constrains nothing (another campaign may have had another space).
public struct FailureRegion: Sendable, Equatable, Codable {
    /// One parameter's extent among the failing trials.
    public enum Extent: Sendable, Equatable, Codable {
        /// Every value was a number: the smallest and the largest.
        case numbers(low: Double, high: Double)
        /// Some value was not a number: every value's text.
        case values([String])
    }

    public var extents: [String: Extent]

    public init(extents: [String: Extent]) {
        self.extents = extents
    }

    /// The region of the failing trials' parameters (empty when there are none).
    public init(of parameters: [Parameters]) {
        var byName: [String: [ParameterValue]] = [:]
        for set in parameters {
            for (name, value) in set.values { byName[name, default: []].append(value) }
        }
        var extents: [String: Extent] = [:]
        for (name, values) in byName {
            let numbers = values.compactMap(\.doubleValue)
            if numbers.count == values.count, let low = numbers.min(), let high = numbers.max() {
                extents[name] = .numbers(low: low, high: high)
            } else {
                extents[name] = .values(Array(Set(values.map(\.text))).sorted())
            }
        }
        self.extents = extents
    }

    /// Whether `configuration` lies in the region (see the type's comment).
    public func holds(_ configuration: [String: ParameterValue]) -> Bool {
        var shared = 0
        for (name, value) in configuration {
            guard let extent = extents[name] else { continue }
            shared += 1
            switch extent {
            case .numbers(let low, let high):
                guard let number = value.doubleValue, number >= low, number <= high else { return false }
            case .values(let texts):
                guard texts.contains(value.text) else { return false }
            }
        }
        return shared > 0
    }

    /// `lr 0.001…0.1; optimizer {sgd, adam}`: what a person reads, parameters by name.
    public var summary: String {
        extents.sorted { $0.key < $1.key }.map { name, extent in
            switch extent {
            case .numbers(let low, let high) where low == high: "\(name) \(Self.number(low))"
            case .numbers(let low, let high): "\(name) \(Self.number(low))…\(Self.number(high))"
            case .values(let texts) where texts.count > 6: "\(name) {\(texts.prefix(6).joined(separator: ", ")), …}"
            case .values(let texts): "\(name) {\(texts.joined(separator: ", "))}"
            }
        }.joined(separator: "; ")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.4g", value)
    }
}
