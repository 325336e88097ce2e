import Foundation
import InternCore
@testable import InternStore
import InternTestKit
import Testing

/// The store's hand-written JSON decoders read every text as `JSONDecoder` does: the same value
/// where they take it, and `nil` (the caller then asks `JSONDecoder`) where they do not; its
/// hand-written encoders write the text `JSONEncoder` wrote.
@Suite struct StoredJSONTests {
    static func decoded<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// What the store wrote before it wrote these texts by hand.
    static func encodedByFoundation<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
    }

    @Test func oddTexts_readAsJSONDecoderReadsThem() {
        let texts = [
            #"{}"#, #"{"lr":0.001}"#, #"{"a":1,"b":-2,"c":0}"#, #"{"a":1.0}"#, #"{"a":-0}"#, #"{"a":-0.0}"#, #"{"a":-0.5}"#,
            #"{"a":2e-05}"#, #"{"a":1E+2}"#, #"{"a":1e400}"#, #"{"a":9223372036854775807}"#, #"{"a":9223372036854775808}"#,
            #"{"a":-9223372036854775808}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":+1}"#, #"{"a":1e}"#,
            #"{"a":true,"b":false}"#, #"{"a":"adam"}"#, #"{"a":"1"}"#, #"{"a":"true"}"#, #"{"a":"x\"y"}"#, #"{"a":"\u00e9"}"#,
            #"{"a":"é ✓ 😀"}"#, #"{"a":null}"#, #"{"a":[1]}"#, #"{"a":{"b":1}}"#, #"{"a":1,"a":2}"#, #"{"a":1,}"#,
            #" { "a" : 1 , "b" : "x" } "#, #"{"a":1} x"#, #"{"a":tru}"#, #"{"a":truex}"#, "{\"a\":\"tab\there\"}", #"[]"#, "",
            #"{"a\"b":1}"#, #"{"a":1"#, #"{"a"}"#, #"{"a":}"#, #"{"a":1e-400}"#, #"{"a":123456789.5}"#,
        ]
        for text in texts {
            let slow = Self.decoded(Parameters.self, text)
            if let fast = StoredJSON.parameters(text) { #expect(fast == slow, "\(text)") }
            #expect(decodeParameters(text) == slow, "\(text)")
        }
        let lists = [#"[]"#, #"["python3","train.py"]"#, #"[ "a" , "b" ]"#, #"["a\"b"]"#, #"["a",]"#, #"["é"]"#, #"[1]"#, #"["a"] x"#, #"{}"#, ""]
        for text in lists {
            let slow = Self.decoded([String].self, text)
            if let fast = StoredJSON.strings(text) { #expect(fast == slow, "\(text)") }
            #expect(decodeStrings(text) == slow, "\(text)")
        }
        let maps = [#"{}"#, #"{"git.branch":"main","python":"3.11"}"#, #"{"a":"x","a":"y"}"#, #"{"a":1}"#, #"{"a":"\n"}"#, #"{"a":"b"} x"#]
        for text in maps {
            let slow = Self.decoded([String: String].self, text)
            if let fast = StoredJSON.stringMap(text) { #expect(fast == slow, "\(text)") }
            #expect(decodeStringMap(text) == slow, "\(text)")
        }
        // Nothing stored: nil, as before.
        #expect(decodeParameters(nil) == nil && decodeStrings(nil) == nil && decodeStringMap(nil) == nil)
    }

    @Test func storedParameters_readAsJSONDecoderReadsThem_mostlyByHand() {
        var random = SeededGenerator(seed: 18)
        func double() -> Double {
            switch random.next() % 6 {
            case 0: return Double(Int64(bitPattern: random.next()) % 1_000)  // integral
            case 1: return Double(bitPattern: random.next())  // anything, NaN and infinities included
            case 2: return pow(10, Double(Int(random.next() % 40)) - 20) * Double(random.next() % 1_000_000) / 997
            default: return Double(random.next() >> 11) / Double(UInt64(1) << 53) * (random.next() % 2 == 0 ? 1 : -1)
            }
        }
        func string() -> String {
            let pieces = ["adam", "sgd", "a b", "é", "😀", "\"", "\\", "\n", "\u{01}", "/", "123", "true", ""]
            return (0..<Int(random.next() % 3)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
        }
        var byHand = 0
        let total = 3_000
        for _ in 0..<total {
            var values: [String: ParameterValue] = [:]
            for index in 0..<Int(random.next() % 6) {
                let value: ParameterValue = switch random.next() % 5 {
                case 0: .int(random.next() % 4 == 0 ? Int(bitPattern: UInt(random.next())) : Int(random.next() % 512))
                case 1, 2: .double(double())
                case 3: .string(string())
                default: .bool(random.next() % 2 == 0)
                }
                values[index % 2 == 0 ? "p\(index)" : string() + "\(index)"] = value
            }
            let text = encodeJSON(Parameters(values))
            #expect(text == Self.encodedByFoundation(Parameters(values)), "\(values)")
            let slow = Self.decoded(Parameters.self, text)
            if let fast = StoredJSON.parameters(text) {
                byHand += 1
                #expect(fast == slow, "\(text)")
            }
            #expect(decodeParameters(text) == slow, "\(text)")

            let argv = (0..<Int(random.next() % 4)).map { _ in string() }
            let argvText = encodeJSON(argv)
            #expect(argvText == Self.encodedByFoundation(argv))
            #expect(decodeStrings(argvText) == Self.decoded([String].self, argvText), "\(argvText)")
            let map = Dictionary(argv.map { ($0, string()) }, uniquingKeysWith: { a, _ in a })
            let mapText = encodeJSON(map)
            #expect(mapText == Self.encodedByFoundation(map))
            #expect(decodeStringMap(mapText) == Self.decoded([String: String].self, mapText), "\(mapText)")
        }
        // The store's own plain texts are the common case: most never reach JSONDecoder.
        #expect(byHand * 4 > total, "\(byHand) of \(total) read by hand")
    }
}
