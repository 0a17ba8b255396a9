import Engine
import Foundation
import Store

/// Webhook event names (the seed's three plus the queue's two).
public enum FaxEvent: String, Sendable, CaseIterable {
    case received = "fax.received"
    case sent = "fax.sent"
    case failed = "fax.failed"
    case queued = "fax.queued"
    case retryScheduled = "fax.retry_scheduled"
}

/// Builds outbox entries: the seed's webhook payload (`event`, `timestamp`, `data` with uuid,
/// from, to, pages, duration, status) extended with the typed outcome, and fax-to-email messages.
public enum OutboxMessages {
    /// One webhook entry per enabled endpoint of the account subscribed to `event`, plus an email
    /// entry when `email` is given. Event ids are stable (`uuid:event:attempt:target`), so a
    /// repeated call queues nothing twice.
    static func entries(for event: FaxEvent, transmission: FaxTransmission, account: FaxAccount, webhooks: [FaxWebhook],
                        attempt: Int, extra: [String: Any] = [:], email: Email? = nil, now: Date = Date()) -> [OutboxEntry] {
        let base = "\(transmission.uuid):\(event.rawValue):\(attempt)"
        var entries: [OutboxEntry] = []
        let payload = webhookPayload(event: event, transmission: transmission, extra: extra, now: now)
        // Disabled endpoints get their entries too: they wait (in order) until the endpoint is enabled.
        for hook in webhooks where hook.events.contains(event.rawValue) {
            entries.append(OutboxEntry(eventID: "\(base):webhook-\(hook.uuid)", channel: .webhook, event: event.rawValue,
                                       accountID: account.id, transmissionID: transmission.id, webhookID: hook.id,
                                       payloadJSON: payload, now: now))
        }
        if let email, let address = account.email {
            var message: [String: Any] = ["to": address, "subject": email.subject, "body": email.body]
            if let attachment = email.attachment {
                message["attachment_path"] = attachment
                message["attachment_name"] = email.attachmentName
            }
            entries.append(OutboxEntry(eventID: "\(base):email", channel: .email, event: event.rawValue, accountID: account.id,
                                       transmissionID: transmission.id, webhookID: nil, payloadJSON: json(message), now: now))
        }
        return entries
    }

    /// "Fax Sent Successfully to {recipient}" with status, pages, duration and cost (the seed's).
    static func sentEmail(_ t: FaxTransmission) -> Email {
        Email(subject: "Fax Sent Successfully to \(t.toNumber ?? "")",
              body: "Status: completed\nPages: \(t.pagesTotal)\nDuration: \(Int(t.durationSeconds)) s\nCost: \(dollars(t.costCents))\nAttempts: \(t.attempts)\n",
              attachment: nil, attachmentName: nil)
    }

    /// The failure notice for a send that will not go out.
    static func failedEmail(_ t: FaxTransmission, reason: String) -> Email {
        Email(subject: "Fax to \(t.toNumber ?? "") Failed",
              body: "Status: failed\nReason: \(reason)\nPages sent: \(t.pagesTransferred) of \(t.pagesTotal)\nAttempts: \(t.attempts)\n",
              attachment: nil, attachmentName: nil)
    }

    static func dollars(_ cents: Int) -> String { String(format: "$%d.%02d", cents / 100, cents % 100) }

    /// A fax-to-email message.
    struct Email {
        var subject: String
        var body: String
        var attachment: String?
        var attachmentName: String?
    }

    static func webhookPayload(event: FaxEvent, transmission t: FaxTransmission, extra: [String: Any], now: Date) -> String {
        var data: [String: Any] = [
            "uuid": t.uuid, "direction": t.direction.rawValue, "from": t.fromNumber ?? "", "to": t.toNumber ?? "",
            "pages": t.pagesTransferred, "pages_total": t.pagesTotal, "duration": t.durationSeconds, "status": t.status.rawValue,
            "attempts": t.attempts, "cost_cents": t.costCents, "ecm": t.ecm, "bit_rate": t.bitRate,
        ]
        if let v = t.t30Code { data["t30_code"] = v }
        if let v = t.t30Name { data["t30_name"] = v }
        if let v = t.sipStatus { data["sip_status"] = v }
        if let v = t.sipReason { data["sip_reason"] = v }
        if let v = t.transport { data["transport"] = v }
        if let v = t.remoteStationID { data["remote_station_id"] = v }
        if let v = t.hangupCause { data["hangup_cause"] = v }
        if let v = t.error { data["error"] = v }
        for (key, value) in extra { data[key] = value }
        return json(["event": event.rawValue, "timestamp": timestamp(now), "data": data])
    }

    /// ISO 8601 with fractional seconds, as payloads, logs and the API show times.
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static func json(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
