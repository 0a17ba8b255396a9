import Foundation

/// An address-book entry, learned from successful sends (the seed's FaxContact).
public struct FaxContact: Sendable, Equatable, Codable {
    public var id: Int64
    public var accountID: Int64
    public var number: String
    public var name: String?
    public var usageCount: Int
    public var lastUsedAt: Date?
    public var createdAt: Date

    init(row: Row) {
        id = row.int64("id")
        accountID = row.int64("account_id")
        number = row.string("number")
        name = row.optionalString("name")
        usageCount = row.int("usage_count")
        lastUsedAt = row.optionalDate("last_used_at")
        createdAt = row.date("created_at")
    }
}

/// A webhook endpoint of an account (the seed's FaxWebhook): events it wants, its HMAC secret and
/// its failure record.
public struct FaxWebhook: Sendable, Equatable, Codable {
    public var id: Int64
    public var uuid: String
    public var accountID: Int64
    public var url: String
    public var secret: String
    /// Event names it subscribes to ("fax.received", "fax.sent", "fax.failed", "fax.queued", "fax.retry_scheduled").
    public var events: [String]
    public var enabled: Bool
    public var consecutiveFailures: Int
    public var disabledReason: String?
    public var createdAt: Date

    public init(accountID: Int64, url: String, secret: String, events: [String], uuid: String = UUID().uuidString.lowercased(),
                createdAt: Date = Date()) {
        id = 0
        self.uuid = uuid
        self.accountID = accountID
        self.url = url
        self.secret = secret
        self.events = events
        enabled = true
        consecutiveFailures = 0
        self.createdAt = createdAt
    }

    init(row: Row) {
        id = row.int64("id")
        uuid = row.string("uuid")
        accountID = row.int64("account_id")
        url = row.string("url")
        secret = row.string("secret")
        events = row.string("events").split(separator: ",").map(String.init)
        enabled = row.bool("enabled")
        consecutiveFailures = row.int("consecutive_failures")
        disabledReason = row.optionalString("disabled_reason")
        createdAt = row.date("created_at")
    }
}

/// A log entry for operators, linked to a transmission (the seed's FaxLog).
public struct FaxLog: Sendable, Equatable, Codable {
    public var id: Int64
    public var transmissionID: Int64?
    public var level: Level
    public var message: String
    /// Structured details as a JSON object.
    public var detailsJSON: String?
    public var createdAt: Date

    public enum Level: String, Sendable, Codable, CaseIterable { case debug, info, warning, error }

    init(row: Row) {
        id = row.int64("id")
        transmissionID = row.optionalInt("transmission_id").map(Int64.init)
        level = Level(rawValue: row.string("level")) ?? .info
        message = row.string("message")
        detailsJSON = row.optionalString("details_json")
        createdAt = row.date("created_at")
    }
}

/// A message waiting to be delivered (email or webhook): written in the same transaction as the
/// state change it reports, so no event is lost or invented by a crash. `eventID` is stable and
/// unique: the same event is never queued twice.
public struct OutboxEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var eventID: String
    public var channel: Channel
    /// "fax.received", "fax.sent", ...
    public var event: String
    public var accountID: Int64
    public var transmissionID: Int64?
    public var webhookID: Int64?
    public var payloadJSON: String
    public var status: String
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?

    public enum Channel: String, Sendable, Codable, CaseIterable { case email, webhook }

    public init(eventID: String, channel: Channel, event: String, accountID: Int64, transmissionID: Int64?,
                webhookID: Int64?, payloadJSON: String, now: Date = Date()) {
        id = 0
        self.eventID = eventID
        self.channel = channel
        self.event = event
        self.accountID = accountID
        self.transmissionID = transmissionID
        self.webhookID = webhookID
        self.payloadJSON = payloadJSON
        status = "pending"
        attempts = 0
        nextAttemptAt = now
        createdAt = now
    }

    init(row: Row) {
        id = row.int64("id")
        eventID = row.string("event_id")
        channel = Channel(rawValue: row.string("channel")) ?? .webhook
        event = row.string("event")
        accountID = row.int64("account_id")
        transmissionID = row.optionalInt("transmission_id").map(Int64.init)
        webhookID = row.optionalInt("webhook_id").map(Int64.init)
        payloadJSON = row.string("payload_json")
        status = row.string("status")
        attempts = row.int("attempts")
        nextAttemptAt = row.date("next_attempt_at")
        lastError = row.optionalString("last_error")
        createdAt = row.date("created_at")
        deliveredAt = row.optionalDate("delivered_at")
    }
}
