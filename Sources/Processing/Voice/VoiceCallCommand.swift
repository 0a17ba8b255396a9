import Foundation

/// An action an application asks of a call (`POST /v2/calls/{id}/actions/{name}`), its arguments
/// already checked. Telnyx Call Control v2: call commands
public enum VoiceCallCommand: Sendable, Equatable {
    /// Answer a ringing inbound call (200 OK).
    case answer
    /// Refuse a ringing inbound call: `call_rejected` (603) or `user_busy` (486).
    case reject(cause: RejectCause)
    /// End the call: BYE when active, CANCEL or a final response before answer.
    case hangup
    /// Send keys to the far end (RFC 4733 events; in-band when not negotiated).
    case sendDTMF(DTMFSendString, durationMilliseconds: Int)
    /// Play an 8 kHz WAV from a file or URL.
    case playbackStart(source: String)
    /// Stop what is playing.
    case playbackStop
    /// Record both directions into a dual-channel WAV.
    case recordStart
    /// Stop recording (the WAV is saved, `call.recording.saved` follows).
    case recordStop
    /// Relay this call's media with another call's, both directions.
    case bridge(otherCallControlID: String)
    /// Dial `to` and bridge it (SIP REFER when the peer supports it).
    case transfer(to: String)
    /// Put the far end on hold (re-INVITE sendonly, music on hold).
    case hold
    /// Take the far end off hold.
    case unhold
    /// Stop forwarding our audio to the far end.
    case mute
    /// Forward our audio again.
    case unmute

    /// Why `reject` refuses, and the SIP status it answers with. Telnyx Call Control v2: reject cause
    public enum RejectCause: String, Sendable, Equatable, CaseIterable {
        /// Decline the call (603; hangup_cause call_rejected).
        case callRejected = "CALL_REJECTED"
        /// Say busy (486; hangup_cause user_busy).
        case userBusy = "USER_BUSY"

        /// The final response sent: 603 Decline or 486 Busy Here. RFC 3261 section 21
        public var sipStatus: Int { self == .callRejected ? 603 : 486 }
    }

    /// The action's name in the URL, which is also what a command_id is recorded against.
    /// Telnyx Call Control v2: /actions/{name}
    public var name: String {
        switch self {
        case .answer: "answer"
        case .reject: "reject"
        case .hangup: "hangup"
        case .sendDTMF: "send_dtmf"
        case .playbackStart: "playback_start"
        case .playbackStop: "playback_stop"
        case .recordStart: "record_start"
        case .recordStop: "record_stop"
        case .bridge: "bridge"
        case .transfer: "transfer"
        case .hold: "hold"
        case .unhold: "unhold"
        case .mute: "mute"
        case .unmute: "unmute"
        }
    }
}

/// A command refused: a stable code and a reason naming what was wrong and what to do. The HTTP
/// layer answers 422 (Telnyx's status for a command the call cannot take now).
/// Telnyx Call Control v2: errors
public struct VoiceCommandError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable codes, for programs.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The call already ended; nothing can be done to it.
        case callEnded = "call_ended"
        /// The command needs an answered call.
        case callNotActive = "call_not_active"
        /// The command needs a ringing inbound call (answer, reject).
        case callNotRinging = "call_not_ringing"
        /// answer or reject on an outbound call.
        case notInbound = "not_inbound"
        /// An answer is already under way.
        case alreadyAnswering = "already_answering"
        /// record_start while recording.
        case alreadyRecording = "already_recording"
        /// record_stop with no recording.
        case notRecording = "not_recording"
        /// send_dtmf digits (or their duration) are not acceptable.
        case invalidDigits = "invalid_digits"
        /// client_state is not base64 or too long.
        case invalidClientState = "invalid_client_state"
        /// A field is missing, of the wrong type, or out of range.
        case invalidArgument = "invalid_argument"
        /// The action's name is not one faxd knows (the HTTP layer answers 404).
        case unknownAction = "unknown_action"
        /// The action is known but faxd cannot do it in this form yet.
        case notSupported = "not_supported"
        /// `bridge` names a call that is not in progress, or cannot be joined.
        case bridgeFailed = "bridge_failed"
        /// playback_start's media could not be read.
        case mediaUnavailable = "media_unavailable"
    }

    /// Which rule was broken.
    public var code: Code
    /// What was wrong, in words.
    public var reason: String

    /// An error with its code and reason. Telnyx Call Control v2: errors
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The reason.
    public var description: String { reason }

    /// The HTTP status the API answers with: 422, as Telnyx does for a command the call cannot
    /// take or arguments it cannot use. Telnyx Call Control v2: errors
    public var httpStatus: Int { code == .unknownAction ? 404 : 422 }
}

/// The `client_state` a dial or command carries: base64 text, echoed in later webhooks exactly as
/// given (faxd never decodes it). Telnyx Call Control v2: client_state
public enum ClientState {
    /// Longest client_state accepted, in characters (faxd's bound: it rides in every webhook).
    public static let maxLength = 4096

    /// Returns `text` unchanged when it is base64 (RFC 4648 section 4, padded) of at most
    /// `maxLength` characters; otherwise an error saying what is wrong. Telnyx Call Control v2: client_state
    public static func validate(_ text: String) throws(VoiceCommandError) -> String {
        guard text.count <= maxLength else {
            throw VoiceCommandError(.invalidClientState, "client_state: \(text.count) characters, more than \(maxLength)")
        }
        guard !text.isEmpty, Data(base64Encoded: text) != nil else {
            throw VoiceCommandError(.invalidClientState,
                                    "client_state: '\(text.prefix(40))' is not base64 (encode the state you want echoed, e.g. base64 of a JSON object)")
        }
        return text
    }
}
