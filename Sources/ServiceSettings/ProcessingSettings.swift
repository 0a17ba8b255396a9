import Foundation

/// What happens to calls after the media: accounts, the send queue, retries, billing
/// (`processing:` in the configuration file).
public struct ProcessingSettings: Sendable, Equatable {
    /// Fax number of the account that receives calls to DIDs no account owns; nil answers those 404.
    public var catchAllAccount: String?
    /// Trunk queued sends go out through; nil uses the first trunk with a domain or outbound proxy.
    public var sendTrunk: String?
    /// Outbound calls one account may have at once, unless the account says otherwise.
    public var accountConcurrency = 2
    /// Seconds without a heartbeat (written every second) after which a node sharing the
    /// database is taken for dead and its sends are dialled by the others.
    public var nodeLeaseSeconds = 15
    /// Sends this node dials at once, over every account (0: no limit but `sip.max_calls`).
    /// With several nodes on one queue it spreads the sends: a node at its cap leaves the rest
    /// to the others.
    public var nodeMaxSends = 0
    /// A node whose heartbeat stopped this many seconds ago and that has no work left (no send,
    /// receive or voice call still marked as its, no outbox lease) is forgotten: its row leaves
    /// `faxd_nodes` and /admin/status.
    public var forgetDeadNodeSeconds = 3600
    /// How often the scheduler looks for due sends (it is also woken by new sends and call ends).
    public var schedulerIntervalMilliseconds = 1000
    /// What a send beyond the plan's monthly pages does.
    public var planLimit: PlanLimitPolicy = .reject
    /// Price per page by destination, in cents.
    public var rates = Rates()
    public var retry = RetryPolicy()
    /// Write a PDF next to each received TIFF.
    public var pdf = true
    /// Inbound calls one account may have at once (more get 486 Busy Here); 0 is unlimited.
    public var accountInboundCalls = 0
    /// Below this much free space in the data directory new calls and sends are refused (503)
    /// instead of accepting faxes that cannot be stored.
    public var minFreeMegabytes = 100
    /// Which numbers queued sends may dial (emergency and premium-rate prefixes refused by default).
    public var destinations = DestinationPolicy()
    /// Storage one account may hold, in MB: its uploaded documents plus the documents of its
    /// queued sends (and uploads arriving now). Beyond it uploads and sends get 413 naming the
    /// quota and the current use.
    public var accountStorageMegabytes = 500
    /// Seconds after its upload (or its last use by a send) that an uploaded document is deleted
    /// by the scheduler; a queued send keeps its own copy, so expiry never touches a send.
    public var uploadExpirySeconds = 86_400

    public init() {}
}

/// At the plan's page limit: refuse new sends, or send and count the pages as overage.
/// Received faxes are never refused for the limit (a customer's fax is not lost); they count as overage.
public enum PlanLimitPolicy: String, Sendable, Equatable, CaseIterable {
    case reject
    case allow
}

/// Per-page prices in cents, by destination (the seed's $0.10 / $0.15 / $0.20).
public struct Rates: Sendable, Equatable {
    /// North American Numbering Plan: country code 1 (US, Canada and the NANP islands).
    public var usCanadaCents = 10
    /// Country code 44.
    public var ukCents = 15
    public var internationalCents = 20

    public init() {}

    /// The price of one page to `number` (E.164 digits).
    public func centsPerPage(to number: String) -> Int {
        if number.hasPrefix("1") && number.count == 11 { return usCanadaCents }
        if number.hasPrefix("44") { return ukCents }
        return internationalCents
    }
}

/// Why an attempt failed, as the retry policy sees it.
public enum FailureClass: String, Sendable, Equatable, CaseIterable, Codable {
    /// 486 Busy Here, 600 Busy Everywhere.
    case busy
    /// Nobody answered: our no-answer timeout, 408, 480, 487.
    case noAnswer = "no_answer"
    /// Answered, but T.30 failed or the call dropped mid-fax (the ladder applies).
    case `protocol`
    /// The network or the carrier: 5xx and other SIP failures, local setup failures.
    case congestion
    /// faxd stopped (SIGTERM, crash) during the attempt: retried at once.
    case interrupted
    /// Never retried: a final SIP status (404, 410, 484, 603, ...) or a document faxd cannot send.
    case final
}

/// One rung of the retry ladder: what a later attempt turns off after protocol failures.
public enum LadderStep: String, Sendable, Equatable, CaseIterable {
    case ecmOff = "ecm_off"
    case v17Off = "v17_off"
    case t38Off = "t38_off"
}

/// Retry policy as data (HylaFAX-style delays per failure class, exponential backoff with a cap
/// and jitter, final causes, a fallback ladder).
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts = 5
    /// First delay per class in seconds (HylaFAX: busy 180, no answer 300, protocol 60).
    public var delays: [FailureClass: Double] = [.busy: 180, .noAnswer: 300, .protocol: 60, .congestion: 120, .interrupted: 0]
    /// Each further attempt waits this many times longer.
    public var multiplier = 2.0
    /// No delay exceeds this many seconds.
    public var capSeconds = 3600.0
    /// Each delay is moved randomly by up to this fraction either way.
    public var jitter = 0.1
    /// SIP statuses that are never retried.
    public var finalSIPStatuses: Set<Int> = [400, 401, 403, 404, 407, 410, 484, 485, 488, 604, 603, 606]
    /// Turned off one by one after each protocol failure.
    public var ladder: [LadderStep] = [.ecmOff, .v17Off, .t38Off]

    public init() {}

    /// Seconds to wait before attempt `attempts + 1` after a failure of `failure`, before jitter.
    public func baseDelay(after failure: FailureClass, attempts: Int) -> Double {
        let first = delays[failure] ?? 60
        return min(capSeconds, first * pow(multiplier, Double(max(0, attempts - 1))))
    }
}
