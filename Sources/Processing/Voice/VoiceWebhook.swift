import Foundation
import Store

/// Voice webhook event names, Telnyx's, with the seed softphone's aliases (`call.ended` for
/// `call.hangup`, `recording.finished` for `call.recording.saved`) accepted in an endpoint's
/// event list. Telnyx Call Control v2: webhook event types
public enum VoiceEventType: String, Sendable, CaseIterable {
    /// A call was dialled or arrived.
    case initiated = "call.initiated"
    /// It was answered.
    case answered = "call.answered"
    /// It ended (alias `call.ended`).
    case hangup = "call.hangup"
    /// Its media was joined with another call's.
    case bridged = "call.bridged"
    /// The far end pressed a key.
    case dtmfReceived = "call.dtmf.received"
    /// A playback began.
    case playbackStarted = "call.playback.started"
    /// A playback ended.
    case playbackEnded = "call.playback.ended"
    /// A recording was written (alias `recording.finished`).
    case recordingSaved = "call.recording.saved"
    /// Answering-machine (or, for an `auto` number, fax) detection finished.
    case machineDetectionEnded = "call.machine.detection.ended"
    /// A media stream connected to its application.
    case streamingStarted = "streaming.started"
    /// A media stream ended as asked, or the application closed it.
    case streamingStopped = "streaming.stopped"
    /// A media stream could not connect, lost its connection, or its application stopped reading.
    case streamingFailed = "streaming.failed"

    /// Other names an endpoint may subscribe with (the seed softphone's). Seed softphone: webhook names
    public var aliases: [String] {
        switch self {
        case .hangup: ["call.ended"]
        case .recordingSaved: ["recording.finished"]
        default: []
        }
    }

    /// The event a name stands for, Telnyx's or an alias; nil for a name that is not a voice
    /// event. Telnyx Call Control v2: webhook event types
    public init?(named name: String) {
        guard let type = Self.allCases.first(where: { $0.rawValue == name || $0.aliases.contains(name) }) else { return nil }
        self = type
    }

    /// Every name an endpoint may subscribe to: the fax events, the voice events and their aliases.
    public static var subscribable: [String] {
        FaxEvent.allCases.map(\.rawValue) + allCases.flatMap { [$0.rawValue] + $0.aliases }
    }

    /// True when `name` is a fax event, a voice event or a voice event's alias.
    public static func isSubscribable(_ name: String) -> Bool {
        FaxEvent(rawValue: name) != nil || VoiceEventType(named: name) != nil
    }

    /// True when an endpoint subscribed to `events` (Telnyx names or aliases, mixed with fax
    /// events) wants this event. Telnyx Call Control v2: webhook event types
    public func isSelected(by events: [String]) -> Bool {
        events.contains { $0 == rawValue || aliases.contains($0) }
    }
}

/// A recording written to disk, as `call.recording.saved` reports it. Telnyx Call Control v2: call.recording.saved
public struct VoiceRecordingSaved: Sendable, Equatable {
    /// Where the application fetches the WAV (faxd's `/api/calls/{id}/recording`).
    public var url: String
    /// "dual" (caller left, callee right) or "single". Telnyx Call Control v2: record_start channels
    public var channels: String
    /// When recording began (`recording_started_at`).
    public var startedAt: Date
    /// When it stopped (`recording_ended_at`).
    public var endedAt: Date
    /// The WAV's length in milliseconds (a faxd field; Telnyx gives only the start and end).
    public var durationMilliseconds: Int

    /// A saved recording. Telnyx Call Control v2: call.recording.saved
    public init(url: String, channels: String = "dual", startedAt: Date, endedAt: Date, durationMilliseconds: Int) {
        self.url = url
        self.channels = channels
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.durationMilliseconds = durationMilliseconds
    }
}

/// The stream a `streaming.*` webhook is about. Telnyx Call Control v2: streaming.started
public struct VoiceStreamInfo: Sendable, Equatable {
    public var streamID: String
    public var url: String
    /// "inbound_track", "outbound_track" or "both_tracks".
    public var track: String
    /// "telnyx" or "twilio" (a faxd field).
    public var dialect: String

    public init(streamID: String, url: String, track: String, dialect: String) {
        self.streamID = streamID
        self.url = url
        self.track = track
        self.dialect = dialect
    }

    /// Telnyx's fields: `stream_id`, `stream_url`, `stream_type` and `stream_params`
    /// (`stream_url`, `track`), with faxd's `dialect`. Telnyx Call Control v2: streaming.failed
    func describe(into payload: inout [String: Any]) {
        payload["stream_id"] = streamID
        payload["stream_url"] = url
        payload["stream_type"] = "websocket"
        payload["stream_params"] = ["stream_url": url, "track": track]
        payload["dialect"] = dialect
    }
}

/// One webhook about a call, with what only that event carries. Telnyx Call Control v2: webhooks
public enum VoiceWebhookEvent: Sendable, Equatable {
    /// `call.initiated`.
    case initiated
    /// `call.answered`.
    case answered
    /// `call.hangup` with its cause, source and SIP status.
    case hangup(VoiceHangup)
    /// `call.bridged`.
    case bridged
    /// One digit the far end pressed ("1", "#", "A").
    case dtmfReceived(digit: String)
    /// `media` is the URL or file name given to playback_start.
    case playbackStarted(media: String)
    /// `status`: "completed", "call_hangup", "cancelled" (stopped) or "file_not_found".
    case playbackEnded(media: String, status: String)
    /// `call.recording.saved`.
    case recordingSaved(VoiceRecordingSaved)
    /// `result`: "human", "machine", "not_sure", or "fax" (an `auto` number heard CNG/V.21).
    case machineDetectionEnded(result: String)
    /// `streaming.started`.
    case streamingStarted(VoiceStreamInfo)
    /// `streaming.stopped`, with why (`streaming_stop`, the call ended, the application closed it).
    case streamingStopped(VoiceStreamInfo, reason: String)
    /// `streaming.failed`, with `failure_reason`.
    case streamingFailed(VoiceStreamInfo, reason: String)

    /// The event's name. Telnyx Call Control v2: webhook event types
    public var type: VoiceEventType {
        switch self {
        case .initiated: .initiated
        case .answered: .answered
        case .hangup: .hangup
        case .bridged: .bridged
        case .dtmfReceived: .dtmfReceived
        case .playbackStarted: .playbackStarted
        case .playbackEnded: .playbackEnded
        case .recordingSaved: .recordingSaved
        case .machineDetectionEnded: .machineDetectionEnded
        case .streamingStarted: .streamingStarted
        case .streamingStopped: .streamingStopped
        case .streamingFailed: .streamingFailed
        }
    }
}

/// Builds Telnyx-shaped webhook bodies and their outbox entries:
/// `{"data": {"event_type", "id", "occurred_at", "payload": {...}, "record_type": "event"},
///   "meta": {"attempt", "delivered_to"}}`. Telnyx Call Control v2: webhook envelope
public enum VoiceWebhookEnvelope {
    /// The word Telnyx puts in `payload.state`: "parked" (inbound, not answered), "bridging"
    /// (outbound, not answered), "answered", "hangup". Telnyx Call Control v2: call.initiated state
    public static func telnyxState(of call: VoiceCall, for event: VoiceWebhookEvent) -> String {
        switch event {
        case .hangup: return "hangup"
        case .answered: return "answered"
        default: break
        }
        switch call.state {
        case .dialing, .ringing: return call.direction == .inbound ? "parked" : "bridging"
        case .active: return "answered"
        case .ended: return "hangup"
        }
    }

    /// The payload: the call's ids, numbers, client_state (null when none), direction and state,
    /// then the event's own fields. Telnyx Call Control v2: webhook payloads
    public static func payload(_ event: VoiceWebhookEvent, call: VoiceCall, occurredAt: Date) -> [String: Any] {
        var payload: [String: Any] = [
            "call_control_id": call.callControlID, "call_leg_id": call.callLegID, "call_session_id": call.callSessionID,
            "client_state": call.clientState ?? NSNull(), "connection_id": call.connectionID ?? NSNull(),
            "from": call.fromNumber, "to": call.toNumber, "direction": call.direction.telnyxName,
            "state": telnyxState(of: call, for: event),
        ]
        let time = OutboxMessages.timestamp
        switch event {
        case .initiated, .answered:
            payload["start_time"] = time(call.createdAt)
        case .hangup(let hangup):
            payload["start_time"] = time(call.createdAt)
            payload["end_time"] = time(call.endedAt ?? occurredAt)
            payload["hangup_cause"] = hangup.cause.rawValue
            payload["hangup_source"] = hangup.source.rawValue
            payload["sip_hangup_cause"] = hangup.sipCause
        case .bridged:
            break
        case .dtmfReceived(let digit):
            payload["digit"] = digit
        case .playbackStarted(let media):
            payload[mediaKey(media)] = media
            payload["overlay"] = false
        case .playbackEnded(let media, let status):
            payload[mediaKey(media)] = media
            payload["overlay"] = false
            payload["status"] = status
        case .recordingSaved(let recording):
            payload["channels"] = recording.channels
            payload["recording_started_at"] = time(recording.startedAt)
            payload["recording_ended_at"] = time(recording.endedAt)
            payload["recording_urls"] = ["wav": recording.url]
            payload["duration_millis"] = recording.durationMilliseconds
        case .machineDetectionEnded(let result):
            payload["result"] = result
        case .streamingStarted(let stream):
            stream.describe(into: &payload)
        case .streamingStopped(let stream, let reason):
            stream.describe(into: &payload)
            payload["reason"] = reason
        case .streamingFailed(let stream, let reason):
            stream.describe(into: &payload)
            payload["failure_reason"] = reason
        }
        return payload
    }

    /// A URL given to playback_start is `media_url`; a stored file's name is `media_name`.
    /// Telnyx Call Control v2: call.playback.started
    static func mediaKey(_ media: String) -> String {
        media.hasPrefix("http://") || media.hasPrefix("https://") ? "media_url" : "media_name"
    }

    /// The whole body as JSON text (sorted keys, so the same event is the same bytes).
    /// Telnyx Call Control v2: webhook envelope
    public static func json(_ event: VoiceWebhookEvent, call: VoiceCall, eventID: String, occurredAt: Date,
                            attempt: Int = 1, deliveredTo: String?) -> String {
        let data: [String: Any] = [
            "event_type": event.type.rawValue, "id": eventID, "occurred_at": OutboxMessages.timestamp(occurredAt),
            "payload": payload(event, call: call, occurredAt: occurredAt), "record_type": "event",
        ]
        let meta: [String: Any] = ["attempt": attempt, "delivered_to": deliveredTo ?? NSNull()]
        return OutboxMessages.json(["data": data, "meta": meta])
    }

    /// One webhook outbox entry per endpoint of the account whose event list selects the event
    /// (by its Telnyx name or an alias). Outbox event ids are stable,
    /// `{call_control_id}:{event_type}:{sequence}:webhook-{endpoint uuid}`, so a repeated call
    /// queues nothing twice; `sequence` tells repeated events of one call apart (the n-th digit);
    /// `eventID` is the body's `data.id`, the same for every endpoint. Disabled endpoints get
    /// their entries too (they wait, as fax entries do). Telnyx Call Control v2: webhooks
    public static func entries(for event: VoiceWebhookEvent, call: VoiceCall, webhooks: [FaxWebhook], eventID: String,
                               sequence: Int = 0, now: Date = Date()) -> [OutboxEntry] {
        let base = "\(call.callControlID):\(event.type.rawValue):\(sequence)"
        return webhooks.filter { $0.accountID == call.accountID && event.type.isSelected(by: $0.events) }.map { hook in
            OutboxEntry(eventID: "\(base):webhook-\(hook.uuid)", channel: .webhook, event: event.type.rawValue,
                        accountID: call.accountID, transmissionID: nil, webhookID: hook.id,
                        payloadJSON: json(event, call: call, eventID: eventID, occurredAt: now, deliveredTo: hook.url), now: now)
        }
    }
}
