/// The command a trial runs, with `{name}` placeholders for its parameters.
///
/// Placeholders are `{parameter}` or the builtins `{trial}`, `{attempt}` and `{campaign}`;
/// `{{` and `}}` are literal braces. Rendering substitutes values, never re-splits: each argv element
/// stays exactly one argv element whatever the values contain (spaces, quotes, `;rm -rf /`).
///
/// With ``shell`` set, the elements are joined with spaces into one POSIX `sh` script, and each value is
/// substituted single-quoted (`it's` becomes `'it'\''s'`), so a value is always one shell word and is never
/// interpreted by the shell. Placeholders must then stand outside any quotes of the script (validation
/// says so): `echo {name}`, not `echo "{name}"`.
public struct CommandTemplate: Sendable, Hashable, Codable {
    /// The template's argv, or in shell mode the pieces of the script (joined with single spaces).
    public var argv: [String]
    /// Whether the command is a script for `/bin/sh -c` instead of an argv to execute directly.
    public var shell: Bool

    /// The placeholders every command may use besides its parameters: `trial`, `attempt`, `campaign`.
    public static let builtins: Set<String> = ["trial", "attempt", "campaign"]

    /// The shell that runs a shell-mode command: `/bin/sh`.
    public static let shellPath = "/bin/sh"

    /// Creates a template from an argv (or, with `shell`, from script pieces).
    public init(argv: [String], shell: Bool = false) {
        self.argv = argv
        self.shell = shell
    }

    /// Creates a shell-mode template from a script, e.g. `python3 train.py --lr {lr} | tee out.txt`.
    public init(shell script: String) {
        self.argv = [script]
        self.shell = true
    }

    /// The shell-mode script: the elements joined with single spaces.
    public var script: String { argv.joined(separator: " ") }

    /// The names of every well-formed placeholder in the template (parameters and builtins alike).
    public func placeholders() -> Set<String> {
        var names = Set<String>()
        for element in argv {
            for case .placeholder(let name) in Self.lex(element).pieces {
                names.insert(name)
            }
        }
        return names
    }

    /// The argv to execute for one attempt of one trial.
    ///
    /// Without ``shell``: the template's argv with each placeholder replaced by its value's
    /// ``ParameterValue/text`` (same number of elements). With ``shell``: `["/bin/sh", "-c", script]`, the
    /// script's placeholders replaced by ``shellQuote(_:)`` of the value. A placeholder that names nothing
    /// known is left as written (validation reports it beforehand); a malformed brace is kept literally.
    public func render(parameters: Parameters, trial: Int, attempt: Int, campaign: String) -> [String] {
        func value(_ name: String) -> String? {
            if let value = parameters[name] { return value.text }
            switch name {
            case "trial": return String(trial)
            case "attempt": return String(attempt)
            case "campaign": return campaign
            default: return nil
            }
        }
        func substitute(_ text: String, quote: Bool) -> String {
            var result = ""
            for piece in Self.lex(text).pieces {
                switch piece {
                case .literal(let literal):
                    result += literal
                case .placeholder(let name):
                    if let text = value(name) {
                        result += quote ? Self.shellQuote(text) : text
                    } else {
                        result += "{\(name)}"
                    }
                }
            }
            return result
        }
        if shell {
            return [Self.shellPath, "-c", substitute(script, quote: true)]
        }
        return argv.map { substitute($0, quote: false) }
    }

    /// `value` as one POSIX `sh` word that the shell reads back as exactly `value`: wrapped in single
    /// quotes, each `'` written `'\''`.
    public static func shellQuote(_ value: String) -> String {
        var result = "'"
        for character in value {
            if character == "'" {
                result += "'\\''"
            } else {
                result.append(character)
            }
        }
        return result + "'"
    }

    /// Everything wrong with the template, reported under `keyPath` (`command`, or `shell` in shell mode;
    /// argv elements as `command[i]`): an empty command, malformed braces, placeholders that are neither in
    /// `parameterNames` nor builtins (with a suggestion), and, in shell mode, placeholders inside quotes,
    /// backquotes, or right after `$` or `\`.
    public func problems(parameterNames: [String], keyPath: String? = nil) -> [CampaignProblem] {
        let root = keyPath ?? (shell ? "shell" : "command")
        var problems: [CampaignProblem] = []
        if argv.isEmpty || (shell && script.allSatisfy(\.isWhitespace)) {
            return [CampaignProblem(keyPath: root, message: "the command is empty; give the program and its arguments")]
        }
        if !shell, argv[0].isEmpty {
            problems.append(CampaignProblem(keyPath: "\(root)[0]", message: "the program name (first element) is empty"))
        }
        let known = Set(parameterNames).union(Self.builtins)
        let candidates = parameterNames + ["trial", "attempt", "campaign"]
        for (index, element) in argv.enumerated() {
            let path = shell ? root : "\(root)[\(index)]"
            if element.utf8.contains(0) {
                problems.append(CampaignProblem(keyPath: path, message: "the command cannot contain a NUL character"))
            }
            let (pieces, errors) = Self.lex(element)
            for error in errors {
                problems.append(CampaignProblem(keyPath: path, message: error))
            }
            for case .placeholder(let name) in pieces where !known.contains(name) {
                let suggestion = NameSuggestion.closest(to: name, among: candidates)
                let list = parameterNames.isEmpty ? "none" : parameterNames.joined(separator: ", ")
                var message = "unknown placeholder {\(name)}: it names no parameter and no builtin"
                if let suggestion { message += "; did you mean '\(suggestion)'?" }
                message += " (parameters: \(list); builtins: trial, attempt, campaign; write {{ and }} for literal braces)"
                problems.append(CampaignProblem(keyPath: path, message: message, suggestion: suggestion))
            }
        }
        if shell {
            for (name, context) in Self.shellContextViolations(Self.lex(script).pieces) {
                problems.append(CampaignProblem(
                    keyPath: root,
                    message: "placeholder {\(name)} is \(context); values are single-quoted automatically in shell mode, so write {\(name)} as a word of its own, outside quotes"))
            }
        }
        return problems
    }

    // MARK: - Lexing

    enum Piece: Equatable {
        case literal(String)
        case placeholder(String)
    }

    /// Splits a template element into literals and placeholders; malformed braces become literals and
    /// are described in `errors`.
    static func lex(_ text: String) -> (pieces: [Piece], errors: [String]) {
        var pieces: [Piece] = []
        var errors: [String] = []
        var literal = ""
        let characters = Array(text)
        var i = 0
        func flush() {
            if !literal.isEmpty {
                pieces.append(.literal(literal))
                literal = ""
            }
        }
        while i < characters.count {
            let character = characters[i]
            if character == "{" {
                if i + 1 < characters.count, characters[i + 1] == "{" {
                    literal.append("{")
                    i += 2
                    continue
                }
                var j = i + 1
                while j < characters.count, characters[j] != "}", characters[j] != "{" {
                    j += 1
                }
                if j < characters.count, characters[j] == "}" {
                    let name = String(characters[(i + 1)..<j])
                    if ParameterSpace.isValidName(name) {
                        flush()
                        pieces.append(.placeholder(name))
                        i = j + 1
                        continue
                    }
                    errors.append("'{\(name)}' is not a placeholder (a name of letters, digits, '_', '.', '-'); write {{ and }} for literal braces")
                    literal += "{\(name)}"
                    i = j + 1
                    continue
                }
                errors.append("unmatched '{' in '\(text)'; write {{ for a literal brace")
                literal.append("{")
                i += 1
            } else if character == "}" {
                if i + 1 < characters.count, characters[i + 1] == "}" {
                    literal.append("}")
                    i += 2
                    continue
                }
                errors.append("unmatched '}' in '\(text)'; write }} for a literal brace")
                literal.append("}")
                i += 1
            } else {
                literal.append(character)
                i += 1
            }
        }
        flush()
        return (pieces, errors)
    }

    /// Placeholders of a shell script that do not stand as plain words: inside '...', "..." or `...`,
    /// or right after `$` or an escaping `\`. (Here-documents are not tracked.)
    static func shellContextViolations(_ pieces: [Piece]) -> [(name: String, context: String)] {
        enum State { case plain, single, double, backquote, comment }
        var state = State.plain
        var escaped = false
        var previous: Character = " "
        var violations: [(name: String, context: String)] = []
        for piece in pieces {
            switch piece {
            case .placeholder(let name):
                switch state {
                case .single: violations.append((name, "inside single quotes"))
                case .double: violations.append((name, "inside double quotes"))
                case .backquote: violations.append((name, "inside a `...` command substitution"))
                case .comment: break
                case .plain:
                    if escaped {
                        violations.append((name, "right after an escaping backslash"))
                    } else if previous == "$" {
                        violations.append((name, "right after '$' (for a shell variable write ${{NAME}})"))
                    }
                }
                escaped = false
                previous = "x"
            case .literal(let text):
                for character in text {
                    defer { previous = character }
                    if escaped {
                        escaped = false
                        continue
                    }
                    switch state {
                    case .plain:
                        switch character {
                        case "\\": escaped = true
                        case "'": state = .single
                        case "\"": state = .double
                        case "`": state = .backquote
                        case "#" where previous.isWhitespace || previous == ";" || previous == "\n": state = .comment
                        default: break
                        }
                    case .single:
                        if character == "'" { state = .plain }
                    case .double:
                        if character == "\\" { escaped = true } else if character == "\"" { state = .plain }
                    case .backquote:
                        if character == "\\" { escaped = true } else if character == "`" { state = .plain }
                    case .comment:
                        if character == "\n" { state = .plain }
                    }
                }
            }
        }
        return violations
    }
}
