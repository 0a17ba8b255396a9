/// Phone numbers as faxd stores them: digits only, no '+' or visual separators (E.164 digits),
/// the same shape the seed system used for fax numbers ("18884732963").
public enum PhoneNumber {
    /// Normalises a Request-URI user part or a number typed by a user: drops URI parameters
    /// (";phone-context=..."), a leading '+', and visual separators ("-", ".", " ", "(", ")") as
    /// RFC 3966 section 5.1.1 allows. Returns nil when anything else remains (letters, '*', '#').
    public static func normalize(_ raw: String) -> String? {
        var text = Substring(raw)
        if let semicolon = text.firstIndex(of: ";") { text = text[..<semicolon] }
        if text.hasPrefix("tel:") { text = text.dropFirst(4) }
        text = Substring(text.drop { $0 == " " })
        if text.first == "+" { text = text.dropFirst() }
        var digits = ""
        for ch in text {
            if ch.isASCII, ch.isNumber { digits.append(ch) } else if "-. ()".contains(ch) { continue } else { return nil }
        }
        return digits.isEmpty ? nil : digits
    }

    /// A human explanation of why `raw` is not a number, for error messages.
    public static func problem(with raw: String) -> String {
        "'\(raw)' is not a phone number (expected digits, optionally with a leading + and separators - . ( ))"
    }
}
