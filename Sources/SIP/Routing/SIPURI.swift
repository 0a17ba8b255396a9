/// The pieces faxd reads out of a SIP URI string ("sip:user@host:port;params"), without a full
/// RFC 3261 parser: sofia has parsed the message already, these only take its text apart.
public enum SIPURI {
    /// "host:port" (or "[v6]:port"): after the scheme and the user part, before any parameter.
    public static func hostPort(_ uri: String) -> String {
        var rest = Substring(uri)
        if let colon = rest.firstIndex(of: ":"), rest[..<colon].hasPrefix("sip") { rest = rest[rest.index(after: colon)...] }
        if let at = rest.firstIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if let semi = rest.firstIndex(of: ";") { rest = rest[..<semi] }
        return String(rest)
    }

    /// The host alone, lowercased, without port or IPv6 brackets (sip.domains compares it).
    public static func host(_ uri: String) -> String {
        let hostPort = hostPort(uri)
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            return String(hostPort[hostPort.index(after: hostPort.startIndex)..<close]).lowercased()
        }
        return String(hostPort.prefix { $0 != ":" && $0 != "?" }).lowercased()
    }

    /// The user part as a phone number when it is one, else as written; a bare number is taken
    /// as is.
    public static func number(_ uri: String) -> String? {
        guard uri.hasPrefix("sip:"), let at = uri.firstIndex(of: "@") else { return PhoneNumber.normalize(uri) }
        let user = uri[uri.index(uri.startIndex, offsetBy: 4)..<at]
        return PhoneNumber.normalize(String(user)) ?? String(user)
    }
}
