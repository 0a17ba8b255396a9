import Foundation

/// One `POST /v2/calls/{id}/actions/{name}` body, checked: the command with its arguments, the
/// `client_state` to echo and the `command_id` that makes a retry safe. Telnyx Call Control v2: call commands
public struct VoiceCommandRequest: Sendable, Equatable {
    public var command: VoiceCallCommand
    public var clientState: String?
    public var commandID: String?
    /// `playback_start`'s `loop`: play until stopped.
    public var loop = false
    /// `transfer`'s `connection_id` (a faxd trunk name): the trunk the new leg is dialled through
    /// (absent: the call's own).
    public var connectionID: String?

    /// The action names faxd takes. Telnyx Call Control v2: /actions/{name}
    public static let names = ["answer", "reject", "hangup", "send_dtmf", "playback_start", "playback_stop", "record_start",
                               "record_stop", "bridge", "transfer", "hold", "unhold", "mute", "unmute", "streaming_start", "streaming_stop"]

    /// Reads an action's JSON body (`{}` when empty). The error names the field and what was
    /// expected. Telnyx Call Control v2: call commands
    public init(name: String, body: [String: Any]) throws(VoiceCommandError) {
        func string(_ key: String) throws(VoiceCommandError) -> String? {
            guard let value = body[key], !(value is NSNull) else { return nil }
            guard let text = value as? String else { throw VoiceCommandError(.invalidArgument, "\(key): expected a string") }
            return text
        }
        func required(_ key: String) throws(VoiceCommandError) -> String {
            guard let text = try string(key), !text.isEmpty else { throw VoiceCommandError(.invalidArgument, "\(name): \(key) is required") }
            return text
        }
        clientState = try string("client_state")
        if let id = try string("command_id") {
            guard !id.isEmpty, id.count <= 256 else { throw VoiceCommandError(.invalidArgument, "command_id: 1 to 256 characters") }
            commandID = id
        }
        switch name {
        case "answer": command = .answer
        case "reject":
            let cause = try string("cause") ?? VoiceCallCommand.RejectCause.callRejected.rawValue
            guard let parsed = VoiceCallCommand.RejectCause(rawValue: cause) else {
                throw VoiceCommandError(.invalidArgument, "cause: '\(cause.prefix(40))' must be CALL_REJECTED or USER_BUSY")
            }
            command = .reject(cause: parsed)
        case "hangup": command = .hangup
        case "send_dtmf":
            let digits = try DTMFSendString(try required("digits"))
            let duration: Int?
            switch body["duration_millis"] {
            case nil, is NSNull: duration = nil
            case let value as Int: duration = value
            default: throw VoiceCommandError(.invalidDigits, "duration_millis: expected a whole number of milliseconds (100-500)")
            }
            command = .sendDTMF(digits, durationMilliseconds: try DTMFSendString.toneDuration(duration))
        case "playback_start":
            let url = try string("audio_url"), media = try string("media_name")
            guard (url == nil) != (media == nil) else {
                throw VoiceCommandError(.invalidArgument, "playback_start: give exactly one of audio_url and media_name")
            }
            switch body["loop"] {
            case nil, is NSNull: loop = false
            case let text as String where text == "infinity": loop = true
            case let count as Int where count == 1: loop = false
            case let count as Int where count > 1: loop = true
            default: throw VoiceCommandError(.invalidArgument, "loop: expected a count (1 plays once, more repeats until stopped) or \"infinity\"")
            }
            command = .playbackStart(source: url ?? media!)
        case "playback_stop": command = .playbackStop
        case "record_start":
            if let format = try string("format"), format != "wav" {
                throw VoiceCommandError(.invalidArgument, "format: '\(format.prefix(20))' is not available; faxd records wav")
            }
            if let channels = try string("channels"), channels != "dual" {
                throw VoiceCommandError(.invalidArgument, "channels: '\(channels.prefix(20))' is not available; faxd records dual (caller left, callee right)")
            }
            command = .recordStart
        case "record_stop": command = .recordStop
        case "bridge": command = .bridge(otherCallControlID: try required("call_control_id"))
        case "transfer":
            command = .transfer(to: try required("to"))
            connectionID = try string("connection_id")
        case "hold": command = .hold
        case "unhold": command = .unhold
        case "mute": command = .mute
        case "unmute": command = .unmute
        case "streaming_start": command = .streamingStart(try StreamingStart(body: body))
        case "streaming_stop": command = .streamingStop
        default:
            throw VoiceCommandError(.unknownAction, "'\(name.prefix(40))' is not an action; expected one of \(Self.names.joined(separator: ", "))")
        }
    }
}
