import Foundation
import InternCore

/// Decoders for the few JSON shapes the store writes (a trial's parameters, an argv, a list of GPU
/// ids, a string map), written by hand: reading 10,000 trials with a `JSONDecoder` per column spent
/// most of its time setting decoders up. Each takes only the plain form the store itself writes
/// (no escapes in strings, no nesting, no `null`, no duplicate key, numbers that
/// `Int`/`Double` read unambiguously) and returns `nil` for anything else: the caller then
/// decodes with `JSONDecoder`, so a value always reads as `JSONDecoder` reads it.
enum StoredJSON {
    /// A trial's parameters, `{"layers":4,"lr":0.001,"optimizer":"adam","warmup":true}`.
    static func parameters(_ text: String) -> Parameters? {
        var text = text
        return text.withUTF8 { bytes in
            var reader = Reader(bytes: bytes)
            var values: [String: ParameterValue] = [:]
            guard reader.object({ key, reader in
                guard values[key] == nil, let value = reader.scalar() else { return false }
                values[key] = value
                return true
            }) else { return nil }
            return Parameters(values)
        }
    }

    /// A list of strings, `["python3","train.py"]`.
    static func strings(_ text: String) -> [String]? {
        var text = text
        return text.withUTF8 { bytes in
            var reader = Reader(bytes: bytes)
            var out: [String] = []
            guard reader.skip(UInt8(ascii: "[")) else { return nil }
            if reader.skip(UInt8(ascii: "]")) { return reader.atEnd ? out : nil }
            repeat {
                guard let string = reader.string() else { return nil }
                out.append(string)
            } while reader.skip(UInt8(ascii: ","))
            return reader.skip(UInt8(ascii: "]")) && reader.atEnd ? out : nil
        }
    }

    /// An object of strings, `{"git.branch":"main"}`.
    static func stringMap(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { bytes in
            var reader = Reader(bytes: bytes)
            var out: [String: String] = [:]
            guard reader.object({ key, reader in
                guard out[key] == nil, let value = reader.string() else { return false }
                out[key] = value
                return true
            }) else { return nil }
            return out
        }
    }

    /// A cursor over one JSON text's bytes.
    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool {
            mutating get {
                skipSpace()
                return index == bytes.count
            }
        }

        mutating func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
        }

        /// Consumes `byte` (after any whitespace) if it comes next.
        mutating func skip(_ byte: UInt8) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// `{"key": value, ...}` to the end of the text, each value read by `member`.
        mutating func object(_ member: (String, inout Reader) -> Bool) -> Bool {
            guard skip(UInt8(ascii: "{")) else { return false }
            if skip(UInt8(ascii: "}")) { return atEnd }
            repeat {
                guard let key = string(), skip(UInt8(ascii: ":")), member(key, &self) else { return false }
            } while skip(UInt8(ascii: ","))
            return skip(UInt8(ascii: "}")) && atEnd
        }

        /// A string without escapes or control characters.
        mutating func string() -> String? {
            guard skip(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                index += 1
            }
            return nil
        }

        /// A parameter value: `true`, `false`, a string, or a number as `ParameterValue`'s decoder
        /// reads it (an integer as `.int`; a fraction or exponent as `.double` unless its value is
        /// integral, which is left to `JSONDecoder`).
        mutating func scalar() -> ParameterValue? {
            skipSpace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return string().map { .string($0) }
            case UInt8(ascii: "t"):
                return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"):
                return literal("false") ? .bool(false) : nil
            default:
                return number()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        /// JSON's number grammar, `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
        mutating func number() -> ParameterValue? {
            let start = index
            func digits(_ reader: inout Reader) -> Int {
                let from = reader.index
                while reader.index < reader.bytes.count, reader.bytes[reader.index] >= 0x30, reader.bytes[reader.index] <= 0x39 { reader.index += 1 }
                return reader.index - from
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let firstDigit = index
            let integerDigits = digits(&self)
            let leadingZero = integerDigits > 0 && bytes[firstDigit] == UInt8(ascii: "0")
            // A leading zero only alone (`0`, `0.5`).
            guard integerDigits > 0, !(leadingZero && integerDigits > 1) else { return nil }
            var plain = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { return nil }
                plain = false
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { return nil }
                plain = false
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if plain {
                // `-0` is left to JSONDecoder.
                guard !(leadingZero && firstDigit > start) else { return nil }
                return Int(text).map { .int($0) }
            }
            guard let value = Double(text), value.isFinite, value != value.rounded(.towardZero) else { return nil }
            return .double(value)
        }
    }
}

/// A trial's parameters as stored: by hand when they are in the store's plain form, else by `JSONDecoder`.
func decodeParameters(_ text: String?) -> Parameters? {
    guard let text else { return nil }
    return StoredJSON.parameters(text) ?? decodeJSON(Parameters.self, text)
}

/// A list of strings as stored (an argv, GPU ids).
func decodeStrings(_ text: String?) -> [String]? {
    guard let text else { return nil }
    return StoredJSON.strings(text) ?? decodeJSON([String].self, text)
}

/// A string map as stored (outputs, environment, provenance fields).
func decodeStringMap(_ text: String?) -> [String: String]? {
    guard let text else { return nil }
    return StoredJSON.stringMap(text) ?? decodeJSON([String: String].self, text)
}
