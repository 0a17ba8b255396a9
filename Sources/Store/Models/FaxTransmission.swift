import Foundation

/// One fax, in or out, with everything known about it (the seed's FaxTransmission). An outbound
/// transmission is also its own durable queue entry (`status`, `nextAttemptAt`, `attempts`).
public struct FaxTransmission: Sendable, Equatable, Codable {
    public var id: Int64
    public var uuid: String
    public var accountID: Int64
    public var direction: Direction
    public var status: Status
    public var fromNumber: String?
    public var toNumber: String?
    public var fromName: String?
    public var toName: String?
    /// The TIFF: received into fax_files/rx, queued in fax_files/tx, archived in fax_files/archive.
    public var filePath: String?
    public var fileSHA256: String?
    public var pdfPath: String?
    /// Fine resolution requested (the seed's `is_enhanced`).
    public var fine: Bool
    public var pagesTotal: Int
    public var pagesTransferred: Int
    public var durationSeconds: Double
    public var bitRate: Int
    public var ecm: Bool
    public var resolution: String?
    public var compression: String?
    public var remoteStationID: String?
    /// "g711" or "t38".
    public var transport: String?
    public var trunk: String?
    public var sipStatus: Int?
    public var sipReason: String?
    public var t30Code: Int?
    public var t30Name: String?
    public var hangupCause: String?
    /// Why it failed (or was partial), in words.
    public var error: String?
    public var costCents: Int
    /// Attempts started so far (outbound).
    public var attempts: Int
    public var maxAttempts: Int
    /// When the scheduler may dial it next (outbound, queued).
    public var nextAttemptAt: Date?
    /// First page (0-based) the next attempt sends: pages the receiver confirmed are not resent.
    public var resumePage: Int
    /// Steps taken down the retry ladder (ECM off, V.17 off, T.38 off).
    public var ladderStep: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var completedAt: Date?
    /// The last call's FaxOutcome as JSON.
    public var outcomeJSON: String?
    /// The node that dialled it (outbound) or took its call (inbound), among nodes sharing the
    /// database; its heartbeat is the lease on the work.
    public var nodeID: String? = nil

    public enum Direction: String, Sendable, Codable, CaseIterable { case inbound, outbound }

    /// The seed's lifecycle: queued -> dialing -> transmitting -> completed | partial | failed
    /// (cancelled by the account). Inbound calls are `transmitting` while the call is up.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case queued, dialing, transmitting, completed, partial, failed, cancelled

        /// True once nothing more will happen to it.
        public var isFinal: Bool { self == .completed || self == .partial || self == .failed || self == .cancelled }
    }

    public init(uuid: String = UUID().uuidString.lowercased(), accountID: Int64, direction: Direction, status: Status,
                fromNumber: String? = nil, toNumber: String? = nil, filePath: String? = nil, fine: Bool = true,
                maxAttempts: Int = 1, now: Date = Date()) {
        id = 0
        self.uuid = uuid
        self.accountID = accountID
        self.direction = direction
        self.status = status
        self.fromNumber = fromNumber
        self.toNumber = toNumber
        self.filePath = filePath
        self.fine = fine
        pagesTotal = 0
        pagesTransferred = 0
        durationSeconds = 0
        bitRate = 0
        ecm = false
        costCents = 0
        attempts = 0
        self.maxAttempts = maxAttempts
        resumePage = 0
        ladderStep = 0
        createdAt = now
        updatedAt = now
    }

    init(row: Row) {
        id = row.int64("id")
        uuid = row.string("uuid")
        accountID = row.int64("account_id")
        direction = Direction(rawValue: row.string("direction")) ?? .inbound
        status = Status(rawValue: row.string("status")) ?? .failed
        fromNumber = row.optionalString("from_number")
        toNumber = row.optionalString("to_number")
        fromName = row.optionalString("from_name")
        toName = row.optionalString("to_name")
        filePath = row.optionalString("file_path")
        fileSHA256 = row.optionalString("file_sha256")
        pdfPath = row.optionalString("pdf_path")
        fine = row.bool("fine")
        pagesTotal = row.int("pages_total")
        pagesTransferred = row.int("pages_transferred")
        durationSeconds = row.double("duration_s")
        bitRate = row.int("bit_rate")
        ecm = row.bool("ecm")
        resolution = row.optionalString("resolution")
        compression = row.optionalString("compression")
        remoteStationID = row.optionalString("remote_station_id")
        transport = row.optionalString("transport")
        trunk = row.optionalString("trunk")
        sipStatus = row.optionalInt("sip_status")
        sipReason = row.optionalString("sip_reason")
        t30Code = row.optionalInt("t30_code")
        t30Name = row.optionalString("t30_name")
        hangupCause = row.optionalString("hangup_cause")
        error = row.optionalString("error")
        costCents = row.int("cost_cents")
        attempts = row.int("attempts")
        maxAttempts = row.int("max_attempts")
        nextAttemptAt = row.optionalDate("next_attempt_at")
        resumePage = row.int("resume_page")
        ladderStep = row.int("ladder_step")
        createdAt = row.date("created_at")
        updatedAt = row.date("updated_at")
        startedAt = row.optionalDate("started_at")
        completedAt = row.optionalDate("completed_at")
        outcomeJSON = row.optionalString("outcome_json")
        nodeID = row.optionalString("node_id")
    }

    /// Column names and values in one order, for INSERT and UPDATE.
    var columns: [(String, any SQLBindable)] {
        [("uuid", uuid), ("account_id", accountID), ("direction", direction.rawValue), ("status", status.rawValue),
         ("from_number", fromNumber), ("to_number", toNumber), ("from_name", fromName), ("to_name", toName),
         ("file_path", filePath), ("file_sha256", fileSHA256), ("pdf_path", pdfPath), ("fine", fine),
         ("pages_total", pagesTotal), ("pages_transferred", pagesTransferred), ("duration_s", durationSeconds),
         ("bit_rate", bitRate), ("ecm", ecm), ("resolution", resolution), ("compression", compression),
         ("remote_station_id", remoteStationID), ("transport", transport), ("trunk", trunk),
         ("sip_status", sipStatus), ("sip_reason", sipReason), ("t30_code", t30Code), ("t30_name", t30Name),
         ("hangup_cause", hangupCause), ("error", error), ("cost_cents", costCents), ("attempts", attempts),
         ("max_attempts", maxAttempts), ("next_attempt_at", nextAttemptAt), ("resume_page", resumePage),
         ("ladder_step", ladderStep), ("created_at", createdAt),
         ("updated_at", updatedAt), ("started_at", startedAt), ("completed_at", completedAt),
         ("outcome_json", outcomeJSON), ("node_id", nodeID)]
    }
}
