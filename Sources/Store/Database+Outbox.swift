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

/// The outbox's delivery queries.
extension Database {
    /// Pending entries due by `now` that are first in line: for each fax, channel and webhook
    /// endpoint only the oldest pending entry is handed out (events reach a receiver in order),
    /// and entries for a disabled endpoint wait.
    public func dueOutbox(now: Date, limit: Int) throws(StoreError) -> [OutboxEntry] {
        try query("""
            SELECT o.* FROM fax_outbox o
            LEFT JOIN fax_webhooks w ON w.id = o.webhook_id
            WHERE o.status = 'pending' AND o.next_attempt_at <= ?
              AND (o.webhook_id IS NULL OR w.enabled = 1)
              AND NOT EXISTS (SELECT 1 FROM fax_outbox p WHERE p.status = 'pending' AND p.id < o.id
                              AND p.channel = o.channel AND p.transmission_id IS o.transmission_id AND p.webhook_id IS o.webhook_id)
            ORDER BY o.next_attempt_at, o.id LIMIT ?
            """, [now, limit]).map(OutboxEntry.init(row:))
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
            INSERT OR IGNORE INTO fax_deliveries (outbox_id, attempt, started_at, duration_ms, status_code, error)
            VALUES (?, ?, ?, ?, ?, ?)
            """, [attempt.outboxID, attempt.attempt, attempt.startedAt, attempt.durationMilliseconds, attempt.statusCode, attempt.error])
        try query("""
            UPDATE fax_outbox SET status = ?, attempts = ?, next_attempt_at = COALESCE(?, next_attempt_at), last_error = ?,
                delivered_at = ? WHERE id = ?
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
        try query("UPDATE fax_webhooks SET enabled = ?, disabled_reason = ?, consecutive_failures = CASE WHEN ? THEN 0 ELSE consecutive_failures END WHERE id = ?",
                  [enabled, enabled ? nil : reason, enabled, id])
    }

    /// Deletes an endpoint; its undelivered entries are marked failed.
    public func deleteWebhook(id: Int64) throws(StoreError) {
        try query("UPDATE fax_outbox SET status = 'failed', last_error = 'endpoint deleted' WHERE webhook_id = ? AND status = 'pending'", [id])
        try query("UPDATE fax_outbox SET webhook_id = NULL WHERE webhook_id = ?", [id])
        try query("DELETE FROM fax_webhooks WHERE id = ?", [id])
    }
}
