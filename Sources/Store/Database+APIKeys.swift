import Foundation

/// A stored answer to an idempotent request.
public struct IdempotentResponse: Sendable, Equatable {
    /// SHA-256 of the request that made it: a repeat with another body is an error, not a replay.
    public var requestHash: String
    public var status: Int
    public var responseJSON: String
    /// When the key was first used (a pending claim older than a few minutes was abandoned).
    public var createdAt: Date

    public init(requestHash: String, status: Int, responseJSON: String, createdAt: Date = Date()) {
        self.requestHash = requestHash
        self.status = status
        self.responseJSON = responseJSON
        self.createdAt = createdAt
    }
}

extension Database {
    /// Stores a key by its hash (and a short prefix operators can tell keys apart by).
    public func insertAPIKey(accountID: Int64, keyHash: String, prefix: String, now: Date = Date()) throws(StoreError) {
        try query("INSERT INTO fax_api_keys (account_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?)",
                  [accountID, keyHash, prefix, now])
    }

    /// The active account whose unrevoked key hashes to `keyHash`.
    public func account(apiKeyHash keyHash: String) throws(StoreError) -> FaxAccount? {
        try query("""
            SELECT a.* FROM fax_accounts a JOIN fax_api_keys k ON k.account_id = a.id
            WHERE k.key_hash = ? AND k.revoked_at IS NULL
            """, [keyHash]).first.map(FaxAccount.init(row:))
    }

    public func idempotentResponse(accountID: Int64, key: String) throws(StoreError) -> IdempotentResponse? {
        try query("SELECT * FROM fax_idempotency WHERE account_id = ? AND key = ?", [accountID, key]).first.map {
            IdempotentResponse(requestHash: $0.string("request_hash"), status: $0.int("status"), responseJSON: $0.string("response_json"),
                               createdAt: $0.date("created_at"))
        }
    }

    /// Stores (or replaces) the answer for a key; status 0 marks a request still in progress.
    public func storeIdempotentResponse(accountID: Int64, key: String, response: IdempotentResponse) throws(StoreError) {
        try query("INSERT OR REPLACE INTO fax_idempotency (account_id, key, request_hash, status, response_json, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                  [accountID, key, response.requestHash, response.status, response.responseJSON, response.createdAt])
    }

    /// Forgets a key (its request failed, so a retry may run).
    public func deleteIdempotentResponse(accountID: Int64, key: String) throws(StoreError) {
        try query("DELETE FROM fax_idempotency WHERE account_id = ? AND key = ?", [accountID, key])
    }

    /// Transmissions of one account newest first with the API's filters; `before` is the cursor
    /// (the id of the last row of the previous page).
    public func transmissions(accountID: Int64, direction: FaxTransmission.Direction?, status: FaxTransmission.Status?,
                              from: String?, to: String?, since: Date?, until: Date?, before: Int64?, limit: Int) throws(StoreError) -> [FaxTransmission] {
        var conditions = ["account_id = ?"]
        var arguments: [any SQLBindable] = [accountID]
        if let direction { conditions.append("direction = ?"); arguments.append(direction.rawValue) }
        if let status { conditions.append("status = ?"); arguments.append(status.rawValue) }
        if let from { conditions.append("from_number = ?"); arguments.append(from) }
        if let to { conditions.append("to_number = ?"); arguments.append(to) }
        if let since { conditions.append("created_at >= ?"); arguments.append(since) }
        if let until { conditions.append("created_at < ?"); arguments.append(until) }
        if let before { conditions.append("id < ?"); arguments.append(before) }
        return try query("SELECT * FROM fax_transmissions WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?",
                         arguments + [limit]).map(FaxTransmission.init(row:))
    }

    /// The newest transmissions of every account (the admin page).
    public func recentTransmissions(limit: Int) throws(StoreError) -> [FaxTransmission] {
        try query("SELECT * FROM fax_transmissions ORDER BY id DESC LIMIT ?", [limit]).map(FaxTransmission.init(row:))
    }
}

extension Database {
    /// Cancels a transmission if it is still queued; true when it was.
    public func cancelQueued(id: Int64, now: Date = Date()) throws(StoreError) -> Bool {
        try query("UPDATE fax_transmissions SET status = 'cancelled', completed_at = ?, updated_at = ?, next_attempt_at = NULL WHERE id = ? AND status = 'queued'",
                  [now, now, id])
        let done = changes > 0
        if done { try log(.info, "cancelled by the account", transmissionID: id) }
        return done
    }
}
