import ArgumentParser
import Foundation
import InternCore
import InternReport
import InternStore

/// `intern metrics`: the metric series a trial reported.
struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Show the metrics a trial reported: a summary per metric, or every point of one metric (--name).")

    @OptionGroup var location: CampaignLocation

    @OptionGroup var remote: RemoteOptions

    @Argument(help: "The trial number.")
    var trial: Int

    @Option(name: .long, help: "The attempt number within the trial (default: the latest).")
    var attempt: Int?

    @Option(name: .long, help: "Print every point of this metric (step, value, time).")
    var name: String?

    @Flag(name: .long, help: "Print CSV (attempt,seq,name,step,value,time) of every point.")
    var csv = false

    func run() async throws {
        if try await remote.forward() { return }
        try show()
    }

    /// Prints the view from the campaign directory here.
    func show() throws {
        let store = try location.open()
        let attempts = try store.attempts(trial: trial)
        let choice = AttemptChoice(trial: trial, number: attempt)
        guard let record = choice.pick(from: attempts) else { throw choice.missing(in: attempts) }
        if csv {
            print("attempt,seq,name,step,value,time")
            for point in try store.metricPoints(attempt: record.id, name: name) {
                print("\(record.number),\(point.seq),\(point.name),\(point.step),\(point.value),\(point.time)")
            }
        } else if let name {
            let points = try store.metricPoints(attempt: record.id, name: name)
            guard !points.isEmpty else { throw ValidationError("trial \(trial) reported no metric '\(name)'") }
            print(Format.table(["step", name, "time"], points.map { [String($0.step), Format.value($0.value), Format.clock($0.time)] }))
        } else {
            let series = try store.metricSeries(attempt: record.id)
            guard !series.isEmpty else {
                print("trial \(trial) (attempt \(record.number)) reported no metrics")
                return
            }
            print(Format.table(["metric", "points", "last", "step", "min", "max"], series.map {
                [$0.name, String($0.count), Format.value($0.lastValue), String($0.lastStep), Format.value($0.minValue), Format.value($0.maxValue)]
            }))
        }
    }
}
