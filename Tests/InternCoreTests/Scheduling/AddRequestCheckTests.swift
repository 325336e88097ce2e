import InternCore
import Testing

/// A person's `add` is checked before it is queued, the same way by `intern add` and the dashboard.
struct AddRequestCheckTests {
    static let space: ParameterSpace = [
        Parameter(name: "lr", domain: .uniform(low: 0.001, high: 0.1)), Parameter(name: "opt", domain: .choice([.string("sgd"), .string("adam")])),
    ]
    static let names = (trials: "trials", hours: "hours", gpuHours: "gpuHours", nothing: "give something")

    @Test func aRequestInsideTheSpaceAndLimitsPasses_andEachProblemIsNamed() {
        let good = AddRequest(configurations: [["lr": .double(0.01), "opt": .string("adam")]], trials: 3, hours: 1, gpuHours: 0)
        #expect(good.problem(space: Self.space, names: Self.names) == nil)
        #expect(AddRequest(trials: 2).problem(space: Self.space, names: Self.names) == nil)
        let missing = AddRequest(configurations: [["lr": .double(0.01)]]).problem(space: Self.space, names: Self.names)
        #expect(missing?.hasPrefix("configuration 1 (") == true && missing?.hasSuffix("missing opt") == true, "\(missing ?? "")")
        let unknown = AddRequest(configurations: [["lr": .double(0.01), "opt": .string("sgd"), "x": .int(1)]]).problem(space: Self.space, names: Self.names)
        #expect(unknown?.hasSuffix("not in the space: x") == true, "\(unknown ?? "")")
        let outside = AddRequest(configurations: [["lr": .double(5), "opt": .string("sgd")]]).problem(space: Self.space, names: Self.names)
        #expect(outside?.hasSuffix("a value outside its domain") == true, "\(outside ?? "")")
        #expect(AddRequest(trials: -1).problem(space: Self.space, names: Self.names)?.hasPrefix("trials must be 0 to ") == true)
        #expect(AddRequest(hours: .nan).problem(space: Self.space, names: Self.names)?.hasPrefix("hours must be a number") == true)
        #expect(AddRequest(gpuHours: -2).problem(space: Self.space, names: Self.names)?.hasPrefix("gpuHours must be a number") == true)
        #expect(AddRequest().problem(space: Self.space, names: Self.names) == "nothing to add: give something")
        // An agent's configurations are left to the coordinator's review.
        #expect(AddRequest(configurations: [["lr": .double(5)]]).problem(space: Self.space, checkConfigurations: false, names: Self.names) == nil)
    }
}
