import Foundation
import InternCore
import Testing

@Suite("Command templates")
struct CommandTemplateTests {
    static let hostile = [
        "it's", "a b  c", "\"double\" 'single'", ";rm -rf /tmp/nothing-here", "$(echo pwned)", "`echo pwned`",
        "$HOME", "back\\slash", "new\nline", "*", "-n", "", "'", "''", "\\'", "tab\there", "{lr}", "ünïcødé ✓",
    ]

    @Test func substitutesParametersAndBuiltins() {
        let template = CommandTemplate(argv: ["python3", "train.py", "--lr", "{lr}", "--name={campaign}-{trial}.{attempt}", "{hidden}", "{flag}"])
        let argv = template.render(parameters: ["lr": .double(0.001), "hidden": .int(64), "flag": .bool(true)],
                                   trial: 12, attempt: 2, campaign: "sweep")
        #expect(argv == ["python3", "train.py", "--lr", "0.001", "--name=sweep-12.2", "64", "true"])
        #expect(template.placeholders() == ["lr", "campaign", "trial", "attempt", "hidden", "flag"])
    }

    @Test func doublesRenderShortest() {
        #expect(ParameterValue.double(0.001).text == "0.001")
        #expect(ParameterValue.double(2e-05).text == "2e-05")
        #expect(ParameterValue.double(0.1 + 0.2).text == "0.30000000000000004")
        #expect(ParameterValue.double(3).text == "3.0")
        #expect(ParameterValue.int(-7).text == "-7")
        #expect(ParameterValue.bool(false).text == "false")
    }

    @Test func doubledBracesAreLiteral() {
        let template = CommandTemplate(argv: ["awk", "{{print $1}} {{{lr}}}", "}}{{"])
        #expect(template.render(parameters: ["lr": .int(3)], trial: 0, attempt: 0, campaign: "c")
            == ["awk", "{print $1} {3}", "}{"])
        #expect(template.placeholders() == ["lr"])
        #expect(template.problems(parameterNames: ["lr"]).isEmpty)
    }

    @Test func eachValueStaysOneArgvElement() {
        let template = CommandTemplate(argv: ["prog", "{v}", "--x={v}"])
        for value in Self.hostile {
            let argv = template.render(parameters: ["v": .string(value)], trial: 0, attempt: 0, campaign: "c")
            #expect(argv == ["prog", value, "--x=\(value)"])
        }
    }

    @Test func malformedBracesAreReported() {
        let cases: [(String, String)] = [
            ("{lr", "unmatched '{'"), ("lr}", "unmatched '}'"), ("{}", "not a placeholder"),
            ("{print $1}", "not a placeholder"), ("{ lr }", "not a placeholder"),
        ]
        for (element, fragment) in cases {
            let problems = CommandTemplate(argv: ["p", element]).problems(parameterNames: ["lr"])
            #expect(problems.contains { $0.keyPath == "command[1]" && $0.message.contains(fragment) }, "\(element): \(problems)")
        }
        // Rendering keeps malformed braces literally.
        #expect(CommandTemplate(argv: ["{lr", "{}"]).render(parameters: ["lr": .int(1)], trial: 0, attempt: 0, campaign: "c")
            == ["{lr", "{}"])
    }

    @Test func unknownPlaceholderSuggestsTheClosestName() {
        let template = CommandTemplate(argv: ["python3", "train.py", "--lr", "{learning_rte}", "{tiral}", "{zzz}"])
        let problems = template.problems(parameterNames: ["learning_rate", "hidden_size"])
        #expect(problems.count == 3)
        #expect(problems[0].keyPath == "command[3]")
        #expect(problems[0].suggestion == "learning_rate")
        #expect(problems[0].message.contains("did you mean 'learning_rate'?"))
        #expect(problems[1].suggestion == "trial")
        #expect(problems[2].suggestion == nil)
        #expect(problems[2].message.contains("parameters: learning_rate, hidden_size"))
    }

    @Test func emptyCommandIsAProblem() {
        #expect(!CommandTemplate(argv: []).problems(parameterNames: []).isEmpty)
        #expect(!CommandTemplate(shell: "  ").problems(parameterNames: []).isEmpty)
        #expect(!CommandTemplate(argv: [""]).problems(parameterNames: []).isEmpty)
    }

    @Test func shellQuoteEscapesSingleQuotes() {
        #expect(CommandTemplate.shellQuote("it's") == #"'it'\''s'"#)
        #expect(CommandTemplate.shellQuote("") == "''")
        #expect(CommandTemplate.shellQuote("$(x)") == "'$(x)'")
    }

    @Test func shellModeRendersAShCommand() {
        let template = CommandTemplate(shell: "python3 train.py --lr {lr} --tag {campaign}-{trial} | tee out.txt")
        let argv = template.render(parameters: ["lr": .double(0.01)], trial: 4, attempt: 0, campaign: "s")
        #expect(argv == ["/bin/sh", "-c", "python3 train.py --lr '0.01' --tag 's'-'4' | tee out.txt"])
        #expect(template.problems(parameterNames: ["lr"]).isEmpty)
    }

    @Test func shellModeValuesReachTheProgramIntact() throws {
        // The real thing: /bin/sh runs the rendered script, and printf echoes each value back exactly.
        let template = CommandTemplate(shell: "printf '%s\\0' {v} {v}-{trial}; echo done >/dev/null")
        #expect(template.problems(parameterNames: ["v"]).isEmpty)
        for value in Self.hostile {
            let argv = template.render(parameters: ["v": .string(value)], trial: 3, attempt: 0, campaign: "c")
            #expect(argv.count == 3 && argv[0] == "/bin/sh" && argv[1] == "-c")
            let output = try Self.run(argv)
            #expect(output == [value, "\(value)-3"], "value \(value.debugDescription) rendered as \(argv[2])")
        }
    }

    @Test func shellModeRejectsPlaceholdersInQuotes() {
        let cases: [(String, String)] = [
            ("echo \"{v}\"", "inside double quotes"),
            ("echo '{v}'", "inside single quotes"),
            ("echo `cat {v}`", "command substitution"),
            ("echo ${v}", "right after '$'"),
            ("echo \\{v}", "escaping backslash"),
        ]
        for (script, fragment) in cases {
            let problems = CommandTemplate(shell: script).problems(parameterNames: ["v"])
            #expect(problems.contains { $0.keyPath == "shell" && $0.message.contains(fragment) }, "\(script): \(problems)")
        }
        let fine = [
            "echo {v}", "echo \"literal\" {v} 'x'", "echo \\\" {v}", "echo ${{HOME}} {v}", "cat <<< x; echo {v} # it's {v}",
            "awk '{{print $1}}' {v}", "echo \"$(date)\" {v}",
        ]
        for script in fine {
            #expect(CommandTemplate(shell: script).problems(parameterNames: ["v"]).isEmpty, "\(script)")
        }
    }

    static func run(_ argv: [String]) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        var fields = String(decoding: data, as: UTF8.self).split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        if fields.last == "" { fields.removeLast() }
        return fields
    }
}
