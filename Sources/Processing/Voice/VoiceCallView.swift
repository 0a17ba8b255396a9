import Foundation
import Store

/// The ids of a new call leg, in Telnyx's forms: `call_control_id` is "v3:" and 32 random bytes
/// in unpadded base64url (it is also the token that names the call in commands, so it must not be
/// guessable); `call_leg_id` and `call_session_id` are lower-case UUIDs. Telnyx Call Control v2: Call object
public struct VoiceCallIDs: Sendable, Equatable {
    /// Addresses commands: `/v2/calls/{call_control_id}/actions/...`.
    public var callControlID: String
    /// This leg.
    public var callLegID: String
    /// The conversation (shared with a bridged or transferred leg).
    public var callSessionID: String

    /// Fresh ids; `session` joins an existing conversation (a transfer's new leg).
    /// Telnyx Call Control v2: call_session_id
    public static func make(session: String? = nil) -> VoiceCallIDs {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let token = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return VoiceCallIDs(callControlID: "v3:" + token, callLegID: UUID().uuidString.lowercased(),
                            callSessionID: session ?? UUID().uuidString.lowercased())
    }
}

/// JSON bodies of the Telnyx-shaped API that are pure functions of stored values: the Call
/// object, a command's answer and a refusal. Telnyx Call Control v2: Call object, errors
public enum VoiceCallView {
    /// `{"data": {...}}` for `GET /v2/calls/{id}` and the dial's answer: ids, client_state (null
    /// when none), `is_alive`, `call_duration` (whole seconds of talk time, counted to `now`
    /// while the call is up), `start_time`, `end_time` (when ended), `record_type` "call".
    /// Telnyx Call Control v2: Retrieve a call status
    public static func call(_ call: VoiceCall, now: Date = Date()) -> [String: Any] {
        let talk: Double = switch call.state {
        case .ended: call.durationSeconds
        case .active: call.answeredAt.map { max(0, now.timeIntervalSince($0)) } ?? 0
        case .dialing, .ringing: 0
        }
        var data: [String: Any] = [
            "call_control_id": call.callControlID, "call_leg_id": call.callLegID, "call_session_id": call.callSessionID,
            "client_state": call.clientState ?? NSNull(), "is_alive": call.state.isLive, "call_duration": Int(talk.rounded()),
            "start_time": OutboxMessages.timestamp(call.createdAt), "record_type": "call",
        ]
        if let ended = call.endedAt { data["end_time"] = OutboxMessages.timestamp(ended) }
        return ["data": data]
    }

    /// A command's answer: `{"data": {"result": "ok"}}`. Telnyx Call Control v2: call commands
    public static var commandResult: [String: Any] { ["data": ["result": "ok"]] }

    /// A refused command: `{"errors": [{"code", "title", "detail"}]}` with the stable code, the
    /// command's name in the title and the reason as the detail. Telnyx Call Control v2: errors
    public static func error(_ error: VoiceCommandError, command: String) -> [String: Any] {
        refusal(code: error.code.rawValue, title: "\(command) refused", detail: error.reason)
    }

    /// Any refusal of the voice API: Telnyx's `errors` array, with faxd's own `error` object
    /// (code, message) beside it for clients of the fax API. Telnyx Call Control v2: errors
    public static func refusal(code: String, title: String, detail: String) -> [String: Any] {
        ["errors": [["code": code, "title": title, "detail": detail]], "error": ["code": code, "message": detail]]
    }
}
