/// How the outbox is delivered: fax-to-email over SMTP and signed webhooks (`delivery:` in the
/// configuration file).
public struct DeliverySettings: Sendable, Equatable {
    /// SMTP; nil host turns email off (faxd says so at start; email entries are marked failed).
    public var smtp = SMTPSettings()
    /// Seconds for a whole webhook request (connect, send, response).
    public var webhookTimeoutSeconds = 10
    /// Delays after each failed attempt, in seconds; the last one repeats.
    public var retryDelaysSeconds: [Double] = [5, 30, 120, 600, 3600, 21600]
    /// Each delay is moved randomly by up to this fraction either way.
    public var jitter = 0.1
    /// An entry still failing this long after it was queued is given up (3 days).
    public var giveUpAfterSeconds: Double = 259_200
    /// A webhook endpoint is disabled after this many consecutive failed deliveries.
    public var disableAfterFailures = 20
    /// Deliveries in flight at once, over all accounts. A new one starts as soon as one ends.
    public var concurrency = 16
    /// Deliveries in flight at once for one account (email and webhooks), so one account's slow
    /// endpoints cannot take every slot; at most `concurrency`.
    public var accountConcurrency = 4
    /// Deliveries in flight at once to one webhook endpoint.
    public var endpointConcurrency = 2
    /// Webhook endpoints one account may have; one more is refused (API 409, CLI error).
    public var maxWebhooksPerAccount = 10
    /// How often the outbox is polled for due entries.
    public var pollIntervalMilliseconds = 1000
    /// Let webhooks reach loopback, private, link-local and other internal addresses. Off: an
    /// account cannot make faxd probe the operator's own network (SSRF).
    public var allowPrivateTargets = false

    /// The defaults.
    public init() {}

    /// The delay before attempt `attempts + 1` after `attempts` failed ones, before jitter.
    public func delay(afterAttempts attempts: Int) -> Double {
        guard !retryDelaysSeconds.isEmpty else { return 60 }
        return retryDelaysSeconds[min(max(attempts, 1), retryDelaysSeconds.count) - 1]
    }
}

/// The SMTP server faxd hands mail to.
public struct SMTPSettings: Sendable, Equatable {
    public var host: String?
    public var port = 587
    /// Envelope sender and From header.
    public var from = "faxd@localhost"
    public var username: String?
    public var password: String?
    /// `auto`: STARTTLS when the server offers it; `required`: refuse to send without it; `never`.
    public var startTLS: StartTLS = .auto
    /// PEM file of the CA(s) to trust for the server's certificate; nil uses the system's.
    public var caFile: String?
    /// Seconds for one whole SMTP session.
    public var timeoutSeconds = 30
    /// Name sent in EHLO.
    public var heloName = "faxd.localhost"

    public enum StartTLS: String, Sendable, Equatable, CaseIterable { case auto, required, never }

    public init() {}
}
