import Foundation
import Hashing

/// The two signatures on every webhook request, so receivers can verify the sender and reject
/// replays:
/// - the seed's `X-Fax-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the
///   secret's text as given;
/// - Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
///   `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
///   base64-decoded part of the `whsec_...` secret.
public enum WebhookSignature {
    /// A new endpoint secret: `whsec_` + base64 of 24 random bytes (the Standard Webhooks form).
    public static func newSecret() -> String {
        "whsec_" + Data(SecureRandom.bytes(24)).base64EncodedString()
    }

    /// `sha256=<hex>` for `X-Fax-Signature`.
    public static func faxSignature(body: [UInt8], secret: String) -> String {
        "sha256=" + Hex.encode(HMACSHA256.authenticate(body, key: Array(secret.utf8)))
    }

    /// `v1,<base64>` for `webhook-signature`.
    public static func standardSignature(id: String, timestamp: Int, body: [UInt8], secret: String) -> String {
        let content = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Data(HMACSHA256.authenticate(content, key: standardKey(secret))).base64EncodedString()
    }

    /// The key bytes of a secret: base64-decoded after `whsec_`; a secret in another form is used as text.
    static func standardKey(_ secret: String) -> [UInt8] {
        if secret.hasPrefix("whsec_"), let data = Data(base64Encoded: String(secret.dropFirst(6))) { return [UInt8](data) }
        return Array(secret.utf8)
    }

    /// All headers for one delivery.
    public static func headers(id: String, timestamp: Int, body: [UInt8], secret: String) -> [(String, String)] {
        [("X-Fax-Signature", faxSignature(body: body, secret: secret)),
         ("webhook-id", id),
         ("webhook-timestamp", String(timestamp)),
         ("webhook-signature", standardSignature(id: id, timestamp: timestamp, body: body, secret: secret))]
    }
}
