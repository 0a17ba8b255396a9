import Foundation

/// One voice call leg, in or out, as the call log keeps it (issue 16). The ids are Telnyx's:
/// `callControlID` addresses commands, `callLegID` names the leg, `callSessionID` groups the legs
/// of one conversation (a bridge, a transfer). Telnyx Call Control v2: Call object
public struct VoiceCall: Sendable, Equatable, Codable {
    /// The row id (0 until inserted).
    public var id: Int64
    /// The id commands name (`POST /v2/calls/{call_control_id}/actions/...`); unique.
    public var callControlID: String
    /// The leg's id, for correlating webhooks. Telnyx Call Control v2: call_leg_id
    public var callLegID: String
    /// The conversation's id, shared by bridged or transferred legs. Telnyx Call Control v2: call_session_id
    public var callSessionID: String
    /// The account the call belongs to (its DID was called, or it dialled).
    public var accountID: Int64
    /// inbound or outbound.
    public var direction: Direction
    /// The calling party: E.164 with '+', or a SIP URI, as it arrived or was dialled.
    public var fromNumber: String
    /// The called party, as `fromNumber`.
    public var toNumber: String
    /// Where the call is in its lifecycle.
    public var state: State
    /// Base64 text set by the dial or the last command that carried one; echoed in every webhook.
    public var clientState: String?
    /// The per-call webhook URL from the dial request, if any.
    public var webhookURL: String?
    /// The Telnyx connection id the call was placed or received on.
    public var connectionID: String?
    /// The faxd trunk the call went through.
    public var trunk: String?
    /// When the INVITE went out or arrived (`start_time`).
    public var createdAt: Date
    /// When the call was answered; nil if it never was.
    public var answeredAt: Date?
    /// When the call ended (`end_time`); nil while live.
    public var endedAt: Date?
    /// Talk time in seconds (answer to end; 0 for a call never answered).
    public var durationSeconds: Double
    /// Why the call ended; nil while live. Telnyx Call Control v2: call.hangup hangup_cause
    public var hangupCause: HangupCause?
    /// Who ended it; nil while live. Telnyx Call Control v2: call.hangup hangup_source
    public var hangupSource: HangupSource?
    /// The SIP status that ended the call as text ("486"), or "unspecified".
    public var sipHangupCause: String?
    /// The dual-channel WAV of the call, once a recording was saved.
    public var recordingPath: String?
    /// Our audio is not forwarded to the far end (mute).
    public var muted: Bool
    /// The far end is on hold.
    public var held: Bool
    /// When the row last changed.
    public var updatedAt: Date
    /// The node whose SIP stack and media carry the call, among nodes sharing the database.
    public var nodeID: String? = nil

    /// Who placed the call, seen from faxd: `inbound` arrived at an account's DID, `outbound` was
    /// dialled through a trunk. Telnyx payloads say "incoming"/"outgoing" (`telnyxName`).
    /// Telnyx Call Control v2: call.initiated direction
    public enum Direction: String, Sendable, Codable, CaseIterable {
        /// Arrived at an account's DID.
        case inbound
        /// Dialled by faxd for an application.
        case outbound

        /// The word Telnyx webhooks use. Telnyx Call Control v2: call.initiated direction
        public var telnyxName: String { self == .inbound ? "incoming" : "outgoing" }
    }

    /// The call log's lifecycle: outbound `dialing` -> `ringing` (180/183) -> `active` -> `ended`;
    /// inbound starts `ringing` (parked, waiting for `answer`) -> `active` -> `ended`. Any state may
    /// end. Telnyx Call Control v2: call states
    /// As a dictionary key it encodes by name (`{"active": 1}`), so `VoiceCallStats` is a JSON object.
    public enum State: String, Sendable, Codable, CaseIterable, CodingKeyRepresentable {
        /// Outbound: the INVITE is out, nothing heard yet.
        case dialing
        /// Outbound: 180/183 heard. Inbound: parked, waiting for `answer`.
        case ringing
        /// Answered; media flows.
        case active
        /// Over; the hangup fields say how.
        case ended

        /// True until the call ended.
        public var isLive: Bool { self != .ended }
    }

    /// Why the call ended, in Telnyx's words. Telnyx Call Control v2: call.hangup hangup_cause
    public enum HangupCause: String, Sendable, Codable, CaseIterable {
        /// A BYE after answer, from either side.
        case normalClearing = "normal_clearing"
        /// The caller gave up before answer (CANCEL).
        case originatorCancel = "originator_cancel"
        /// 486 Busy Here, 600 Busy Everywhere.
        case userBusy = "user_busy"
        /// No answer: 408, 480, or faxd's no-answer timer.
        case timeout
        /// The call reached its maximum duration.
        case timeLimit = "time_limit"
        /// 403 Forbidden, 603 Decline, 607 Unwanted, or a `reject` command.
        case callRejected = "call_rejected"
        /// 404 Not Found, 410 Gone, 484 Address Incomplete, 604 Does Not Exist Anywhere.
        case notFound = "not_found"
        /// Anything else.
        case unspecified
    }

    /// Who ended the call: the party that placed it, the party it was placed to, or not known.
    /// Telnyx Call Control v2: call.hangup hangup_source
    public enum HangupSource: String, Sendable, Codable, CaseIterable { case caller, callee, unknown }

    /// A new call record (id 0 until inserted). Telnyx Call Control v2: Call object
    public init(callControlID: String, callLegID: String, callSessionID: String, accountID: Int64, direction: Direction,
                fromNumber: String, toNumber: String, state: State? = nil, clientState: String? = nil, webhookURL: String? = nil,
                connectionID: String? = nil, trunk: String? = nil, now: Date = Date()) {
        id = 0
        self.callControlID = callControlID
        self.callLegID = callLegID
        self.callSessionID = callSessionID
        self.accountID = accountID
        self.direction = direction
        self.fromNumber = fromNumber
        self.toNumber = toNumber
        self.state = state ?? (direction == .inbound ? .ringing : .dialing)
        self.clientState = clientState
        self.webhookURL = webhookURL
        self.connectionID = connectionID
        self.trunk = trunk
        createdAt = now
        durationSeconds = 0
        muted = false
        held = false
        updatedAt = now
    }

    init(row: Row) {
        id = row.int64("id")
        callControlID = row.string("call_control_id")
        callLegID = row.string("call_leg_id")
        callSessionID = row.string("call_session_id")
        accountID = row.int64("account_id")
        direction = Direction(rawValue: row.string("direction")) ?? .inbound
        fromNumber = row.string("from_number")
        toNumber = row.string("to_number")
        state = State(rawValue: row.string("state")) ?? .ended
        clientState = row.optionalString("client_state")
        webhookURL = row.optionalString("webhook_url")
        connectionID = row.optionalString("connection_id")
        trunk = row.optionalString("trunk")
        createdAt = row.date("created_at")
        answeredAt = row.optionalDate("answered_at")
        endedAt = row.optionalDate("ended_at")
        durationSeconds = row.double("duration_s")
        hangupCause = row.optionalString("hangup_cause").map { HangupCause(rawValue: $0) ?? .unspecified }
        hangupSource = row.optionalString("hangup_source").map { HangupSource(rawValue: $0) ?? .unknown }
        sipHangupCause = row.optionalString("sip_hangup_cause")
        recordingPath = row.optionalString("recording_path")
        muted = row.bool("muted")
        held = row.bool("held")
        updatedAt = row.date("updated_at")
        nodeID = row.optionalString("node_id")
    }

    /// Column names and values in one order, for INSERT and UPDATE.
    var columns: [(String, any SQLBindable)] {
        [("call_control_id", callControlID), ("call_leg_id", callLegID), ("call_session_id", callSessionID),
         ("account_id", accountID), ("direction", direction.rawValue), ("from_number", fromNumber), ("to_number", toNumber),
         ("state", state.rawValue), ("client_state", clientState), ("webhook_url", webhookURL),
         ("connection_id", connectionID), ("trunk", trunk), ("created_at", createdAt), ("answered_at", answeredAt),
         ("ended_at", endedAt), ("duration_s", durationSeconds), ("hangup_cause", hangupCause?.rawValue),
         ("hangup_source", hangupSource?.rawValue), ("sip_hangup_cause", sipHangupCause), ("recording_path", recordingPath),
         ("muted", muted), ("held", held), ("updated_at", updatedAt), ("node_id", nodeID)]
    }
}

/// How an account's voice calls went, for the softphone's `/api/call-status/stats`.
public struct VoiceCallStats: Sendable, Equatable, Codable {
    /// Calls in each state (every state present, 0 when none).
    public var byState: [VoiceCall.State: Int]
    /// All calls of the account.
    public var total: Int
    /// Talk time of all ended calls, seconds.
    public var totalDurationSeconds: Double
    /// Mean talk time of the ended calls that were answered; 0 when there are none.
    public var averageDurationSeconds: Double
    /// Calls created since midnight UTC of `now`.
    public var today: Int

    /// Stats from counts. Seed softphone: /api/call-status/stats
    public init(byState: [VoiceCall.State: Int], total: Int, totalDurationSeconds: Double, averageDurationSeconds: Double, today: Int) {
        self.byState = byState
        self.total = total
        self.totalDurationSeconds = totalDurationSeconds
        self.averageDurationSeconds = averageDurationSeconds
        self.today = today
    }
}

/// A command_id's record: the command it was given to, and the answer (status 0 while the first
/// request still runs). Telnyx Call Control v2: command_id
public struct VoiceCommandRecord: Sendable, Equatable, Codable {
    /// The account that sent the command.
    public var accountID: Int64
    /// The call it was sent to.
    public var callControlID: String
    /// The application's id for the command.
    public var commandID: String
    /// The action name ("hangup", "send_dtmf", ...).
    public var command: String
    /// The HTTP status answered; 0 while the command runs.
    public var status: Int
    /// The JSON answered; empty while the command runs.
    public var responseJSON: String
    /// When the id was first claimed; the 5-minute window runs from here.
    public var createdAt: Date

    init(row: Row) {
        accountID = row.int64("account_id")
        callControlID = row.string("call_control_id")
        commandID = row.string("command_id")
        command = row.string("command")
        status = row.int("status")
        responseJSON = row.string("response_json")
        createdAt = row.date("created_at")
    }
}

/// The outcome of claiming a command_id. Telnyx Call Control v2: command_id
public enum VoiceCommandClaim: Sendable, Equatable {
    /// New (or last used longer ago than the window): run the command, then store its answer.
    case claimed
    /// A repeat within the window that was answered: answer it the same, do nothing.
    case answered(VoiceCommandRecord)
    /// A repeat within the window while the first still runs.
    case running(VoiceCommandRecord)
    /// The id was used within the window for another action (the stored record says which).
    case mismatch(VoiceCommandRecord)
}
