import Foundation
import Voice

/// The two wire formats applications are written against. Both are JSON text messages over
/// one WebSocket, with mu-law 8 kHz audio in base64; they differ in names (camelCase and
/// `streamSid` for Twilio, snake_case and `stream_id` for Telnyx) and in a few messages
/// (Telnyx reports a bad message back with `error`). Twilio Media Streams: WebSocket messages;
/// Telnyx: media streaming over WebSockets
public enum StreamDialect: String, Sendable, Equatable, CaseIterable {
    case twilio, telnyx
}

/// What one stream is: where it goes, what it carries and the ids its `start` message names.
/// Telnyx Call Control v2: streaming_start; Twilio: <Stream>
public struct MediaStreamRequest: Sendable, Equatable {
    /// ws:// or wss:// URL of the application.
    public var url: String
    public var dialect: StreamDialect
    public var track: StreamTrack
    /// The application's audio is played to the far end.
    public var bidirectional: Bool
    /// Echoed in `start` (Twilio `customParameters`, Telnyx `custom_parameters`).
    public var customParameters: [String: String]
    /// The stream's id: Twilio `streamSid`, Telnyx `stream_id`.
    public var streamID: String
    /// The call's id (call_control_id; Twilio `callSid`).
    public var callControlID: String
    public var callSessionID: String
    /// The account (Twilio `accountSid`).
    public var accountID: String
    public var from: String
    public var to: String
    public var clientState: String?

    public init(url: String, dialect: StreamDialect, track: StreamTrack, bidirectional: Bool, customParameters: [String: String] = [:],
                streamID: String, callControlID: String, callSessionID: String = "", accountID: String = "", from: String = "",
                to: String = "", clientState: String? = nil) {
        self.url = url
        self.dialect = dialect
        self.track = track
        self.bidirectional = bidirectional
        self.customParameters = customParameters
        self.streamID = streamID
        self.callControlID = callControlID
        self.callSessionID = callSessionID
        self.accountID = accountID
        self.from = from
        self.to = to
        self.clientState = clientState
    }

    /// A new stream id in the dialect's shape: Twilio "MZ" and 32 hex digits, Telnyx a UUID.
    public static func newStreamID(_ dialect: StreamDialect) -> String {
        switch dialect {
        case .twilio: "MZ" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        case .telnyx: UUID().uuidString.lowercased()
        }
    }

    /// Checks a stream URL: ws:// or wss:// with a host. Returns the reason it is not usable.
    /// RFC 6455 section 3
    public static func problem(withURL url: String) -> String? {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased() else {
            return "stream_url: '\(url.prefix(80))' is not a URL"
        }
        guard scheme == "ws" || scheme == "wss" else {
            return "stream_url: '\(url.prefix(80))' must start with ws:// or wss://"
        }
        guard let host = parsed.host, !host.isEmpty else { return "stream_url: '\(url.prefix(80))' has no host" }
        if scheme == "wss" && (host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }) {
            return "stream_url: wss:// needs a host name, not the address \(host) (TLS server name indication carries names only); use the name in the application's certificate"
        }
        return nil
    }
}

/// A message from the application, read. Twilio Media Streams: messages to Twilio; Telnyx: bidirectional media
public enum StreamInbound: Sendable, Equatable {
    /// mu-law 8 kHz audio to play.
    case media([UInt8])
    /// Return this name once the audio before it has played.
    case mark(String)
    /// Drop the queued audio now.
    case clear
    /// Not a message faxd can use, and why (logged and ignored; Telnyx hears `error`).
    case invalid(code: Int, title: String, detail: String)
}

/// Builds the messages faxd sends and reads the ones the application sends, in one dialect.
/// Counters go out as strings, as both platforms send them. Twilio Media Streams: WebSocket
/// messages; Telnyx: media streaming over WebSockets
public struct StreamCodec: Sendable {
    public let request: MediaStreamRequest
    private let idKey: String
    private let sequenceKey: String

    /// Telnyx's error codes for what the application sent. Telnyx: media streaming errors
    public enum TelnyxError {
        public static let malformedFrame = (100003, "malformed_frame")
        public static let invalidMedia = (100004, "invalid_media")
        public static let unknownEvent = (100002, "unknown_error")
    }

    public init(_ request: MediaStreamRequest) {
        self.request = request
        idKey = request.dialect == .twilio ? "streamSid" : "stream_id"
        sequenceKey = request.dialect == .twilio ? "sequenceNumber" : "sequence_number"
    }

    /// The first message, before any sequence number.
    public func connected() -> String {
        switch request.dialect {
        case .twilio: #"{"event":"connected","protocol":"Call","version":"1.0.0"}"#
        case .telnyx: #"{"event":"connected","version":"1.0.0"}"#
        }
    }

    /// `start`, sequence number 1: ids, tracks, custom parameters, media format (mu-law 8 kHz mono).
    public func start() -> String {
        let tracks: [String] = switch request.track {
        case .inbound: ["inbound"]
        case .outbound: ["outbound"]
        case .both: ["inbound", "outbound"]
        }
        let body: [String: Any]
        switch request.dialect {
        case .twilio:
            body = ["accountSid": request.accountID, "streamSid": request.streamID, "callSid": request.callControlID, "tracks": tracks,
                    "customParameters": request.customParameters,
                    "mediaFormat": ["encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1] as [String: Any]]
        case .telnyx:
            body = ["call_control_id": request.callControlID, "call_session_id": request.callSessionID, "from": request.from, "to": request.to,
                    "client_state": request.clientState ?? NSNull(), "tracks": tracks, "custom_parameters": request.customParameters,
                    "media_format": ["encoding": "PCMU", "sample_rate": 8000, "channels": 1] as [String: Any]]
        }
        return Self.json(["event": "start", sequenceKey: "1", "start": body, idKey: request.streamID])
    }

    /// One 20 ms frame. `chunk` counts this track's frames from 1; `milliseconds` is the stream time.
    public func media(sequence: Int, outbound: Bool, chunk: Int, milliseconds: Int, payload: [UInt8]) -> String {
        let base64 = Data(payload).base64EncodedString()
        let track = outbound ? "outbound" : "inbound"
        return #"{"event":"media","\#(sequenceKey)":"\#(sequence)","media":{"track":"\#(track)","chunk":"\#(chunk)","timestamp":"\#(milliseconds)","payload":"\#(base64)"},"\#(idKey)":"\#(request.streamID)"}"#
    }

    /// A key the far end pressed.
    public func dtmf(sequence: Int, key: Character, occurredAt: Date = Date()) -> String {
        switch request.dialect {
        case .twilio:
            Self.json(["event": "dtmf", sequenceKey: String(sequence), idKey: request.streamID,
                       "dtmf": ["track": "inbound_track", "digit": String(key)]])
        case .telnyx:
            Self.json(["event": "dtmf", sequenceKey: String(sequence), idKey: request.streamID,
                       "occurred_at": ISO8601DateFormatter().string(from: occurredAt), "dtmf": ["digit": String(key)]])
        }
    }

    /// A mark the application sent, returned once its audio played (or was cleared).
    public func mark(sequence: Int, name: String) -> String {
        Self.json(["event": "mark", sequenceKey: String(sequence), idKey: request.streamID, "mark": ["name": name]])
    }

    /// The last message: the stream ends (stopped, or the call ended).
    public func stop(sequence: Int) -> String {
        let body: [String: Any] = switch request.dialect {
        case .twilio: ["accountSid": request.accountID, "callSid": request.callControlID]
        case .telnyx: ["call_control_id": request.callControlID]
        }
        return Self.json(["event": "stop", sequenceKey: String(sequence), idKey: request.streamID, "stop": body])
    }

    /// Telnyx's report of a message faxd could not use; Twilio has none (nil).
    public func error(sequence: Int, code: Int, title: String, detail: String) -> String? {
        guard request.dialect == .telnyx else { return nil }
        return Self.json(["event": "error", sequenceKey: String(sequence), idKey: request.streamID,
                          "payload": ["code": code, "title": title, "detail": detail] as [String: Any]])
    }

    /// Reads one text message from the application. Twilio Media Streams: media, mark, clear
    public func read(_ text: String) -> StreamInbound {
        let malformed = TelnyxError.malformedFrame
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            return .invalid(code: malformed.0, title: malformed.1, detail: "not a JSON object: \(Self.excerpt(text))")
        }
        guard let event = object["event"] as? String else {
            return .invalid(code: malformed.0, title: malformed.1, detail: "no \"event\" string: \(Self.excerpt(text))")
        }
        if let id = object[idKey] as? String, id != request.streamID {
            return .invalid(code: malformed.0, title: malformed.1, detail: "\(idKey) '\(id.prefix(60))' is not this stream's (\(request.streamID))")
        }
        switch event {
        case "media":
            guard let media = object["media"] as? [String: Any], let payload = media["payload"] as? String else {
                return .invalid(code: TelnyxError.invalidMedia.0, title: TelnyxError.invalidMedia.1, detail: "media without a media.payload string")
            }
            guard let bytes = Data(base64Encoded: payload) else {
                return .invalid(code: TelnyxError.invalidMedia.0, title: TelnyxError.invalidMedia.1,
                                detail: "media.payload is not base64 (\(Self.excerpt(payload)))")
            }
            return .media([UInt8](bytes))
        case "mark":
            guard let mark = object["mark"] as? [String: Any], let name = mark["name"] as? String else {
                return .invalid(code: malformed.0, title: malformed.1, detail: "mark without a mark.name string")
            }
            return .mark(name)
        case "clear":
            return .clear
        default:
            let unknown = TelnyxError.unknownEvent
            return .invalid(code: unknown.0, title: unknown.1, detail: "event '\(event.prefix(40))' is not one of media, mark, clear")
        }
    }

    static func excerpt(_ text: String) -> String {
        text.count <= 60 ? "'\(text)'" : "'\(text.prefix(60))...' (\(text.utf8.count) bytes)"
    }

    static func json(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
