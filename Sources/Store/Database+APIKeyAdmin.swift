import Foundation

/// One API key as operators see it: never the key, only its id, prefix and dates.
public struct APIKeyRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var accountID: Int64
    /// The first 12 characters of the key (`fax_` + 8 hex digits), to tell keys apart.
    public var prefix: String
    public var createdAt: Date
    /// When it was revoked; a revoked key authenticates nothing.
    public var revokedAt: Date?

    init(row: Row) {
        id = row.int64("id")
        accountID = row.int64("account_id")
        prefix = row.string("prefix")
        createdAt = row.date("created_at")
        revokedAt = row.optionalDate("revoked_at")
    }
}

extension Database {
    /// Every key of an account, newest first, revoked ones included.
    public func apiKeys(accountID: Int64) throws(StoreError) -> [APIKeyRecord] {
        try query("SELECT * FROM fax_api_keys WHERE account_id = ? ORDER BY id DESC", [accountID]).map(APIKeyRecord.init(row:))
    }

    /// Revokes key `id` of `accountID` (idempotent: a revoked key keeps its first revocation
    /// time). nil when the account has no such key.
    public func revokeAPIKey(id: Int64, accountID: Int64, now: Date = Date()) throws(StoreError) -> APIKeyRecord? {
        try query("UPDATE fax_api_keys SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL",
                  [now, id, accountID])
        return try query("SELECT * FROM fax_api_keys WHERE id = ? AND account_id = ?", [id, accountID]).first.map(APIKeyRecord.init(row:))
    }
}
