/// JSON text written directly, without an encoder: the store writes a string map or two per
/// attempt, where a `JSONEncoder` per call cost more than the rest of storing them.
public enum JSONText {
    /// Appends `text` as a JSON string: `"` and `\` escaped, `\n \r \t \b \f` by name, other
    /// control characters as `\u00XX`.
    public static func appendString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
