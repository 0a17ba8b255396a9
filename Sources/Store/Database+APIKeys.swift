import Foundation

/// An idempotency key's record: a claim while its request runs (status 0), then the answer.
public struct IdempotentResponse: Sendable, Equatable {
    /// SHA-256 of the parsed request that made it: a repeat with another request is an error, not a replay.
    public var requestHash: String
    /// The HTTP status of the answer; 0 while the request runs.
    public var status: Int
    public var responseJSON: String
    /// When the key was claimed (or last taken over).
    public var createdAt: Date
    /// The service start (`FaxService.instanceID`) whose request holds a claim; nil once released.
    public var instanceID: String?
    /// Transmissions queued under the key so far, in request order.
    public var transmissionUUIDs: [String]

    public init(requestHash: String, status: Int, responseJSON: String, createdAt: Date = Date(), instanceID: String? = nil,
                transmissionUUIDs: [String] = []) {
        self.requestHash = requestHash
        self.status = status
        self.responseJSON = responseJSON
        self.createdAt = createdAt
        self.instanceID = instanceID
        self.transmissionUUIDs = transmissionUUIDs
    }
}

/// What claiming an idempotency key found.
public enum IdempotencyClaim: Sendable, Equatable {
    /// The key is this request's now; `queued` are transmissions an earlier, interrupted run of
    /// the same request queued already.
    case claimed(queued: [String])
    /// The request ran before: its answer.
    case answered(IdempotentResponse)
    /// The key belongs to another request.
    case mismatch
    /// The same request runs now in this process, started `elapsed` seconds ago.
    case running(elapsed: Double)
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

    /// The record of `key`, if any.
    public func idempotentResponse(accountID: Int64, key: String) throws(StoreError) -> IdempotentResponse? {
        try query("SELECT * FROM fax_idempotency WHERE account_id = ? AND key = ?", [accountID, key]).first.map {
            IdempotentResponse(requestHash: $0.string("request_hash"), status: $0.int("status"), responseJSON: $0.string("response_json"),
                               createdAt: $0.date("created_at"), instanceID: $0.optionalString("instance_id"),
                               transmissionUUIDs: $0.string("transmission_uuids").split(separator: ",").map(String.init))
        }
    }

    /// Claims `key` for a request hashing to `requestHash`, made by service start `instance`. Call
    /// it inside a write transaction, so two requests at once cannot both claim. A claim of
    /// another service start (a process that died), or of this one older than `staleAfter`
    /// seconds (a request that hung), is taken over: released when it queued nothing, resumed
    /// when it queued some (same request only).
    /// `liveInstances` are other nodes' service starts that are still running: their claims are
    /// theirs (answered `.running`), not orphans.
    public func claimIdempotencyKey(accountID: Int64, key: String, requestHash: String, instance: String, staleAfter: Double,
                                    liveInstances: Set<String> = [], now: Date = Date()) throws(StoreError) -> IdempotencyClaim {
        if var stored = try idempotentResponse(accountID: accountID, key: key) {
            let owner = stored.instanceID ?? ""
            let ownerGone = owner != instance && !liveInstances.contains(owner)
            let orphaned = stored.status == 0 && (ownerGone || now.timeIntervalSince(stored.createdAt) > staleAfter)
            if orphaned && stored.transmissionUUIDs.isEmpty {
                try deleteIdempotentResponse(accountID: accountID, key: key)
            } else {
                guard stored.requestHash == requestHash else { return .mismatch }
                guard stored.status == 0 else { return .answered(stored) }
                guard orphaned else { return .running(elapsed: now.timeIntervalSince(stored.createdAt)) }
                stored.instanceID = instance
                stored.createdAt = now
                try storeIdempotentResponse(accountID: accountID, key: key, response: stored)
                return .claimed(queued: stored.transmissionUUIDs)
            }
        }
        try storeIdempotentResponse(accountID: accountID, key: key,
                                    response: IdempotentResponse(requestHash: requestHash, status: 0, responseJSON: "", createdAt: now, instanceID: instance))
        return .claimed(queued: [])
    }

    /// Stores (or replaces) the record of a key; status 0 marks a request still in progress.
    public func storeIdempotentResponse(accountID: Int64, key: String, response: IdempotentResponse) throws(StoreError) {
        try query("""
            INSERT INTO fax_idempotency (account_id, key, request_hash, status, response_json, created_at, instance_id, transmission_uuids)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash, status = excluded.status,
                response_json = excluded.response_json, created_at = excluded.created_at, instance_id = excluded.instance_id,
                transmission_uuids = excluded.transmission_uuids
            """, [accountID, key, response.requestHash, response.status, response.responseJSON, response.createdAt, response.instanceID,
                  response.transmissionUUIDs.joined(separator: ",")])
    }

    /// Records that transmission `uuid` was queued under `key` (in the transaction that inserts it).
    public func addIdempotentTransmission(accountID: Int64, key: String, uuid: String, requestHash: String = "", now: Date = Date()) throws(StoreError) {
        var stored = try idempotentResponse(accountID: accountID, key: key)
            ?? IdempotentResponse(requestHash: requestHash, status: 0, responseJSON: "", createdAt: now)
        stored.transmissionUUIDs.append(uuid)
        try storeIdempotentResponse(accountID: accountID, key: key, response: stored)
    }

    /// Forgets a key (its request failed before queueing anything, so a retry may run).
    public func deleteIdempotentResponse(accountID: Int64, key: String) throws(StoreError) {
        try query("DELETE FROM fax_idempotency WHERE account_id = ? AND key = ?", [accountID, key])
    }

    /// Lets go of a claim whose request stopped: forgotten when it queued nothing, kept (with no
    /// owner) when it did, so a retry of the same request resumes.
    public func releaseIdempotencyClaim(accountID: Int64, key: String) throws(StoreError) {
        try query("DELETE FROM fax_idempotency WHERE account_id = ? AND key = ? AND status = 0 AND transmission_uuids = ''", [accountID, key])
        try query("UPDATE fax_idempotency SET instance_id = NULL WHERE account_id = ? AND key = ? AND status = 0", [accountID, key])
    }

    /// At start: every claim of a service start not in `running` (this one, and other nodes'
    /// that are alive) is released (see `releaseIdempotencyClaim`); returns how many there were.
    @discardableResult
    public func releaseIdempotencyClaims(except running: Set<String>) throws(StoreError) -> Int {
        var released = 0
        for row in try query("SELECT account_id, key, instance_id FROM fax_idempotency WHERE status = 0 AND (instance_id IS NOT NULL OR transmission_uuids = '')") {
            guard !running.contains(row.string("instance_id")) else { continue }
            try releaseIdempotencyClaim(accountID: row.int64("account_id"), key: row.string("key"))
            released += 1
        }
        return released
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
