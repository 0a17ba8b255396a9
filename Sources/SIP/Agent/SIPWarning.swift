/// The Warning header faxd puts on every refusal (RFC 3261 section 20.43).
public enum SIPWarning {
    /// `Warning: 399 faxd "<text>"`. The text often quotes what the far end sent (an SDP line, a
    /// codec name): quotes, backslashes and every control byte are replaced, so a crafted offer
    /// cannot end the header and inject headers or a body, and the text is capped at 200 characters.
    public static func header(_ text: String) -> String {
        var safe = ""
        for scalar in text.unicodeScalars.prefix(200) {
            switch scalar {
            case "\"": safe.append("'")
            case "\\": safe.append("/")
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: safe.append(" ")
            default: safe.unicodeScalars.append(scalar)
            }
        }
        return "Warning: 399 faxd \"\(safe)\""
    }
}
