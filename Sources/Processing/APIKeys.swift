import Foundation
import Hashing
import Store

/// API keys for the HTTP API: `fax_` + 40 random hex digits, shown once; only their SHA-256 is
/// stored, with the first 12 characters as a prefix for operators to tell keys apart.
public enum APIKeys {
    /// Creates a key for `accountID` in `db`; returns the key itself (the only time it exists in clear).
    public static func create(accountID: Int64, in db: Database) throws -> String {
        let key = "fax_" + SecureRandom.token(bytes: 20)
        try db.insertAPIKey(accountID: accountID, keyHash: hash(key), prefix: String(key.prefix(12)))
        return key
    }

    /// The stored form of a key.
    public static func hash(_ key: String) -> String { SHA256.hex(Array(key.utf8)) }
}

/// Email addresses accounts give: one `local@domain`, no spaces, control characters or angle
/// brackets (they reach SMTP commands and headers).
public enum EmailAddress {
    public static func isValid(_ text: String) -> Bool {
        guard text.count <= 320, let at = text.lastIndex(of: "@"), at != text.startIndex, text.index(after: at) != text.endIndex else { return false }
        return text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && !"<>()[],;:\\\"".unicodeScalars.contains($0) }
    }
}
