/// How `intern note`'s first argument is read: a campaign's name, a trial's number, or (a
/// prefix of) a failure signature's digest. Pure: the caller says which campaigns and digests exist.
public enum NoteSubject: Sendable, Equatable {
    case campaign(String)
    case trial(Int)
    case signature(String)

    /// `text` read against the campaigns and signature digests the lab knows: a known campaign
    /// name first; a number of up to 7 digits is a trial; 6 to 16 hexadecimal digits a signature
    /// (the unique digest they start); a longer number a signature if one starts so, else a trial.
    /// Throws a message that says what would be valid.
    public static func parse(_ text: String, campaigns: [String], digests: (String) -> [String]) throws(LabError) -> NoteSubject {
        if campaigns.contains(text) { return .campaign(text) }
        let isNumber = !text.isEmpty && text.allSatisfy(\.isASCIIDigitCharacter)
        if isNumber, text.count <= 7, let trial = Int(text), trial > 0 { return .trial(trial) }
        let lower = text.lowercased()
        if (6...16).contains(lower.count), lower.allSatisfy(\.isHexDigitCharacter) {
            let found = digests(lower)
            if found.count == 1 { return .signature(found[0]) }
            if found.count > 1 {
                throw LabError(code: .unknownSubject, message: "'\(text)' starts \(found.count) signatures (\(found.prefix(4).joined(separator: ", "))…): give more digits")
            }
            if isNumber, let trial = Int(text), trial > 0 { return .trial(trial) }
            throw LabError(code: .unknownSubject, message: "no failure signature starts with '\(text)' in the lab: `intern failures --all` lists them")
        }
        throw LabError(
            code: .unknownSubject,
            message: "'\(text)' is no campaign, trial or signature the lab knows: a campaign by its name (`intern campaigns`), a trial by its number (with --campaign), a signature by 8 to 16 hexadecimal digits (`intern failures --all`)")
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
    var isHexDigitCharacter: Bool { isASCII && isHexDigit }
}
