import ArgumentParser
import Delivery
import Engine
import Foundation
import Processing
import SIP
import Store

struct Webhook: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage an account's webhook endpoints (events, signing secret, failure state).",
        subcommands: [Add.self, List.self, Remove.self, Enable.self])

    /// Fax events, voice events and the softphone's aliases for them.
    static let events = VoiceEventType.subscribable

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an endpoint; prints it with its secret (shown this once).")
        @Option(help: "The account (fax number or uuid).") var account: String
        @Option(help: "Where events are POSTed (http or https).") var url: String
        @Option(help: "Comma-separated events: \(Webhook.events.joined(separator: ", ")).")
        var events: String = "fax.received,fax.sent,fax.failed"
        @OptionGroup var store: StoreOptions

        func run() throws {
            guard let parsed = WebhookSender.endpoint(url) else {
                throw ValidationError("--url: '\(WebhookURL.redacted(url))' is not an http(s) URL")
            }
            let list = events.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if let unknown = list.first(where: { !Webhook.events.contains($0) }) {
                throw ValidationError("--events: '\(unknown)' is not an event (expected \(Webhook.events.joined(separator: ", ")))")
            }
            let (db, configuration) = try store.open()
            if !configuration.delivery.allowPrivateTargets, let refusal = WebhookTarget.refusalAtCreationBlocking(url: parsed) {
                throw CLIError("--url: \(refusal)")
            }
            let limit = configuration.delivery.maxWebhooksPerAccount
            let hook = try db.write { db -> FaxWebhook in
                guard let owner = try db.account(identifiedBy: PhoneNumber.normalize(account) ?? account) else {
                    throw CLIError("--account: no account '\(account)'")
                }
                guard try db.webhookCount(accountID: owner.id) < limit else {
                    throw CLIError("account \(owner.faxNumber) has \(limit) webhook endpoints, the most it may have "
                                   + "(delivery.max_webhooks_per_account); remove one first (faxd webhook list / remove)")
                }
                return try db.insert(FaxWebhook(accountID: owner.id, url: url, secret: WebhookSignature.newSecret(), events: list))
            }
            print(CLIJSON.render(hook))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an account's endpoints (secrets not shown).")
        @Option(help: "The account (fax number or uuid).") var account: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            guard let owner = try db.read({ try $0.account(identifiedBy: PhoneNumber.normalize(account) ?? account) }) else {
                throw CLIError("--account: no account '\(account)'")
            }
            let hooks = try db.read { try $0.webhooks(accountID: owner.id) }
            print(CLITable.render(["UUID", "URL", "EVENTS", "ENABLED", "FAILURES", "DISABLED BECAUSE"], hooks.map {
                [$0.uuid, WebhookURL.redacted($0.url), $0.events.joined(separator: ","), $0.enabled ? "yes" : "no", "\($0.consecutiveFailures)", $0.disabledReason ?? ""]
            }))
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an endpoint; its undelivered events are marked failed.")
        @Argument(help: "The endpoint's uuid.") var uuid: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            try changeWebhook(uuid, store, done: "removed") { db, hook in try db.deleteWebhook(id: hook.id) }
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable an endpoint (after it was disabled for failures); its waiting events go out in order.")
        @Argument(help: "The endpoint's uuid.") var uuid: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            try changeWebhook(uuid, store, done: "enabled") { db, hook in try db.setWebhook(id: hook.id, enabled: true) }
        }
    }
}

struct Outbox: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The delivery outbox: what is waiting, what failed, and sending an event again.",
        subcommands: [List.self, Show.self, Redeliver.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List entries, newest first.")
        @Option(help: "pending, delivered or failed.") var status: String?
        @Option(help: "At most this many.") var limit: Int = 50
        @OptionGroup var store: StoreOptions

        func run() throws {
            if let status, !["pending", "delivered", "failed"].contains(status) {
                throw ValidationError("--status: '\(status)' must be pending, delivered or failed")
            }
            let (db, _) = try store.open()
            let entries = try db.read { try $0.outbox(status: status, limit: limit) }
            let formatter = ISO8601DateFormatter()
            print(CLITable.render(["ID", "EVENT", "CHANNEL", "STATUS", "ATTEMPTS", "NEXT", "LAST ERROR"], entries.map {
                ["\($0.id)", $0.event, $0.channel.rawValue, $0.status, "\($0.attempts)",
                 $0.status == "pending" ? formatter.string(from: $0.nextAttemptAt) : "-", $0.lastError ?? ""]
            }))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an entry with its payload and every delivery attempt.")
        @Argument(help: "The entry's id or event id.") var entry: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            guard let found = try db.read({ try Int64(entry).flatMap($0.outboxEntry(id:)) ?? $0.outboxEntry(eventID: entry) }) else {
                throw CLIError("no outbox entry '\(entry)'")
            }
            let attempts = try db.read { try $0.deliveries(outboxID: found.id) }
            print(CLIJSON.render(EntryView(entry: found, deliveries: attempts)))
        }

        struct EntryView: Encodable {
            var entry: OutboxEntry
            var deliveries: [DeliveryAttempt]
        }
    }

    struct Redeliver: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send an entry again now (delivered or failed ones too), under its same event id so receivers can dedupe.")
        @Argument(help: "The entry's id or event id.") var entry: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            try db.write { db in
                guard let found = try Int64(entry).flatMap(db.outboxEntry(id:)) ?? db.outboxEntry(eventID: entry) else {
                    throw CLIError("no outbox entry '\(entry)'")
                }
                try db.redeliver(id: found.id, now: Date())
            }
            print("outbox \(entry): queued for delivery")
        }
    }

}

/// Finds webhook endpoint `uuid` and applies `change` in one transaction.
private func changeWebhook(_ uuid: String, _ options: StoreOptions, done: String, _ change: (Database, FaxWebhook) throws -> Void) throws {
    let (db, _) = try options.open()
    try db.write { db in
        guard let hook = try db.webhook(uuid: uuid) else { throw CLIError("no webhook '\(uuid)'") }
        try change(db, hook)
    }
    print("webhook \(uuid): \(done)")
}
