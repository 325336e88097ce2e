import Yams

/// YAML's own errors (syntax, duplicate keys), located in the spec's text.
extension SpecReader {
    /// A Yams error as a ``SpecError`` at its line and column (a duplicate key at its second occurrence).
    func convert(_ yamlError: YamlError) -> SpecError {
        func located(_ mark: Position, _ problem: String, _ context: YamlError.Context?) -> SpecError {
            var message = "invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return error(.syntax, at: mark, "", message)
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return located(Position(line: mark.line, column: mark.column), problem, context)
        case .reader(let problem, let offset, _, _):
            var mark = Position(line: 1, column: 1)
            if let offset {
                let prefix = yaml.prefix(offset)
                let line = prefix.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                let column = prefix.count - (prefix.lastIndex(of: "\n").map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0) + 1
                mark = Position(line: line, column: column)
            }
            return error(.syntax, at: mark, "", "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = Position(line: context.mark.line, column: context.mark.column)
            if let second = secondOccurrence(of: key, after: first) {
                return error(.syntax, at: second, "",
                             "duplicate key '\(key)' (first at line \(first.line)); a key may appear only once in a mapping")
            }
            return error(.syntax, at: first, "", "duplicate key '\(key)'; a key may appear only once in a mapping")
        default:
            return error(.syntax, at: nil, "", "invalid YAML: \(yamlError)")
        }
    }

    /// Where a repeated block-mapping key occurs again below its first occurrence at `first`, if it can be
    /// found textually (same column, same mapping); flow mappings are not searched.
    private func secondOccurrence(of key: String, after first: Position) -> Position? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let column = first.column - 1
        for index in first.line..<lines.count {
            let line = Array(lines[index].unicodeScalars)
            let content = line.drop { $0 == " " }
            if content.isEmpty || content.first == "#" { continue }
            let indent = line.count - content.count
            if indent < column {
                // A less indented line ends the mapping, unless it is a "- " that puts this key on the column.
                let prefix = String(String.UnicodeScalarView(line.prefix(column)))
                if prefix.trimmingCharacters(in: .whitespaces) != "-" { return nil }
            } else if indent > column {
                continue
            }
            let rest = String(String.UnicodeScalarView(line.dropFirst(column)))
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate) {
                let after = rest.dropFirst(candidate.count).drop { $0 == " " }
                if after.first == ":" { return Position(line: index + 1, column: first.column) }
            }
        }
        return nil
    }
}
