import Fax
import Foundation
import SIP

/// Which way a fax call went.
public enum CallDirection: String, Sendable, Codable {
    case inbound, outbound
}

/// Why a call ended, in words an operator greps for.
public enum HangupCause: String, Sendable, Codable {
    /// T.30 finished (successfully or not) and faxd hung up.
    case faxComplete = "fax_complete"
    /// The far end sent BYE.
    case remoteHangup = "remote_hangup"
    /// No RTP for the silence timeout.
    case mediaTimeout = "media_timeout"
    /// The call hit the maximum call duration.
    case maxDuration = "max_duration"
    /// The caller cancelled before we answered.
    case cancelled
    /// We refused the call (ACL, limits, SDP).
    case rejected
    /// Our INVITE got a final failure response.
    case sipFailure = "sip_failure"
    /// faxd was shutting down (SIGTERM); the call was interrupted.
    case shutdown
    /// Local setup failed (no RTP port, unreadable document).
    case setupFailed = "setup_failed"
}

/// The negotiated T.38 session of a call (T.38 Annex D parameters) and who asked for it.
public struct T38Summary: Sendable, Codable, Equatable {
    public var version: Int
    public var maxBitRate: Int?
    public var errorCorrection: String
    public var maxDatagram: Int?
    public var fillBitRemoval: Bool
    /// "local", "remote" or "offer".
    public var requestedBy: String
    /// For "local": milliseconds from our re-INVITE to its final answer.
    public var answerMilliseconds: Int?
    /// For "local": what made faxd ask ("answer", "CNG", "timer", "491 retry").
    public var trigger: String?

    init(parameters: T38Parameters, requestedBy: String, answerMilliseconds: Int?, trigger: String?) {
        self.trigger = trigger
        self.answerMilliseconds = answerMilliseconds
        version = parameters.version
        maxBitRate = parameters.maxBitRate
        errorCorrection = parameters.udpErrorCorrection.rawValue
        maxDatagram = parameters.maxDatagram
        fillBitRemoval = parameters.fillBitRemoval
        self.requestedBy = requestedBy
    }

    enum CodingKeys: String, CodingKey {
        case version, maxBitRate = "max_bit_rate", errorCorrection = "error_correction", maxDatagram = "max_datagram"
        case fillBitRemoval = "fill_bit_removal", requestedBy = "requested_by", answerMilliseconds = "answer_ms", trigger
    }
}

/// The single typed result of one fax call: SIP, media and T.30 facts copied into one value at the
/// end of the call. Logged as one JSON line and handed to processors.
public struct FaxOutcome: Sendable, Codable, Equatable {
    /// faxd's id for the call (also the received TIFF's file name).
    public var uuid: String
    public var direction: CallDirection
    /// SIP Call-ID.
    public var sipCallID: String?
    public var trunk: String?
    /// Our number: the DID called (inbound) or our caller id (outbound).
    public var localNumber: String?
    /// The other side's number.
    public var remoteNumber: String?
    public var remoteName: String?
    /// Final SIP status of the INVITE (200 for an answered call) and its reason phrase.
    public var sipStatus: Int
    public var sipReason: String
    public var hangupCause: HangupCause
    /// Free text detail for the log (e.g. "no RTP for 10 s").
    public var detail: String?
    /// "g711" or "t38".
    public var transport: String
    /// "PCMU"/"PCMA" for g711.
    public var codec: String?
    /// The T.38 session, when the fax went over T.38.
    public var t38: T38Summary?
    /// Why our request for T.38 was refused (the fax then stayed in audio).
    public var t38Refused: String?
    /// T.30 completion code and spandsp's name for it.
    public var t30Code: Int
    public var t30Name: String
    /// True when every page was confirmed.
    public var success: Bool
    public var bitRate: Int
    public var ecm: Bool
    public var resolution: String
    public var compression: String
    public var remoteStationID: String
    public var pagesTransferred: Int
    public var pagesTotal: Int
    public var badRows: Int
    public var cngDetected: Bool
    public var cedDetected: Bool
    public var startedAt: Date
    public var answeredAt: Date?
    public var endedAt: Date
    /// Seconds from start to end.
    public var durationSeconds: Double
    /// TIFF received into, or the document sent.
    public var file: String?
    /// The call's audio as a stereo WAV (caller left), when it was recorded.
    public var recording: String?
    public var media: MediaCounters?

    /// The JSON field names: a stable snake_case wire format for logs, processors and API clients.
    enum CodingKeys: String, CodingKey {
        case uuid = "uuid"
        case direction = "direction"
        case sipCallID = "sip_call_id"
        case trunk = "trunk"
        case localNumber = "local_number"
        case remoteNumber = "remote_number"
        case remoteName = "remote_name"
        case sipStatus = "sip_status"
        case sipReason = "sip_reason"
        case hangupCause = "hangup_cause"
        case detail = "detail"
        case transport = "transport"
        case codec = "codec"
        case t38 = "t38"
        case t38Refused = "t38_refused"
        case t30Code = "t30_code"
        case t30Name = "t30_name"
        case success = "success"
        case bitRate = "bit_rate"
        case ecm = "ecm"
        case resolution = "resolution"
        case compression = "compression"
        case remoteStationID = "remote_station_id"
        case pagesTransferred = "pages_transferred"
        case pagesTotal = "pages_total"
        case badRows = "bad_rows"
        case cngDetected = "cng_detected"
        case cedDetected = "ced_detected"
        case startedAt = "started_at"
        case answeredAt = "answered_at"
        case endedAt = "ended_at"
        case durationSeconds = "duration_seconds"
        case file = "file"
        case recording = "recording"
        case media = "media"
    }

    /// True when the call was cut by shutdown; processors record it as interrupted.
    public var interrupted: Bool { hangupCause == .shutdown }

    /// One line of JSON, keys sorted, dates ISO 8601.
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
