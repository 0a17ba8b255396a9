import Foundation

/// A customer account with its fax number (the seed's FaxAccount).
public struct FaxAccount: Sendable, Equatable, Codable {
    public var id: Int64
    public var uuid: String
    /// The account's DID, E.164 digits without '+'; unique.
    public var faxNumber: String
    public var name: String
    /// Where received faxes and send confirmations are mailed; nil mails nothing.
    public var email: String?
    public var emailFormat: EmailFormat
    public var plan: Plan
    public var status: Status
    /// Day of the month (1...28) the page counter resets.
    public var billingCycleDay: Int
    /// Outbound calls this account may have at once; nil uses `processing.account_concurrency`.
    public var maxConcurrentSends: Int?
    /// Record both directions of this account's audio calls as stereo WAVs (lab mode diagnosis).
    public var recordCalls = false
    /// What calls to the DID are answered as (fax, voice call control, or auto-detected). Written by
    /// `Database.setNumberMode`, not by `update(_:)`. Telnyx Call Control v2: connections
    public var numberMode: NumberMode = .fax
    /// A voice number's media stream (a `streaming_start` body as JSON): its calls are answered at
    /// once and streamed to the application. nil: calls are parked for the application to answer.
    /// Written by `Database.setVoiceStream`, not by `update(_:)`. Telnyx Call Control v2: streaming_start
    public var voiceStream: String?
    public var createdAt: Date
    public var updatedAt: Date

    /// Attachment format for fax-to-email.
    public enum EmailFormat: String, Sendable, Codable, CaseIterable { case pdf, tiff }

    /// How the account's DID is answered: `fax` (the fax terminal, as before issue 16), `voice`
    /// (a call-control call with webhooks), `auto` (answered as voice, switched to the fax
    /// terminal when CNG or V.21 is heard). ITU-T T.30 section 4 (CNG), Telnyx Call Control v2
    public enum NumberMode: String, Sendable, Codable, CaseIterable { case fax, voice, auto }

    /// Whether the account may send and receive.
    public enum Status: String, Sendable, Codable, CaseIterable { case active, disabled }

    /// The seed's plans and their monthly page allowance.
    public enum Plan: String, Sendable, Codable, CaseIterable {
        case basic, plus, pro, enterprise

        /// Pages per billing period; nil is unlimited (Enterprise).
        public var monthlyPages: Int? {
            switch self {
            case .basic: 150
            case .plus: 300
            case .pro: 500
            case .enterprise: nil
            }
        }
    }

    public init(id: Int64 = 0, uuid: String = UUID().uuidString.lowercased(), faxNumber: String, name: String = "",
                email: String? = nil, emailFormat: EmailFormat = .pdf, plan: Plan = .basic, status: Status = .active,
                billingCycleDay: Int = 1, maxConcurrentSends: Int? = nil, createdAt: Date = Date(), updatedAt: Date = Date()) {
        self.id = id
        self.uuid = uuid
        self.faxNumber = faxNumber
        self.name = name
        self.email = email
        self.emailFormat = emailFormat
        self.plan = plan
        self.status = status
        self.billingCycleDay = billingCycleDay
        self.maxConcurrentSends = maxConcurrentSends
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    init(row: Row) {
        id = row.int64("id")
        uuid = row.string("uuid")
        faxNumber = row.string("fax_number")
        name = row.string("name")
        email = row.optionalString("email")
        emailFormat = EmailFormat(rawValue: row.string("email_format")) ?? .pdf
        plan = Plan(rawValue: row.string("plan")) ?? .basic
        status = Status(rawValue: row.string("status")) ?? .active
        billingCycleDay = row.int("billing_cycle_day")
        maxConcurrentSends = row.optionalInt("max_concurrent_sends")
        recordCalls = row.bool("record_calls")
        numberMode = NumberMode(rawValue: row.string("number_mode")) ?? .fax
        voiceStream = row.optionalString("voice_stream")
        createdAt = row.date("created_at")
        updatedAt = row.date("updated_at")
    }
}

/// Pages used by an account in one billing period.
public struct UsagePeriod: Sendable, Equatable, Codable {
    public var accountID: Int64
    /// First day of the period, "YYYY-MM-DD" (UTC).
    public var periodStart: String
    public var pagesSent: Int
    public var pagesReceived: Int
    /// Pages beyond the plan's allowance (policy `allow`).
    public var overagePages: Int
    public var costCents: Int

    /// Pages counted against the plan (both directions).
    public var pages: Int { pagesSent + pagesReceived }

    init(row: Row) {
        accountID = row.int64("account_id")
        periodStart = row.string("period_start")
        pagesSent = row.int("pages_sent")
        pagesReceived = row.int("pages_received")
        overagePages = row.int("overage_pages")
        costCents = row.int("cost_cents")
    }

    init(accountID: Int64, periodStart: String) {
        self.accountID = accountID
        self.periodStart = periodStart
        pagesSent = 0
        pagesReceived = 0
        overagePages = 0
        costCents = 0
    }
}
