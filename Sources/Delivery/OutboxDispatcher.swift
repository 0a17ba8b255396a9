import ServiceSettings
import Foundation
import Logging
import Store
import Synchronization

/// Delivers the outbox: webhooks (signed, AsyncHTTPClient) and fax-to-email (SMTP), at least once,
/// in order per fax and endpoint (the store hands out only the oldest pending entry of each),
/// with retries on the configured schedule, a delivery log row per attempt, per-endpoint failure
/// counting and automatic disabling. Entries live in SQLite, so a restart loses none: an attempt
/// cut short is simply made again, under the same event id.
///
/// Runs as one Swift task whose child tasks are the deliveries: up to `delivery.concurrency` at
/// once, `delivery.account_concurrency` per account and `delivery.endpoint_concurrency` per
/// endpoint; a new one starts as soon as one ends. Store calls are short synchronous hops onto
/// the store's queue; the loop's own state (what is in flight) is local to its task.
public final class OutboxDispatcher: Sendable {
    let store: FaxStore
    let settings: DeliverySettings
    let logger: Logger
    let webhooks: WebhookSender
    let mail: SMTPClient?
    /// This node's name: the lease on each entry it delivers (`node_id`).
    let node: String
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let poked = Atomic<Bool>(false)
    /// A delivery's result could not be written (store error): pause the loop once.
    private let recordFailed = Atomic<Bool>(false)

    /// A dispatcher for `store`'s outbox; `userAgent` goes on every webhook request.
    public init(store: FaxStore, settings: DeliverySettings, userAgent: String, node: String = "faxd", logger: Logger) {
        self.store = store
        self.node = node
        self.settings = settings
        self.logger = logger
        webhooks = WebhookSender(timeoutSeconds: settings.webhookTimeoutSeconds, userAgent: userAgent,
                                 allowPrivateTargets: settings.allowPrivateTargets)
        mail = settings.smtp.host == nil ? nil : SMTPClient(settings: settings.smtp)
    }

    /// Starts the delivery loop.
    public func start() {
        if mail == nil {
            logger.notice("email is off: no delivery.smtp.host configured; fax-to-email entries are recorded as failed")
        } else {
            logger.info("email via SMTP", metadata: ["server": "\(settings.smtp.host ?? ""):\(settings.smtp.port)",
                                                      "starttls": "\(settings.smtp.startTLS.rawValue)"])
        }
        let loop = Task { [self] in
            await run()
            await webhooks.shutdown()
        }
        task.withLock { $0 = loop }
    }

    /// Stops the loop after the deliveries in flight (they still record their result).
    public func stop() {
        task.withLock { $0 }?.cancel()
    }

    /// Wakes the loop within 200 ms (new entries were queued).
    public func poke() {
        poked.store(true, ordering: .relaxed)
    }

    /// Waits `milliseconds`, or less when poked or cancelled.
    private func sleep(milliseconds: Int) async {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while ContinuousClock.now < deadline && !Task.isCancelled {
            if poked.exchange(false, ordering: .relaxed) { return }
            try? await Task.sleep(for: .milliseconds(min(200, milliseconds)))
        }
    }

    /// Why the loop woke up.
    enum Wake: Sendable {
        /// A delivery of this outbox entry ended (its result is recorded).
        case ended(Int64)
        /// The poll interval passed, or the dispatcher was poked.
        case poll
        /// The pause after an expensive fill is over.
        case refill
    }

    /// The loop: deliveries flow continuously. Whenever one ends, and at every poll (or poke),
    /// due entries fill the free slots, at most `accountConcurrency` per account and
    /// `endpointConcurrency` per webhook endpoint, so a slow endpoint holds its own slots only
    /// (it used to hold the whole batch it came in, and everyone else's events behind it).
    /// A fill is one store query; the next one waits at least 4 times as long as it took, so a
    /// huge backlog (20,000 due entries: 40 ms a query) cannot keep the store's queue busy.
    private func run() async {
        await withTaskGroup(of: Wake.self) { group in
            var flight = InFlight()
            var polling = false, paused = false, polled = true
            var wantFill = true, refillScheduled = false
            var nextFill = ContinuousClock.now
            while !Task.isCancelled {
                if wantFill && !paused {
                    let now = ContinuousClock.now
                    if now >= nextFill {
                        for entry in take(besides: flight, sweepEmail: polled) {
                            flight.add(entry)
                            group.addTask { await self.deliver(entry); return .ended(entry.id) }
                        }
                        nextFill = ContinuousClock.now + (ContinuousClock.now - now) * 4
                        wantFill = false
                        polled = false
                    } else if !refillScheduled {
                        refillScheduled = true
                        let at = nextFill
                        group.addTask { try? await Task.sleep(until: at, clock: .continuous); return .refill }
                    }
                }
                if !polling {
                    polling = true
                    group.addTask { await self.sleep(milliseconds: self.settings.pollIntervalMilliseconds); return .poll }
                }
                guard let wake = await group.next() else { break }
                switch wake {
                case .ended(let id):
                    flight.remove(id)
                    wantFill = true
                case .poll:
                    polling = false
                    paused = false
                    polled = true
                    wantFill = true
                case .refill:
                    refillScheduled = false
                }
                // A result that could not be written: take nothing more until the next poll rather than hammer the receiver.
                if recordFailed.exchange(false, ordering: .relaxed) { paused = true }
            }
        }
    }

    /// What is in flight, counted per account and per endpoint.
    struct InFlight {
        /// The entries being delivered, by id.
        private(set) var entries: [Int64: OutboxEntry] = [:]
        /// Deliveries in flight per account id.
        private(set) var perAccount: [Int64: Int] = [:]
        /// Deliveries in flight per webhook endpoint id.
        private(set) var perWebhook: [Int64: Int] = [:]

        /// Deliveries in flight.
        var count: Int { entries.count }

        /// `entry` has started.
        mutating func add(_ entry: OutboxEntry) {
            entries[entry.id] = entry
            perAccount[entry.accountID, default: 0] += 1
            if let hook = entry.webhookID { perWebhook[hook, default: 0] += 1 }
        }

        /// Entry `id` has ended.
        mutating func remove(_ id: Int64) {
            guard let entry = entries.removeValue(forKey: id) else { return }
            perAccount[entry.accountID, default: 1] -= 1
            if perAccount[entry.accountID] == 0 { perAccount[entry.accountID] = nil }
            if let hook = entry.webhookID {
                perWebhook[hook, default: 1] -= 1
                if perWebhook[hook] == 0 { perWebhook[hook] = nil }
            }
        }
    }

    /// Due entries to start now, within the free slots and the per-account and per-endpoint caps;
    /// with `sweepEmail` (at a poll, not after every delivery) email entries are failed first when email is off.
    func take(besides flight: InFlight, sweepEmail: Bool, now: Date = Date()) -> [OutboxEntry] {
        if sweepEmail && mail == nil {
            do {
                let failed = try store.write { try $0.failPending(channel: .email, reason: "email is off: no delivery.smtp.host configured") }
                if failed > 0 { logger.notice("email entries not sent: email is off", metadata: ["entries": "\(failed)"]) }
            } catch {
                logger.error("outbox unwritable", metadata: ["error": "\(error)"])
            }
        }
        let free = settings.concurrency - flight.count
        guard free > 0 else { return [] }
        let accountCap = max(1, min(settings.accountConcurrency, settings.concurrency))
        let endpointCap = max(1, settings.endpointConcurrency)
        var perAccount = flight.perAccount
        var perWebhook = flight.perWebhook
        let due: [OutboxEntry]
        do {
            let busy = OutboxBusy(entries: Array(flight.entries.keys), accounts: perAccount.filter { $0.value >= accountCap }.map(\.key),
                                  webhooks: perWebhook.filter { $0.value >= endpointCap }.map(\.key))
            due = try store.read { try $0.dueOutbox(now: now, limit: free * 4, busy: busy) }
        } catch {
            logger.error("outbox unreadable", metadata: ["error": "\(error)"])
            return []
        }
        var chosen: [OutboxEntry] = []
        for entry in due where chosen.count < free {
            guard perAccount[entry.accountID, default: 0] < accountCap else { continue }
            if let hook = entry.webhookID {
                guard perWebhook[hook, default: 0] < endpointCap else { continue }
                perWebhook[hook, default: 0] += 1
            }
            perAccount[entry.accountID, default: 0] += 1
            chosen.append(entry)
        }
        guard !chosen.isEmpty, store.isShared else { return chosen }
        // Nodes sharing the database each lease what they deliver, so one event goes out from one
        // node; a lease outlives the slowest attempt, and runs out if the node dies holding it.
        let lease = now.addingTimeInterval(Double(max(settings.webhookTimeoutSeconds, settings.smtp.timeoutSeconds)) * 2 + 60)
        do {
            return try store.write { db in try chosen.filter { try db.leaseOutboxEntry(id: $0.id, node: node, until: lease, now: now) } }
        } catch {
            logger.error("outbox unwritable", metadata: ["error": "\(error)"])
            return []
        }
    }

    private func deliver(_ entry: OutboxEntry) async {
        let started = Date()
        let result: DeliveryResult
        var target = ""
        switch entry.channel {
        case .webhook:
            let found: FaxWebhook?
            do { found = try entry.webhookID.flatMap { id in try store.read { try $0.webhook(id: id) } } } catch {
                // A store hiccup is not a reason to drop the entry: it is tried again.
                logger.error("cannot read a webhook endpoint", metadata: ["event_id": "\(entry.eventID)", "error": "\(error)"])
                recordFailed.store(true, ordering: .relaxed)
                return
            }
            guard let id = entry.webhookID, let hook = found else {
                record(entry, DeliveryResult(statusCode: nil, error: "endpoint deleted", milliseconds: 0), started: started, final: true)
                return
            }
            target = WebhookURL.redacted(hook.url)
            result = await webhooks.deliver(url: hook.url, body: Array(entry.payloadJSON.utf8), id: entry.eventID, secret: hook.secret, now: started)
            do {
                let disabled = try store.write {
                    try $0.recordWebhookResult(id: id, success: result.succeeded, disableAfter: settings.disableAfterFailures, reason: result.error)
                }
                if disabled {
                    logger.warning("webhook endpoint disabled", metadata: ["url": "\(target)", "failures": "\(settings.disableAfterFailures)",
                                                                           "last_error": "\(result.error ?? "")"])
                }
            } catch {
                logger.error("cannot count a webhook result", metadata: ["error": "\(error)"])
            }
        case .email:
            guard let mail else {
                record(entry, DeliveryResult(statusCode: nil, error: "email is off: no delivery.smtp.host configured", milliseconds: 0),
                       started: started, final: true)
                return
            }
            let message: MailMessage
            do {
                message = try Self.mailMessage(entry, from: settings.smtp.from)
                target = message.to.joined(separator: ",")
            } catch {
                record(entry, DeliveryResult(statusCode: nil, error: "\(error)", milliseconds: 0), started: started, final: true)
                return
            }
            let clock = ContinuousClock.now
            do {
                try await mail.send(message)
                result = DeliveryResult(statusCode: 250, error: nil, milliseconds: Self.milliseconds(since: clock))
            } catch let error as SMTPError {
                result = DeliveryResult(statusCode: error.code, error: error.description, milliseconds: Self.milliseconds(since: clock))
            } catch {
                result = DeliveryResult(statusCode: nil, error: "\(error)", milliseconds: Self.milliseconds(since: clock))
            }
        }
        record(entry, result, started: started, final: false, target: target)
    }

    /// Writes the attempt and the entry's next state.
    private func record(_ entry: OutboxEntry, _ result: DeliveryResult, started: Date, final: Bool, target: String = "") {
        let attempt = entry.attempts + 1
        let now = Date()
        var status = "pending"
        var next: Date?
        if result.succeeded {
            status = "delivered"
        } else if final || now.timeIntervalSince(entry.createdAt) >= settings.giveUpAfterSeconds {
            status = "failed"
        } else {
            let base = settings.delay(afterAttempts: attempt)
            next = now.addingTimeInterval(max(0, base * (1 + settings.jitter * Double.random(in: -1...1))))
        }
        do {
            try store.write { db in
                try db.recordDelivery(DeliveryAttempt(outboxID: entry.id, attempt: attempt, startedAt: started,
                                                      durationMilliseconds: result.milliseconds, statusCode: result.statusCode, error: result.error),
                                      entryID: entry.id, status: status, nextAttemptAt: next, lastError: result.error,
                                      deliveredAt: result.succeeded ? now : nil)
            }
        } catch {
            // The entry stays due; the loop pauses before trying again rather than hammering the receiver.
            logger.error("cannot record a delivery", metadata: ["event_id": "\(entry.eventID)", "error": "\(error)"])
            recordFailed.store(true, ordering: .relaxed)
        }
        var metadata: Logger.Metadata = ["event": "\(entry.event)", "event_id": "\(entry.eventID)", "channel": "\(entry.channel.rawValue)",
                                         "to": "\(target)", "attempt": "\(attempt)", "ms": "\(result.milliseconds)",
                                         "status": "\(result.statusCode.map(String.init) ?? "-")"]
        if result.succeeded {
            logger.info("delivered", metadata: metadata)
        } else {
            metadata["error"] = "\(result.error ?? "")"
            metadata["next"] = "\(next.map { "\($0)" } ?? "none: \(status)")"
            logger.warning("delivery failed", metadata: metadata)
        }
    }

    /// The mail an email entry describes (payload: to, subject, body, attachment_path, attachment_name).
    static func mailMessage(_ entry: OutboxEntry, from: String) throws -> MailMessage {
        guard let payload = try JSONSerialization.jsonObject(with: Data(entry.payloadJSON.utf8)) as? [String: Any],
              let to = payload["to"] as? String, let subject = payload["subject"] as? String else {
            throw SMTPError(step: "message", code: nil, text: "outbox entry \(entry.id) is not an email payload")
        }
        var attachments: [MailMessage.Attachment] = []
        if let path = payload["attachment_path"] as? String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SMTPError(step: "message", code: nil, text: "attachment \(path) is missing")
            }
            let name = payload["attachment_name"] as? String ?? (path as NSString).lastPathComponent
            attachments.append(MailMessage.Attachment(filename: name, contentType: name.hasSuffix(".pdf") ? "application/pdf" : "image/tiff",
                                                      data: [UInt8](data)))
        }
        let id = entry.eventID.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "." }
        return MailMessage(from: from, to: [to], subject: subject, body: payload["body"] as? String ?? "", attachments: attachments,
                           messageID: String(id) + "@faxd", date: entry.createdAt)
    }

    /// Whole milliseconds from `start` to now.
    static func milliseconds(since start: ContinuousClock.Instant) -> Int {
        let d = ContinuousClock.now - start
        return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }
}
