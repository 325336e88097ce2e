/// Sizes written the way people write them: `16GiB`, `512Mi`, `2G`, `1.5GiB`, `1000000`.
///
/// Binary suffixes (`Ki`, `Mi`, `Gi`, `Ti`, with or without a trailing `B`) are powers of 1024;
/// decimal ones (`K`, `M`, `G`, `T`, `KB`, `MB`, `GB`, `TB`) powers of 1000, as Kubernetes reads
/// them; no suffix, or `B`, means bytes.
public enum ByteSize {
    /// The number of bytes `text` stands for, or `nil` when it is not a size.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces
        guard let split = trimmed.firstIndex(where: { !($0.isNumber || $0 == ".") }) ?? Optional(trimmed.endIndex) else { return nil }
        let number = trimmed[..<split], unit = trimmed[split...].trimmingSpaces
        guard !number.isEmpty, let value = Double(number), value >= 0, value.isFinite else { return nil }
        let multipliers: [String: Double] = [
            "": 1, "B": 1,
            "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
            "Ki": 1024, "KiB": 1024, "Mi": 1_048_576, "MiB": 1_048_576, "Gi": 1_073_741_824, "GiB": 1_073_741_824,
            "Ti": 1_099_511_627_776, "TiB": 1_099_511_627_776,
        ]
        guard let multiplier = multipliers[String(unit)] else { return nil }
        let bytes = (value * multiplier).rounded()
        guard bytes < 9.2e18 else { return nil }
        return Int(bytes)
    }

    /// `bytes` for people: `16.0 GiB`, `512.0 MiB`, `900 B`.
    public static func describe(_ bytes: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = "B"
        for next in units where value >= 1024 {
            value /= 1024
            unit = next
        }
        if unit == "B" { return "\(bytes) B" }
        return "\((value * 10).rounded() / 10) \(unit)"
    }
}

extension StringProtocol {
    /// Without leading and trailing whitespace.
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
