import Foundation
@testable import InternReport
import Testing

/// `intern grep --regex` matches in time linear in the line (``LineRegex``): it agrees with
/// Python's `re` (a backtracking engine, run here as the oracle) on where the leftmost match of
/// each pattern starts, refuses what cannot be matched linearly with a word, and gets through
/// lines on which a backtracking engine never finishes.
@Suite struct LineRegexTests {
    static let patterns = [
        "loss", "lo+s", "l.ss", "^loss", "loss$", "^$", "", "a|b|c", "(ab)+c", "(?:ab|a)(bc|c)", "x*", "x+", "[0-9]+\\.[0-9]+",
        "[^ ]+=[-+]?[0-9.e-]+", "\\d{2,3}", "\\d{2,}", "\\d{3}", "a{0}b", "\\bstep\\b", "\\Bep", "\\w+@\\w+", "\\s\\S",
        "[A-Za-z_]\\w*", "(a|ab)(c|bcd)(d*)", "(a*)*b", "(a+|b+)*c", "epoch [0-9]+/[0-9]+", "[\\]\\-]", "[a\\-z]", "\\.",
        "cuda out of memory|OOM|Killed", "grad_norm': '[0-9.]+'", "\\x41", "a.c", "(x|xy)z", "[]a]", "[^]a]", "a?a?a?aaa",
        "\\{.*\\}", "{", "a{1,", "(?:)", "a||b", "(|a)+", "\\tx", "[\\d.]+%",
    ]
    static let lines = [
        "", "loss", "loss=0.25 step=3", "train loss: 1.0", " loss", "looooss", "lxss", "abc", "ababc", "abcbcd", "xxxxx",
        "{'loss': '4.703', 'grad_norm': '0.7103', 'epoch': '0.25'}", "12 345 6789", "step steps stepped", "bob@example x",
        "a b", "_under9 score", "abcd", "aaab", "ababbbac", "epoch 3/10", "a]b-c", "a.c", "abc.def", "xz xyz",
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate", "Killed", "AAA", "aaa", "{json}",
        "x{y", "\tx", "50.5% done", "  3%|▎| 4/120 [00:01<00:30]", "ends with loss",
    ]

    /// Byte offset of the leftmost match of each (pattern, line) as Python's `re` finds it over
    /// bytes (ASCII classes), -1 for none.
    static func oracle(_ pattern: String, _ lines: [String], ignoreCase: Bool) throws -> [Int] {
        let script = """
            import json, re, sys
            spec = json.load(sys.stdin)
            flags = re.IGNORECASE if spec["ignore_case"] else 0
            rx = re.compile(spec["pattern"].encode(), flags)
            out = []
            for line in spec["lines"]:
                m = rx.search(line.encode())
                out.append(m.start() if m else -1)
            print(json.dumps(out))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let request = try JSONSerialization.data(withJSONObject: ["pattern": pattern, "lines": lines, "ignore_case": ignoreCase])
        input.fileHandleForWriting.write(request)
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONDecoder().decode([Int].self, from: data)
    }

    static func firstMatch(_ regex: LineRegex, _ line: String, _ scratch: LineRegex.Scratch) -> Int {
        Array(line.utf8).withUnsafeBytes { regex.firstMatch(in: $0, using: scratch) } ?? -1
    }

    @Test(arguments: [false, true])
    func agreesWithPythonsRe(ignoreCase: Bool) throws {
        let scratch = LineRegex.Scratch()
        var disagreements: [String] = []
        for pattern in Self.patterns {
            let regex = try LineRegex(pattern, ignoreCase: ignoreCase)
            let expected = try Self.oracle(pattern, Self.lines, ignoreCase: ignoreCase)
            for (line, want) in zip(Self.lines, expected) where Self.firstMatch(regex, line, scratch) != want {
                disagreements.append("/\(pattern)/ on \"\(line)\": \(Self.firstMatch(regex, line, scratch)), re says \(want)")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements:\n\(disagreements.joined(separator: "\n"))")
    }

    @Test func dotAndNegatedClassesMatchWholeCharacters() throws {
        let scratch = LineRegex.Scratch()
        #expect(Self.firstMatch(try LineRegex("a.b"), "xaéb", scratch) == 1)
        #expect(Self.firstMatch(try LineRegex("a[^x]b"), "a€b", scratch) == 0)
        #expect(Self.firstMatch(try LineRegex("^.{3}$"), "日本語", scratch) == 0)
        #expect(Self.firstMatch(try LineRegex("é+"), "caféé", scratch) == 3)
        #expect(Self.firstMatch(try LineRegex("a\\Wb"), "a▎b", scratch) == 0)
        // Bytes that are not UTF-8 are characters of their own.
        let binary: [UInt8] = [0x61, 0xFF, 0x62, 0x80, 0x63]
        #expect(binary.withUnsafeBytes { try! LineRegex("a.b.c").firstMatch(in: $0, using: scratch) } == 0)
    }

    @Test func whatCannotBeMatchedLinearlyIsRefusedWithAWord() {
        for (pattern, word) in [
            ("(a)\\1", "backreferences"), ("a(?=b)", "lookaround"), ("(?<!a)b", "lookaround"), ("a++", "possessive"),
            ("(", "missing )"), (")", "unmatched )"), ("[a", "missing ]"), ("*a", "nothing to repeat"), ("a{1001}", "over 1000"),
            ("a{3,2}", "empty"), ("\\q", "unknown escape"), ("[[:alpha:]]", "POSIX"), ("[é]", "non-ASCII"), ("(?x)a", "not supported"),
            ("((((a{1000}){1000}){1000}))", "too large"),
        ] {
            do {
                _ = try LineRegex(pattern)
                Issue.record("/\(pattern)/ was accepted")
            } catch {
                #expect(error.description.contains(word), "/\(pattern)/: \(error)")
            }
        }
    }

    /// A backtracking engine takes time exponential (`(x+x+)+y`) or quadratic (`x*y` tried from
    /// every start) in these lines' length and does not finish; linear matching does.
    @Test func linesOnWhichBacktrackingNeverFinishes() throws {
        let scratch = LineRegex.Scratch()
        let line = Array(repeating: UInt8(ascii: "x"), count: 64 << 10)
        for pattern in ["(x+x+)+y", "x*y", "(x|xx)*y", "x*x*x*x*x*z"] {
            let regex = try LineRegex(pattern)
            #expect(line.withUnsafeBytes { regex.firstMatch(in: $0, using: scratch) } == nil, "/\(pattern)/")
        }
        #expect(line.withUnsafeBytes { try! LineRegex("x{3}$").firstMatch(in: $0, using: scratch) } == line.count - 3)
    }
}
