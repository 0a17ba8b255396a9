import Foundation

/// Typed queries. They are `Database` methods so several compose in one `FaxStore.write`.
extension Database {
    // MARK: Accounts

    /// Inserts `account`; returns it with its id. A duplicate fax number throws (UNIQUE).
    public func insert(_ account: FaxAccount) throws(StoreError) -> FaxAccount {
        let id = try insertReturningID("""
            INSERT INTO fax_accounts (uuid, fax_number, name, email, email_format, plan, status, billing_cycle_day,
                max_concurrent_sends, record_calls, number_mode, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [account.uuid, account.faxNumber, account.name, account.email, account.emailFormat.rawValue,
                  account.plan.rawValue, account.status.rawValue, account.billingCycleDay, account.maxConcurrentSends,
                  account.recordCalls, account.numberMode.rawValue, account.createdAt, account.updatedAt])
        var saved = account
        saved.id = id
        return saved
    }

    /// Writes every field of `account` (by id).
    public func update(_ account: FaxAccount) throws(StoreError) {
        try query("""
            UPDATE fax_accounts SET fax_number = ?, name = ?, email = ?, email_format = ?, plan = ?, status = ?,
                billing_cycle_day = ?, max_concurrent_sends = ?, record_calls = ?, number_mode = ?, updated_at = ? WHERE id = ?
            """, [account.faxNumber, account.name, account.email, account.emailFormat.rawValue, account.plan.rawValue,
                  account.status.rawValue, account.billingCycleDay, account.maxConcurrentSends, account.recordCalls,
                  account.numberMode.rawValue, Date(), account.id])
    }

    public func accounts() throws(StoreError) -> [FaxAccount] {
        try query("SELECT * FROM fax_accounts ORDER BY fax_number").map(FaxAccount.init(row:))
    }

    public func account(id: Int64) throws(StoreError) -> FaxAccount? {
        try query("SELECT * FROM fax_accounts WHERE id = ?", [id]).first.map(FaxAccount.init(row:))
    }

    public func account(faxNumber: String) throws(StoreError) -> FaxAccount? {
        try query("SELECT * FROM fax_accounts WHERE fax_number = ?", [faxNumber]).first.map(FaxAccount.init(row:))
    }

    /// The account with this uuid or fax number.
    public func account(identifiedBy key: String) throws(StoreError) -> FaxAccount? {
        try query("SELECT * FROM fax_accounts WHERE uuid = ? OR fax_number = ?", [key, key]).first.map(FaxAccount.init(row:))
    }

    // MARK: Usage

    public func usage(accountID: Int64, periodStart: String) throws(StoreError) -> UsagePeriod {
        try query("SELECT * FROM fax_usage WHERE account_id = ? AND period_start = ?", [accountID, periodStart])
            .first.map(UsagePeriod.init(row:)) ?? UsagePeriod(accountID: accountID, periodStart: periodStart)
    }

    /// Adds to an account's counters for a period (creating the row).
    public func addUsage(accountID: Int64, periodStart: String, sent: Int = 0, received: Int = 0,
                         overage: Int = 0, costCents: Int = 0) throws(StoreError) {
        try query("""
            INSERT INTO fax_usage (account_id, period_start, pages_sent, pages_received, overage_pages, cost_cents)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (account_id, period_start) DO UPDATE SET pages_sent = fax_usage.pages_sent + excluded.pages_sent,
                pages_received = fax_usage.pages_received + excluded.pages_received,
                overage_pages = fax_usage.overage_pages + excluded.overage_pages, cost_cents = fax_usage.cost_cents + excluded.cost_cents
            """, [accountID, periodStart, sent, received, overage, costCents])
    }

    // MARK: Transmissions

    /// Inserts `transmission`; returns it with its id.
    public func insert(_ transmission: FaxTransmission) throws(StoreError) -> FaxTransmission {
        let columns = transmission.columns
        let names = columns.map(\.0).joined(separator: ", ")
        let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        let id = try insertReturningID("INSERT INTO fax_transmissions (\(names)) VALUES (\(marks))", columns.map(\.1))
        var saved = transmission
        saved.id = id
        return saved
    }

    /// Writes every field of `transmission` (by id), stamping `updated_at`.
    public func update(_ transmission: FaxTransmission) throws(StoreError) {
        var copy = transmission
        copy.updatedAt = Date()
        let columns = copy.columns.filter { $0.0 != "uuid" && $0.0 != "created_at" }
        let sets = columns.map { "\($0.0) = ?" }.joined(separator: ", ")
        try query("UPDATE fax_transmissions SET \(sets) WHERE id = ?", columns.map(\.1) + [transmission.id])
    }

    public func transmission(uuid: String) throws(StoreError) -> FaxTransmission? {
        try query("SELECT * FROM fax_transmissions WHERE uuid = ?", [uuid]).first.map(FaxTransmission.init(row:))
    }


    /// Transmissions newest first, optionally filtered.
    public func transmissions(accountID: Int64? = nil, direction: FaxTransmission.Direction? = nil,
                              status: FaxTransmission.Status? = nil, limit: Int = 50) throws(StoreError) -> [FaxTransmission] {
        var conditions: [String] = []
        var arguments: [any SQLBindable] = []
        if let accountID { conditions.append("account_id = ?"); arguments.append(accountID) }
        if let direction { conditions.append("direction = ?"); arguments.append(direction.rawValue) }
        if let status { conditions.append("status = ?"); arguments.append(status.rawValue) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try query("SELECT * FROM fax_transmissions \(filter) ORDER BY created_at DESC, id DESC LIMIT ?",
                         arguments + [limit]).map(FaxTransmission.init(row:))
    }

    /// Transmissions in one of `statuses` (any direction), oldest first.
    public func transmissions(in statuses: [FaxTransmission.Status], direction: FaxTransmission.Direction) throws(StoreError) -> [FaxTransmission] {
        let marks = statuses.map { _ in "?" }.joined(separator: ", ")
        return try query("SELECT * FROM fax_transmissions WHERE direction = ? AND status IN (\(marks)) ORDER BY id",
                         [direction.rawValue] + statuses.map(\.rawValue)).map(FaxTransmission.init(row:))
    }

    /// Queued outbound transmissions due by `now`, oldest due first, at most `perAccount` of any
    /// one account: an account with a thousand due sends cannot fill the window and starve others.
    public func dueTransmissions(now: Date, limit: Int, perAccount: Int = 20) throws(StoreError) -> [FaxTransmission] {
        try query("""
            SELECT * FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY next_attempt_at, id) AS rank_in_account
                FROM fax_transmissions WHERE direction = 'outbound' AND status = 'queued' AND next_attempt_at <= ?
            ) AS ranked WHERE rank_in_account <= ? ORDER BY next_attempt_at, id LIMIT ?
            """, [now, perAccount, limit]).map(FaxTransmission.init(row:))
    }

    /// Pages an account has queued or in flight but not yet sent (they count against the plan).
    public func pendingPages(accountID: Int64) throws(StoreError) -> Int {
        try query("""
            SELECT COALESCE(SUM(pages_total - pages_transferred), 0) AS n FROM fax_transmissions
            WHERE account_id = ? AND direction = 'outbound' AND status IN ('queued', 'dialing', 'transmitting')
            """, [accountID]).first?.int("n") ?? 0
    }

    /// Outbound transmissions per status (queue depths for operators).
    public func outboundCounts() throws(StoreError) -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try query("SELECT status, COUNT(*) AS n FROM fax_transmissions WHERE direction = 'outbound' GROUP BY status") {
            counts[row.string("status")] = row.int("n")
        }
        return counts
    }

    // MARK: Attempts

    public func insert(_ attempt: FaxAttempt) throws(StoreError) -> FaxAttempt {
        let id = try insertReturningID("""
            INSERT INTO fax_attempts (transmission_id, number, started_at, first_page, ecm, v17, t38)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [attempt.transmissionID, attempt.number, attempt.startedAt, attempt.firstPage, attempt.ecm, attempt.v17, attempt.t38])
        var saved = attempt
        saved.id = id
        return saved
    }

    /// Records, while the call goes on, that the far end confirmed `pages` pages of an attempt
    /// still open (a count only grows): what a restart or another node resumes from when the
    /// node dies before the attempt ends.
    public func recordPagesConfirmed(attemptID: Int64, pages: Int) throws(StoreError) {
        try query("UPDATE fax_attempts SET pages_confirmed = ? WHERE id = ? AND ended_at IS NULL AND pages_confirmed < ?",
                  [pages, attemptID, pages])
    }

    public func update(_ attempt: FaxAttempt) throws(StoreError) {
        try query("""
            UPDATE fax_attempts SET ended_at = ?, result = ?, failure_class = ?, pages_confirmed = ?, sip_status = ?,
                t30_code = ?, t30_name = ?, hangup_cause = ?, outcome_json = ? WHERE id = ?
            """, [attempt.endedAt, attempt.result, attempt.failureClass, attempt.pagesConfirmed, attempt.sipStatus,
                  attempt.t30Code, attempt.t30Name, attempt.hangupCause, attempt.outcomeJSON, attempt.id])
    }

    public func attempts(transmissionID: Int64) throws(StoreError) -> [FaxAttempt] {
        try query("SELECT * FROM fax_attempts WHERE transmission_id = ? ORDER BY number", [transmissionID]).map(FaxAttempt.init(row:))
    }

    // MARK: Pages

    public func insert(_ page: FaxPage) throws(StoreError) {
        try query("""
            INSERT INTO fax_pages (transmission_id, page_number, status, width, height, x_resolution, y_resolution,
                compression, sha256, bad_rows, transferred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (transmission_id, page_number) DO UPDATE SET status = excluded.status, width = excluded.width,
                height = excluded.height, x_resolution = excluded.x_resolution, y_resolution = excluded.y_resolution,
                compression = excluded.compression, sha256 = excluded.sha256, bad_rows = excluded.bad_rows,
                transferred_at = excluded.transferred_at
            """, [page.transmissionID, page.pageNumber, page.status.rawValue, page.width, page.height, page.xResolution,
                  page.yResolution, page.compression, page.sha256, page.badRows, page.transferredAt])
    }

    public func pages(transmissionID: Int64) throws(StoreError) -> [FaxPage] {
        try query("SELECT * FROM fax_pages WHERE transmission_id = ? ORDER BY page_number", [transmissionID]).map(FaxPage.init(row:))
    }

    // MARK: Contacts

    /// Learns `number` for an account: inserts it or bumps its usage count and last use.
    public func touchContact(accountID: Int64, number: String, name: String?, at date: Date) throws(StoreError) {
        try query("""
            INSERT INTO fax_contacts (account_id, number, name, usage_count, last_used_at, created_at) VALUES (?, ?, ?, 1, ?, ?)
            ON CONFLICT (account_id, number) DO UPDATE SET usage_count = fax_contacts.usage_count + 1, last_used_at = excluded.last_used_at,
                name = COALESCE(fax_contacts.name, excluded.name)
            """, [accountID, number, name, date, date])
    }

    public func contacts(accountID: Int64) throws(StoreError) -> [FaxContact] {
        try query("SELECT * FROM fax_contacts WHERE account_id = ? ORDER BY usage_count DESC, number", [accountID])
            .map(FaxContact.init(row:))
    }

    // MARK: Webhooks

    public func insert(_ webhook: FaxWebhook) throws(StoreError) -> FaxWebhook {
        let id = try insertReturningID("""
            INSERT INTO fax_webhooks (uuid, account_id, url, secret, events, enabled, consecutive_failures, disabled_reason, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [webhook.uuid, webhook.accountID, webhook.url, webhook.secret, webhook.events.joined(separator: ","),
                  webhook.enabled, webhook.consecutiveFailures, webhook.disabledReason, webhook.createdAt])
        var saved = webhook
        saved.id = id
        return saved
    }

    public func webhooks(accountID: Int64) throws(StoreError) -> [FaxWebhook] {
        try query("SELECT * FROM fax_webhooks WHERE account_id = ? ORDER BY id", [accountID]).map(FaxWebhook.init(row:))
    }

    // MARK: Logs

    public func log(_ level: FaxLog.Level, _ message: String, transmissionID: Int64?, details: [String: String] = [:]) throws(StoreError) {
        let json: String? = details.isEmpty ? nil
            : (try? JSONSerialization.data(withJSONObject: details, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
        try query("INSERT INTO fax_logs (transmission_id, level, message, details_json, created_at) VALUES (?, ?, ?, ?, ?)",
                  [transmissionID, level.rawValue, message, json, Date()])
    }

    public func logs(transmissionID: Int64) throws(StoreError) -> [FaxLog] {
        try query("SELECT * FROM fax_logs WHERE transmission_id = ? ORDER BY id", [transmissionID]).map(FaxLog.init(row:))
    }

    // MARK: Outbox

    /// Queues `entry` unless an entry with its event id exists; true when it was added.
    @discardableResult
    public func enqueue(_ entry: OutboxEntry) throws(StoreError) -> Bool {
        try query("""
            INSERT INTO fax_outbox (event_id, channel, event, account_id, transmission_id, webhook_id, payload_json,
                status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (event_id) DO NOTHING
            """, [entry.eventID, entry.channel.rawValue, entry.event, entry.accountID, entry.transmissionID, entry.webhookID,
                  entry.payloadJSON, entry.status, entry.attempts, entry.nextAttemptAt, entry.createdAt])
        let added = changes > 0
        if added { try wake("outbox") }
        return added
    }

    public func outbox(transmissionID: Int64) throws(StoreError) -> [OutboxEntry] {
        try query("SELECT * FROM fax_outbox WHERE transmission_id = ? ORDER BY id", [transmissionID]).map(OutboxEntry.init(row:))
    }

    /// Entries waiting for delivery.
    public func pendingOutboxCount() throws(StoreError) -> Int {
        try query("SELECT COUNT(*) AS n FROM fax_outbox WHERE status = 'pending'").first?.int("n") ?? 0
    }
}

extension Database {
    /// Sets the status of pages `pages` (1-based) of a transmission.
    public func setPageStatus(transmissionID: Int64, pages: ClosedRange<Int>, status: FaxPage.Status, at date: Date?) throws(StoreError) {
        try query("UPDATE fax_pages SET status = ?, transferred_at = COALESCE(?, transferred_at) WHERE transmission_id = ? AND page_number BETWEEN ? AND ?",
                  [status.rawValue, date, transmissionID, pages.lowerBound, pages.upperBound])
    }
}
