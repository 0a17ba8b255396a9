import Foundation

/// One delivery attempt of an outbox entry: what the receiver answered and how long it took.
public struct DeliveryAttempt: Sendable, Equatable, Codable {
    public var id: Int64
    public var outboxID: Int64
    public var attempt: Int
    public var startedAt: Date
    public var durationMilliseconds: Int
    /// HTTP status, or the SMTP reply code of the failing step.
    public var statusCode: Int?
    public var error: String?

    public init(outboxID: Int64, attempt: Int, startedAt: Date, durationMilliseconds: Int, statusCode: Int?, error: String?) {
        id = 0
        self.outboxID = outboxID
        self.attempt = attempt
        self.startedAt = startedAt
        self.durationMilliseconds = durationMilliseconds
        self.statusCode = statusCode
        self.error = error
    }

    init(row: Row) {
        id = row.int64("id")
        outboxID = row.int64("outbox_id")
        attempt = row.int("attempt")
        startedAt = row.date("started_at")
        durationMilliseconds = row.int("duration_ms")
        statusCode = row.optionalInt("status_code")
        error = row.optionalString("error")
    }
}

/// What the dispatcher is busy with, for `dueOutbox` to leave out: entries in flight, and the
/// accounts and webhook endpoints that have as many deliveries in flight as they may.
public struct OutboxBusy: Sendable, Equatable {
    /// Outbox entry ids being delivered now.
    public var entries: [Int64]
    /// Accounts at `delivery.account_concurrency`.
    public var accounts: [Int64]
    /// Webhook endpoints at `delivery.endpoint_concurrency`.
    public var webhooks: [Int64]

    /// Nothing busy.
    public init(entries: [Int64] = [], accounts: [Int64] = [], webhooks: [Int64] = []) {
        self.entries = entries
        self.accounts = accounts
        self.webhooks = webhooks
    }

    /// `AND column NOT IN (1, 2, ...)`, or nothing for no ids. The ids are integers written as
    /// digits, so nothing a user sent reaches the SQL text; a NULL column is never excluded.
    static func excluding(_ column: String, _ ids: [Int64]) -> String {
        ids.isEmpty ? "" : "AND (\(column) IS NULL OR \(column) NOT IN (\(ids.map(String.init).joined(separator: ", "))))"
    }
}

/// The outbox's delivery queries.
extension Database {
    /// Pending entries due by `now` that are first in line: for each fax, channel and webhook
    /// endpoint only the oldest pending entry is handed out (events reach a receiver in order),
    /// and entries for a disabled endpoint wait. Entries in `busy.entries` (in flight), of
    /// accounts in `busy.accounts` and of endpoints in `busy.webhooks` (at their concurrency cap)
    /// are left out, and so are entries another node holds a lease on. The rest comes round-robin by account (each account's oldest first, then each
    /// one's second...), so one account's backlog cannot fill the `limit` and hide another's entry.
    public func dueOutbox(now: Date, limit: Int, busy: OutboxBusy = OutboxBusy()) throws(StoreError) -> [OutboxEntry] {
        try query("""
            SELECT * FROM (
                SELECT o.*, ROW_NUMBER() OVER (PARTITION BY o.account_id ORDER BY o.next_attempt_at, o.id) AS turn
                FROM fax_outbox o
                LEFT JOIN fax_webhooks w ON w.id = o.webhook_id
                WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)
                  AND (o.webhook_id IS NULL OR w.enabled = 1)
                  AND NOT EXISTS (SELECT 1 FROM fax_outbox p WHERE p.status = 'pending' AND p.id < o.id
                                  AND p.channel = o.channel AND p.transmission_id IS NOT DISTINCT FROM o.transmission_id
                                  AND p.webhook_id IS NOT DISTINCT FROM o.webhook_id)
                  \(OutboxBusy.excluding("o.id", busy.entries)) \(OutboxBusy.excluding("o.account_id", busy.accounts))
                  \(OutboxBusy.excluding("o.webhook_id", busy.webhooks))
            ) AS due
            ORDER BY turn, next_attempt_at, id LIMIT ?
            """, [now, now, limit])
            .map(OutboxEntry.init(row:))
    }

    public func outboxEntry(id: Int64) throws(StoreError) -> OutboxEntry? {
        try query("SELECT * FROM fax_outbox WHERE id = ?", [id]).first.map(OutboxEntry.init(row:))
    }

    public func outboxEntry(eventID: String) throws(StoreError) -> OutboxEntry? {
        try query("SELECT * FROM fax_outbox WHERE event_id = ?", [eventID]).first.map(OutboxEntry.init(row:))
    }

    /// Entries newest first, optionally only those in `status`.
    public func outbox(status: String?, limit: Int) throws(StoreError) -> [OutboxEntry] {
        if let status {
            return try query("SELECT * FROM fax_outbox WHERE status = ? ORDER BY id DESC LIMIT ?", [status, limit]).map(OutboxEntry.init(row:))
        }
        return try query("SELECT * FROM fax_outbox ORDER BY id DESC LIMIT ?", [limit]).map(OutboxEntry.init(row:))
    }

    /// Records an attempt and the entry's new state in one go.
    public func recordDelivery(_ attempt: DeliveryAttempt, entryID: Int64, status: String, nextAttemptAt: Date?,
                               lastError: String?, deliveredAt: Date?) throws(StoreError) {
        try query("""
            INSERT INTO fax_deliveries (outbox_id, attempt, started_at, duration_ms, status_code, error)
            VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (outbox_id, attempt) DO NOTHING
            """, [attempt.outboxID, attempt.attempt, attempt.startedAt, attempt.durationMilliseconds, attempt.statusCode, attempt.error])
        try query("""
            UPDATE fax_outbox SET status = ?, attempts = ?, next_attempt_at = COALESCE(?, next_attempt_at), last_error = ?,
                delivered_at = ?, node_id = NULL, lease_until = NULL WHERE id = ?
            """, [status, attempt.attempt, nextAttemptAt, lastError, deliveredAt, entryID])
    }

    public func deliveries(outboxID: Int64) throws(StoreError) -> [DeliveryAttempt] {
        try query("SELECT * FROM fax_deliveries WHERE outbox_id = ? ORDER BY attempt", [outboxID]).map(DeliveryAttempt.init(row:))
    }

    /// Puts an entry back in line for delivery now (same event id, so receivers can dedupe).
    @discardableResult
    public func redeliver(id: Int64, now: Date) throws(StoreError) -> Bool {
        try query("UPDATE fax_outbox SET status = 'pending', next_attempt_at = ?, delivered_at = NULL WHERE id = ?", [now, id])
        return changes > 0
    }

    /// Marks every pending entry of `channel` failed with `reason` (email when SMTP is off).
    public func failPending(channel: OutboxEntry.Channel, reason: String) throws(StoreError) -> Int {
        try query("UPDATE fax_outbox SET status = 'failed', last_error = ? WHERE status = 'pending' AND channel = ?", [reason, channel.rawValue])
        return changes
    }

    public func webhook(id: Int64) throws(StoreError) -> FaxWebhook? {
        try query("SELECT * FROM fax_webhooks WHERE id = ?", [id]).first.map(FaxWebhook.init(row:))
    }

    /// How many webhook endpoints `accountID` has (enabled or not), for `delivery.max_webhooks_per_account`.
    public func webhookCount(accountID: Int64) throws(StoreError) -> Int {
        try query("SELECT COUNT(*) AS n FROM fax_webhooks WHERE account_id = ?", [accountID]).first?.int("n") ?? 0
    }

    public func webhook(uuid: String) throws(StoreError) -> FaxWebhook? {
        try query("SELECT * FROM fax_webhooks WHERE uuid = ?", [uuid]).first.map(FaxWebhook.init(row:))
    }

    /// After a delivery to an endpoint: resets its failure count, or counts one more failure and
    /// disables it once `disableAfter` are reached. Returns true when this call disabled it.
    @discardableResult
    public func recordWebhookResult(id: Int64, success: Bool, disableAfter: Int, reason: String?) throws(StoreError) -> Bool {
        if success {
            try query("UPDATE fax_webhooks SET consecutive_failures = 0 WHERE id = ?", [id])
            return false
        }
        try query("UPDATE fax_webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ?", [id])
        try query("""
            UPDATE fax_webhooks SET enabled = 0, disabled_reason = ? WHERE id = ? AND enabled = 1 AND consecutive_failures >= ?
            """, ["\(disableAfter) consecutive failed deliveries; the last: \(reason ?? "unknown")", id, disableAfter])
        return changes > 0
    }

    /// Enables or disables an endpoint (enabling clears the failure count and reason).
    public func setWebhook(id: Int64, enabled: Bool, reason: String? = nil) throws(StoreError) {
        try query("UPDATE fax_webhooks SET enabled = ?, disabled_reason = ?, consecutive_failures = CASE WHEN ? = 1 THEN 0 ELSE consecutive_failures END WHERE id = ?",
                  [enabled, enabled ? nil : reason, enabled, id])
    }

    /// Deletes an endpoint; its undelivered entries are marked failed.
    public func deleteWebhook(id: Int64) throws(StoreError) {
        try query("UPDATE fax_outbox SET status = 'failed', last_error = 'endpoint deleted' WHERE webhook_id = ? AND status = 'pending'", [id])
        try query("UPDATE fax_outbox SET webhook_id = NULL WHERE webhook_id = ?", [id])
        try query("DELETE FROM fax_webhooks WHERE id = ?", [id])
    }
}
