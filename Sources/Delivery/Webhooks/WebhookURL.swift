/// Webhook URLs as they may be shown: in logs, in delivery errors, in listings. A URL can carry
/// credentials (`https://user:pass@host/`, `?token=...`); those never leave the database.
public enum WebhookURL {
    /// `url` with its userinfo replaced by `***` and the values of query parameters that look like
    /// credentials (a name with token, key, secret, sig, pass, auth, session...; or a value of 16 or
    /// more characters mixing letters and digits) replaced by `***`. Works on any string, URL or not.
    public static func redacted(_ url: String) -> String {
        var rest = Substring(url)
        var out = ""
        if let scheme = rest.range(of: "://") {
            out += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { "/?# \t\n\"'<>".contains($0) } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                out += "***@" + authority[authority.index(after: at)...]
            } else {
                out += authority
            }
            rest = rest[authorityEnd...]
        }
        guard let mark = rest.firstIndex(of: "?") else { return out + rest }
        out += rest[...mark]
        let queryEnd = rest[mark...].firstIndex(of: "#") ?? rest.endIndex
        let query = rest[rest.index(after: mark)..<queryEnd]
        out += query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return looksLikeToken(pair) ? "***" : String(pair) }
            let name = pair[..<equals], value = pair[pair.index(after: equals)...]
            return value.isEmpty || !(secretName(name) || looksLikeToken(value)) ? String(pair) : name + "=***"
        }.joined(separator: "&")
        return out + rest[queryEnd...]
    }

    private static let secretWords = ["token", "key", "secret", "sig", "pass", "pwd", "auth", "cred", "session", "jwt", "bearer"]

    private static func secretName(_ name: Substring) -> Bool {
        let lower = name.lowercased()
        return secretWords.contains { lower.contains($0) }
    }

    private static func looksLikeToken(_ value: Substring) -> Bool {
        value.count >= 16 && value.contains { $0.isNumber } && value.contains { $0.isLetter }
    }
}
