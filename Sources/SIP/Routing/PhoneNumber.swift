/// Phone numbers as faxd stores them: digits only, no '+' or visual separators (E.164 digits),
/// the same shape the seed system used for fax numbers ("18884732963").
public enum PhoneNumber {
    /// Normalises a Request-URI user part or a number typed by a user: drops URI parameters
    /// (";phone-context=..."), a leading '+', and visual separators ("-", ".", " ", "(", ")") as
    /// RFC 3966 section 5.1.1 allows. Returns nil when anything else remains (letters, '*', '#').
    public static func normalize(_ raw: String) -> String? {
        // Longer than any number with its separators and parameters can be (a 5,000-digit
        // "number" was once dialled): refused before it is even read.
        guard raw.utf8.count <= 256 else { return nil }
        var text = Substring(raw)
        if let semicolon = text.firstIndex(of: ";") { text = text[..<semicolon] }
        if text.hasPrefix("tel:") { text = text.dropFirst(4) }
        text = Substring(text.drop { $0 == " " })
        if text.first == "+" { text = text.dropFirst() }
        var digits = ""
        for ch in text {
            if ch.isASCII, ch.isNumber { digits.append(ch) } else if "-. ()".contains(ch) { continue } else { return nil }
        }
        return digits.isEmpty || digits.count > maxDigits ? nil : digits
    }

    /// ITU-T E.164: a number has at most 15 digits, country code included.
    public static let maxDigits = 15

    /// A human explanation of why `raw` is not a number, for error messages (the input is shown
    /// cut to 40 characters: an error must not echo megabytes back).
    public static func problem(with raw: String) -> String {
        let shown = raw.count > 40 ? String(raw.prefix(40)) + "..." : raw
        let digits = raw.utf8.count <= 256 ? raw.filter { $0.isASCII && $0.isNumber }.count : raw.count
        if digits > maxDigits {
            return "'\(shown)' has \(digits) digits; an E.164 number has at most \(maxDigits), country code included"
        }
        return "'\(shown)' is not a phone number (expected digits, optionally with a leading + and separators - . ( ))"
    }
}
