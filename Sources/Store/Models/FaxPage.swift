import Foundation

/// One page of a transmission (the seed's FaxPage): its image facts and a SHA-256 of its
/// decoded bitmap, so a page can be checked against the TIFF at any time.
public struct FaxPage: Sendable, Equatable, Codable {
    public var id: Int64
    public var transmissionID: Int64
    /// 1-based.
    public var pageNumber: Int
    public var status: Status
    public var width: Int
    public var height: Int
    public var xResolution: Int
    public var yResolution: Int
    public var compression: String?
    /// SHA-256 (hex) of the page's decoded bitmap: rows of width/8 bytes, 1 = black.
    public var sha256: String?
    public var badRows: Int
    public var transferredAt: Date?

    public enum Status: String, Sendable, Codable, CaseIterable { case pending, sent, received, failed }

    public init(transmissionID: Int64, pageNumber: Int, status: Status, width: Int = 0, height: Int = 0,
                xResolution: Int = 0, yResolution: Int = 0, compression: String? = nil, sha256: String? = nil,
                badRows: Int = 0, transferredAt: Date? = nil) {
        id = 0
        self.transmissionID = transmissionID
        self.pageNumber = pageNumber
        self.status = status
        self.width = width
        self.height = height
        self.xResolution = xResolution
        self.yResolution = yResolution
        self.compression = compression
        self.sha256 = sha256
        self.badRows = badRows
        self.transferredAt = transferredAt
    }

    init(row: Row) {
        id = row.int64("id")
        transmissionID = row.int64("transmission_id")
        pageNumber = row.int("page_number")
        status = Status(rawValue: row.string("status")) ?? .pending
        width = row.int("width")
        height = row.int("height")
        xResolution = row.int("x_resolution")
        yResolution = row.int("y_resolution")
        compression = row.optionalString("compression")
        sha256 = row.optionalString("sha256")
        badRows = row.int("bad_rows")
        transferredAt = row.optionalDate("transferred_at")
    }
}

/// One dialling attempt of an outbound transmission, with the options it used and how it ended.
public struct FaxAttempt: Sendable, Equatable, Codable {
    public var id: Int64
    public var transmissionID: Int64
    /// 1-based.
    public var number: Int
    public var startedAt: Date
    public var endedAt: Date?
    /// "completed", "failed", "interrupted"; nil while running.
    public var result: String?
    /// The retry policy's class for a failure ("busy", "no_answer", "protocol", ...).
    public var failureClass: String?
    public var firstPage: Int
    public var pagesConfirmed: Int
    public var ecm: Bool
    public var v17: Bool
    public var t38: Bool
    public var sipStatus: Int?
    public var t30Code: Int?
    public var t30Name: String?
    public var hangupCause: String?
    public var outcomeJSON: String?

    public init(transmissionID: Int64, number: Int, startedAt: Date, firstPage: Int, ecm: Bool, v17: Bool, t38: Bool) {
        id = 0
        self.transmissionID = transmissionID
        self.number = number
        self.startedAt = startedAt
        self.firstPage = firstPage
        pagesConfirmed = 0
        self.ecm = ecm
        self.v17 = v17
        self.t38 = t38
    }

    init(row: Row) {
        id = row.int64("id")
        transmissionID = row.int64("transmission_id")
        number = row.int("number")
        startedAt = row.date("started_at")
        endedAt = row.optionalDate("ended_at")
        result = row.optionalString("result")
        failureClass = row.optionalString("failure_class")
        firstPage = row.int("first_page")
        pagesConfirmed = row.int("pages_confirmed")
        ecm = row.bool("ecm")
        v17 = row.bool("v17")
        t38 = row.bool("t38")
        sipStatus = row.optionalInt("sip_status")
        t30Code = row.optionalInt("t30_code")
        t30Name = row.optionalString("t30_name")
        hangupCause = row.optionalString("hangup_cause")
        outcomeJSON = row.optionalString("outcome_json")
    }
}
