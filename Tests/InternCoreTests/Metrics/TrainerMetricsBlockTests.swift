import InternCore
import Testing

/// `Trainer.log_metrics` blocks, line by line, as transformers 4.57 and 5.25 print them.
@Suite struct TrainerMetricsBlockTests {
    static func read(_ lines: [String]) -> [MetricPoint] {
        var block = TrainerMetricsBlock()
        var points: [MetricPoint] = []
        for line in lines {
            Array(line.utf8).withUnsafeBytes { bytes in
                if block.wants(bytes) { points += block.read(bytes) }
            }
        }
        return points
    }

    @Test func rowsAfterTheHeaderArePoints_untilAnotherLine() {
        let points = Self.read([
            "***** train metrics *****",
            "  epoch                    =        1.0",
            "  total_flos               =        0GF",
            "  train_loss               =     2.3391",
            "  train_runtime            = 0:00:01.73",
            "  train_samples_per_second =    230.532",
            "***** eval metrics *****",
            "  eval_loss               =        nan",
            "  eval_runtime            = 0:00:00.01",
            "{'not': 'a row'}",
            "  eval_loss               =      1.849",
        ])
        #expect(points.map(\.name) == ["epoch", "train_loss", "train_samples_per_second", "eval_loss"])
        #expect(points[1].value == 2.3391)
        #expect(points[3].value.isNaN)
    }

    @Test func linesThatAreNotRowsCloseTheBlock() {
        #expect(Self.read(["  eval_loss = 1.0"]).isEmpty)  // no header
        #expect(Self.read(["***** eval metrics *****", "", "  eval_loss = 1.0"]).isEmpty)
        #expect(Self.read(["***** eval metrics *****", " eval_loss = 1.0"]).isEmpty)       // one space
        #expect(Self.read(["***** eval metrics *****", "  eval_loss =1.0"]).isEmpty)       // no space after =
        #expect(Self.read(["***** eval metrics *****", "  eval_loss= 1.0"]).isEmpty)       // none before
        #expect(Self.read(["***** eval metrics *****", "  eval loss = 1.0"]).isEmpty)      // a space in the key
        #expect(Self.read(["***** eval metrics *****", "  step = 3", "  a = 1 2"]).isEmpty)
        #expect(Self.read(["***** test metrics *****", "  a = 1"]).map(\.name) == ["a"])
        #expect(Self.read(["*****  metrics *****", "  a = 1"]).isEmpty)  // no NAME between the two
        #expect(Self.read(["***** metrics *****", "  a = 1"]).isEmpty)
    }

    @Test func escapesAndTrailingBlanksAreRemovedFirst() {
        #expect(Self.read(["\u{1B}[1m***** eval metrics *****\u{1B}[0m", "  eval_loss = \u{1B}[32m1.5\u{1B}[0m  \t"]).map(\.value) == [1.5])
        #expect(Self.read(["\t***** eval metrics *****", "  a = 2"]).map(\.value) == [2])
    }
}
