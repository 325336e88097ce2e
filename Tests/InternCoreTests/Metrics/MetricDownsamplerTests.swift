import InternCore
import Testing

@Suite struct MetricDownsamplerTests {
    typealias Point = MetricDownsampler.Point

    func run(_ points: [Point], window: Int64 = 100) -> [Point] {
        var sampler = MetricDownsampler(windowMillis: window, exactPoints: 0)
        var out: [Point] = []
        for point in points { sampler.offer(point) { out.append($0) } }
        sampler.finish { out.append($0) }
        return out
    }

    @Test func firstPointsOfEachMetric_passUntouched_evenInOneBurst_thenThinningStarts() {
        // A block-buffered job delivers 17 epochs of eval lines at once: all are kept.
        var sampler = MetricDownsampler(windowMillis: 100, exactPoints: 20)
        var out: [Point] = []
        for i in 0..<17 { sampler.offer(Point(name: "eval_accuracy", step: Int64(i), value: Double(i), time: 0)) { out.append($0) } }
        #expect(out.count == 17)
        // Past the budget, the same burst is thinned (first, min, max, last).
        for i in 17..<100 { sampler.offer(Point(name: "eval_accuracy", step: Int64(i), value: Double(i % 10), time: 0)) { out.append($0) } }
        sampler.finish { out.append($0) }
        #expect(out.count < 40)
        #expect(out.last?.step == 99)
    }

    @Test func sparseMetric_passesThroughUntouched() {
        let points = (0..<10).map { Point(name: "eval_loss", step: Int64($0), value: Double($0), time: Int64($0) * 1000) }
        #expect(run(points) == points)
    }

    @Test func denseMetric_keepsFirstMinMaxAndLastOfEachWindow_inOrder() {
        let values: [Double] = [5, 3, 9, 1, 7, 4]
        let points = values.enumerated().map { Point(name: "loss", step: Int64($0.offset), value: $0.element, time: Int64($0.offset)) }
        let out = run(points)
        #expect(out.map(\.value) == [5, 9, 1, 4])
        #expect(out.map(\.step) == [0, 2, 3, 5])
    }

    @Test func lastAndBestValues_areAlwaysKept_overThousandsOfPoints() {
        var generator = MetricsSplitMix64(seed: 3)
        var points: [Point] = []
        for i in 0..<50_000 {
            let value = Double(generator.next() % 10_000) / 7
            points.append(Point(name: i % 2 == 0 ? "loss" : "lr", step: Int64(i / 2), value: value, time: Int64(i / 10)))
        }
        let out = run(points)
        #expect(out.count < points.count / 5)
        for name in ["loss", "lr"] {
            let all = points.filter { $0.name == name }
            let kept = out.filter { $0.name == name }
            #expect(kept.last == all.last)
            let keptValues: [Double] = kept.map { $0.value }
            let allValues: [Double] = all.map { $0.value }
            #expect(keptValues.min() == allValues.min())
            #expect(keptValues.max() == allValues.max())
            let steps: [Int64] = kept.map { $0.step }
            #expect(steps == steps.sorted())
        }
    }

    @Test func flush_forwardsClosedWindowsWithoutWaitingForTheNextPoint() {
        var sampler = MetricDownsampler(windowMillis: 100, exactPoints: 0)
        var out: [Point] = []
        for i in 0..<5 { sampler.offer(Point(name: "loss", step: Int64(i), value: Double(10 - i), time: Int64(i))) { out.append($0) } }
        #expect(out.count == 1)
        sampler.flush(now: 50) { out.append($0) }
        #expect(out.count == 1)
        sampler.flush(now: 100) { out.append($0) }
        #expect(out.last?.value == 6)
    }

    @Test func nan_canBeTheLastValue_butNeverAnExtreme() {
        let points = [Point(name: "loss", step: 0, value: 1, time: 0), Point(name: "loss", step: 1, value: 2, time: 1),
                      Point(name: "loss", step: 2, value: .nan, time: 2)]
        let out = run(points)
        #expect(out.count == 3)
        #expect(out.last?.value.isNaN == true)
    }
}
