import Foundation
import MediaStreams
import Voice

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
    /// Stream the call's audio to an application over WebSocket (and play what it sends back).
    case streamingStart(StreamingStart)
    /// Stop the stream.
    case streamingStop

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
        case .streamingStart: "streaming_start"
        case .streamingStop: "streaming_stop"
        }
    }
}

/// `streaming_start`'s arguments, checked. Telnyx Call Control v2: streaming_start; Twilio: <Stream>
public struct StreamingStart: Sendable, Equatable {
    /// ws:// or wss:// URL of the application.
    public var url: String
    public var dialect: StreamDialect
    public var track: StreamTrack
    /// Play the application's audio to the far end (Telnyx `stream_bidirectional_mode: rtp`).
    public var bidirectional: Bool
    /// Echoed in the `start` message.
    public var customParameters: [String: String]

    public init(url: String, dialect: StreamDialect = .telnyx, track: StreamTrack = .inbound, bidirectional: Bool = false,
                customParameters: [String: String] = [:]) {
        self.url = url
        self.dialect = dialect
        self.track = track
        self.bidirectional = bidirectional
        self.customParameters = customParameters
    }

    /// Reads a `streaming_start` body (also what a number's `voice_stream` holds): `stream_url`
    /// (required), `stream_track` (`inbound_track`, `outbound_track`, `both_tracks`, or
    /// inbound/outbound/both), `dialect` (`telnyx` or `twilio`, default telnyx),
    /// `stream_bidirectional_mode` (`rtp` plays the application's audio; `none` or absent does not)
    /// or `bidirectional` (a boolean), `custom_parameters` (an object of strings, or Telnyx's list
    /// of `{name, value}`). The error names the field. Telnyx Call Control v2: streaming_start
    public init(body: [String: Any]) throws(VoiceCommandError) {
        func string(_ key: String) throws(VoiceCommandError) -> String? {
            guard let value = body[key], !(value is NSNull) else { return nil }
            guard let text = value as? String else { throw VoiceCommandError(.invalidArgument, "\(key): expected a string") }
            return text
        }
        guard let url = try string("stream_url"), !url.isEmpty else {
            throw VoiceCommandError(.invalidArgument, "streaming_start: stream_url is required (ws:// or wss://)")
        }
        if let problem = MediaStreamRequest.problem(withURL: url) { throw VoiceCommandError(.invalidArgument, problem) }
        self.url = url
        let dialectName = try string("dialect") ?? "telnyx"
        guard let dialect = StreamDialect(rawValue: dialectName) else {
            throw VoiceCommandError(.invalidArgument, "dialect: '\(dialectName.prefix(40))' must be telnyx or twilio")
        }
        self.dialect = dialect
        let trackName = try string("stream_track") ?? "inbound_track"
        let trackWord = trackName.hasSuffix("_tracks") ? String(trackName.dropLast(7)) : trackName.hasSuffix("_track") ? String(trackName.dropLast(6)) : trackName
        guard let track = StreamTrack(rawValue: trackWord) else {
            throw VoiceCommandError(.invalidArgument, "stream_track: '\(trackName.prefix(40))' must be inbound_track, outbound_track or both_tracks")
        }
        self.track = track
        switch (body["stream_bidirectional_mode"], body["bidirectional"]) {
        case (nil, nil), (is NSNull, _), (_, is NSNull): bidirectional = false
        case (let mode as String, nil):
            guard mode == "rtp" || mode == "none" else {
                throw VoiceCommandError(.invalidArgument, "stream_bidirectional_mode: '\(mode.prefix(20))' must be rtp (faxd plays the application's mu-law audio) or none")
            }
            bidirectional = mode == "rtp"
        case (nil, let flag as Bool): bidirectional = flag
        default:
            throw VoiceCommandError(.invalidArgument, "give stream_bidirectional_mode (\"rtp\" or \"none\") or bidirectional (true or false), not both")
        }
        var parameters: [String: String] = [:]
        switch body["custom_parameters"] {
        case nil, is NSNull: break
        case let object as [String: Any]:
            for (key, value) in object {
                guard let text = value as? String else { throw VoiceCommandError(.invalidArgument, "custom_parameters.\(key.prefix(40)): expected a string") }
                parameters[key] = text
            }
        case let list as [Any]:
            for item in list {
                guard let pair = item as? [String: Any], let name = pair["name"] as? String, let value = pair["value"] as? String else {
                    throw VoiceCommandError(.invalidArgument, "custom_parameters: each entry of the list must be {\"name\": string, \"value\": string}")
                }
                parameters[name] = value
            }
        default:
            throw VoiceCommandError(.invalidArgument, "custom_parameters: expected an object of strings or a list of {name, value}")
        }
        guard parameters.count <= 32, parameters.allSatisfy({ $0.key.utf8.count <= 256 && $0.value.utf8.count <= 2048 }) else {
            throw VoiceCommandError(.invalidArgument, "custom_parameters: at most 32, names up to 256 bytes, values up to 2048")
        }
        customParameters = parameters
    }

    /// Telnyx's name of the track: inbound_track, outbound_track, both_tracks.
    public var trackName: String { track == .both ? "both_tracks" : track.rawValue + "_track" }

    /// The body that reads back as this (what a number's `voice_stream` stores).
    public var body: [String: Any] {
        ["stream_url": url, "dialect": dialect.rawValue, "stream_track": trackName,
         "stream_bidirectional_mode": bidirectional ? "rtp" : "none", "custom_parameters": customParameters]
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
        /// streaming_start on a call that already streams.
        case alreadyStreaming = "already_streaming"
        /// streaming_stop on a call that does not stream.
        case notStreaming = "not_streaming"
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
