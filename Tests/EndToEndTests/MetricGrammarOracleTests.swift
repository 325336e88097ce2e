import Foundation
import InternCore
import InternTestKit
import Testing

/// The metric grammar as docs/campaign.md states it, read two ways that must agree: the worker's
/// parser, and Fixtures/ml-stack/oracle.py, an independent reading in Python (objects through
/// Python's own `ast`, numbers by a regular expression) that also wrote the captures' expected
/// points. Thousands of generated lines in every form, with escape sequences, progress-bar text,
/// backspaces and wrong values spliced in at random, so that a worker written in another language
/// from the docs could be checked the same way.
@Suite struct MetricGrammarOracleTests {
    static let oracle = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/ml-stack/oracle.py").path

    static let keys = ["loss", "eval_loss", "rewards/margins", "step", "global_step", "epoch", "x y", "é_acc", "", "a:b", "v_num", "lr"]
    static let values = [
        "1.5", "'4.703'", "\"0.25\"", "'nan'", "'-inf'", "'inf'", "nan", "-inf", "Infinity", "-Infinity", "NaN", "np.float64(0.5)",
        "tensor(0.25, device='cuda:0')", "'abc'", "' 1'", "True", "None", "null", "[1, 2]", "{'a': 1}", "'5e-05'", "1e400",
        "-0", "'7'", "3", "'1_000'", "'.5'", "'5.'", "2.5e-3", "'-122'", "np.float32(-1e-3)", "(1, 2)", "b'1.5'",
    ]
    static let escapes = ["\u{1B}[A", "\u{1B}[1m", "\u{1B}[0m", "\u{1B}[1;32m", "\u{1B}]0;title\u{07}", "\u{1B}]8;;http://x\u{1B}\\", "\u{1B}(B", "\u{1B}[2K", "\u{1B}7"]
    static let bars = [
        "  3%|\u{258E}| 4/120 [00:01<00:35, 3.30it/s]", " 20%|##   | 10/50 [1:00:01<00:00, 47.32it/s]", "x [12:34]", "[00:00<?, ?it/s]",
        "INFO ", "[gpt2] ", "100%| 5/5 [00:00<00:00] ", "",
    ]

    static func object<G: RandomNumberGenerator>(_ rng: inout G) -> String {
        let count = Int.random(in: 0...5, using: &rng)
        let pairs = (0..<count).map { _ -> String in
            let key = keys.randomElement(using: &rng)!
            let quote = Bool.random(using: &rng) ? "'" : "\""
            return "\(quote)\(key)\(quote): \(values.randomElement(using: &rng)!)"
        }
        return "{" + pairs.joined(separator: ", ") + (Int.random(in: 0..<8, using: &rng) == 0 ? ",}" : "}")
    }

    static func number<G: RandomNumberGenerator>(_ rng: inout G) -> String {
        ["0.1582", "1.2345e-05", "nan", "inf", "-inf", "12", "1.", ".5", "abc", "1.5.5", "0x1", "-0.0", "1e", "+3", "NaN"].randomElement(using: &rng)!
    }

    static func line<G: RandomNumberGenerator>(_ rng: inout G) -> String {
        var text: String
        switch Int.random(in: 0..<4, using: &rng) {
        case 0:
            text = bars.randomElement(using: &rng)! + object(&rng)
        case 1:
            let items = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                "\(keys.randomElement(using: &rng)!)=\(number(&rng))"
            }
            text = "Epoch 0: 50%|##| 10/20 [\(["00:01<00:02", "1:00:00<?", "12:34", "x:1", "1:2"].randomElement(using: &rng)!), 3.3it/s"
                + items.map { ", " + $0 }.joined() + "]"
        case 2:
            let pairs = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                "\([" - ", " -  ", "- ", " - "].randomElement(using: &rng)!)\(keys.randomElement(using: &rng)!):\([" ", "", "  "].randomElement(using: &rng)!)\(number(&rng))"
            }
            text = ["32/32 \u{2501}\u{2501} 0s 3ms/step", "", " ", "x"].randomElement(using: &rng)! + pairs.joined()
        default:
            text = object(&rng)
        }
        var scalars = Array(text.unicodeScalars)
        // Whole escape sequences where colours go, at the edges of tokens (also inside keys and
        // strings); sequences cut short, which take the bytes after them, are unit-tested.
        let edges = Set("{}[]()'\":, =|-".unicodeScalars)
        // Positions are chosen in the text before any goes in (never inside another sequence).
        let positions = (0..<Int.random(in: 0...3, using: &rng)).map { _ in Int.random(in: 0...scalars.count, using: &rng) }
            .filter { at in at == 0 || at == scalars.count || edges.contains(scalars[at - 1]) || edges.contains(scalars[at]) }
        for at in positions.sorted(by: >) {
            scalars.insert(contentsOf: escapes.randomElement(using: &rng)!.unicodeScalars, at: at)
        }
        var result = String(String.UnicodeScalarView(scalars))
        result += ["", "  ", "\u{8}\u{8}\u{8}", "  \u{8}\u{8}", " trailing", "\u{1B}[0m", "\t"].randomElement(using: &rng)!
        return ["", " ", "\u{8}"].randomElement(using: &rng)! + result
    }

    @Test func theParserAndThePythonReadingAgree() async throws {
        let directory = try TemporaryDirectory(prefix: "intern-grammar")
        defer { directory.remove() }
        // INTERN_GRAMMAR_LINES / INTERN_GRAMMAR_SEED run it longer, or another way.
        let environment = ProcessInfo.processInfo.environment
        var rng = SeededGenerator(seed: environment["INTERN_GRAMMAR_SEED"].flatMap { UInt64($0) } ?? 20261206)
        let count = environment["INTERN_GRAMMAR_LINES"].flatMap { Int($0) } ?? 4_000
        let lines = (0..<count).map { _ in Self.line(&rng) }
        let file = try directory.write("lines.txt", lines.joined(separator: "\n") + "\n")

        let oracle = try await ProcessRunner.run(["/usr/bin/python3", Self.oracle, file], timeout: .seconds(120))
        #expect(oracle.status == 0, "\(oracle.stderr)")
        let answers = oracle.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        try #require(answers.count == lines.count)

        let parser = MetricLineParser(keyValuePrefix: nil)
        var buffer = MetricLineParser.Buffer()
        var disagreements = 0
        for (line, answer) in zip(lines, answers) {
            let expected = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as! [[String]]
            var fast: [(String, Double)] = []
            Array(line.utf8).withUnsafeBytes { bytes in
                parser.parse(bytes, using: &buffer) { name, value, _ in fast.append((String(decoding: name, as: UTF8.self), value)) }
            }
            let reference = parser.parse(line).map { ($0.name, $0.value) }
            func agrees(_ got: (String, Double), _ want: [String]) -> Bool {
                guard got.0 == want[0] else { return false }
                if want[1] == "nan" { return got.1.isNaN }
                return got.1 == Double(want[1])
            }
            func same(_ a: [(String, Double)]) -> Bool {
                a.count == expected.count && zip(a, expected).allSatisfy { agrees($0.0, $0.1) }
            }
            if !same(fast) || !same(reference) {
                disagreements += 1
                if disagreements <= 10 {
                    let message = "\(line.debugDescription): parser \(reference), oracle \(expected)"
                    Issue.record(Comment(rawValue: message))
                }
            }
        }
        #expect(disagreements == 0)
    }
}
