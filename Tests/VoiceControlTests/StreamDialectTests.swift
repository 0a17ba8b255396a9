import Foundation
import MediaStreams
import Processing
import Testing
import Voice

/// The two media stream dialects' messages (issue 17) and the streaming_start body.
@Suite struct StreamDialectTests {
    static func request(_ dialect: StreamDialect, track: StreamTrack = .both) -> MediaStreamRequest {
        MediaStreamRequest(url: "ws://127.0.0.1:9/app", dialect: dialect, track: track, bidirectional: true,
                           customParameters: ["agent": "ada", "lang": "en"], streamID: MediaStreamRequest.newStreamID(dialect),
                           callControlID: "v3:call-1", callSessionID: "session-1", accountID: "42", from: "15550001", to: "15550002")
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    @Test func twilioMessagesHaveTwiliosNamesAndStringCounters() throws {
        let request = Self.request(.twilio)
        #expect(request.streamID.hasPrefix("MZ") && request.streamID.count == 34)
        let codec = StreamCodec(request)
        let connected = try Self.object(codec.connected())
        #expect(connected["event"] as? String == "connected" && connected["protocol"] as? String == "Call")
        let start = try Self.object(codec.start())
        #expect(start["sequenceNumber"] as? String == "1")
        #expect(start["streamSid"] as? String == request.streamID)
        let body = try #require(start["start"] as? [String: Any])
        #expect(body["callSid"] as? String == "v3:call-1")
        #expect(body["accountSid"] as? String == "42")
        #expect(body["tracks"] as? [String] == ["inbound", "outbound"])
        #expect(body["customParameters"] as? [String: String] == ["agent": "ada", "lang": "en"])
        let format = try #require(body["mediaFormat"] as? [String: Any])
        #expect(format["encoding"] as? String == "audio/x-mulaw" && format["sampleRate"] as? Int == 8000 && format["channels"] as? Int == 1)
        let media = try Self.object(codec.media(sequence: 7, outbound: false, chunk: 3, milliseconds: 40, payload: [0xFF, 0x7F, 0x00]))
        #expect(media["sequenceNumber"] as? String == "7")
        let m = try #require(media["media"] as? [String: Any])
        #expect(m["track"] as? String == "inbound" && m["chunk"] as? String == "3" && m["timestamp"] as? String == "40")
        #expect(m["payload"] as? String == "/38A")
        let dtmf = try Self.object(codec.dtmf(sequence: 8, key: "#"))
        #expect((dtmf["dtmf"] as? [String: String]) == ["track": "inbound_track", "digit": "#"])
        let mark = try Self.object(codec.mark(sequence: 9, name: "greeting"))
        #expect((mark["mark"] as? [String: String]) == ["name": "greeting"] && mark["streamSid"] as? String == request.streamID)
        let stop = try Self.object(codec.stop(sequence: 10))
        #expect((stop["stop"] as? [String: String]) == ["accountSid": "42", "callSid": "v3:call-1"])
        #expect(codec.error(sequence: 11, code: 1, title: "x", detail: "y") == nil, "Twilio reports nothing back")
    }

    @Test func telnyxMessagesHaveTelnyxsNamesAndAnErrorEvent() throws {
        let request = Self.request(.telnyx, track: .inbound)
        #expect(UUID(uuidString: request.streamID) != nil)
        let codec = StreamCodec(request)
        #expect(try Self.object(codec.connected())["version"] as? String == "1.0.0")
        let start = try Self.object(codec.start())
        #expect(start["sequence_number"] as? String == "1" && start["stream_id"] as? String == request.streamID)
        let body = try #require(start["start"] as? [String: Any])
        #expect(body["call_control_id"] as? String == "v3:call-1" && body["call_session_id"] as? String == "session-1")
        #expect(body["from"] as? String == "15550001" && body["to"] as? String == "15550002")
        #expect(body["custom_parameters"] as? [String: String] == ["agent": "ada", "lang": "en"])
        let format = try #require(body["media_format"] as? [String: Any])
        #expect(format["encoding"] as? String == "PCMU" && format["sample_rate"] as? Int == 8000)
        let media = try Self.object(codec.media(sequence: 2, outbound: true, chunk: 1, milliseconds: 0, payload: [1, 2]))
        #expect(media["sequence_number"] as? String == "2" && media["stream_id"] as? String == request.streamID)
        let dtmf = try Self.object(codec.dtmf(sequence: 3, key: "7"))
        #expect((dtmf["dtmf"] as? [String: String]) == ["digit": "7"] && dtmf["occurred_at"] is String)
        let error = try Self.object(try #require(codec.error(sequence: 4, code: 100003, title: "malformed_frame", detail: "not JSON")))
        let payload = try #require(error["payload"] as? [String: Any])
        #expect(payload["code"] as? Int == 100003 && payload["title"] as? String == "malformed_frame")
    }

    @Test func applicationMessagesAreReadAndBadOnesSayWhy() {
        for dialect in StreamDialect.allCases {
            let request = Self.request(dialect)
            let codec = StreamCodec(request)
            let idKey = dialect == .twilio ? "streamSid" : "stream_id"
            #expect(codec.read(#"{"event":"media","\#(idKey)":"\#(request.streamID)","media":{"payload":"/38A"}}"#) == .media([0xFF, 0x7F, 0x00]))
            #expect(codec.read(#"{"event":"media","media":{"payload":"AAE="}}"#) == .media([0, 1]), "the id may be left out")
            #expect(codec.read(#"{"event":"mark","mark":{"name":"m1"}}"#) == .mark("m1"))
            #expect(codec.read(#"{"event":"clear"}"#) == .clear)
            func reason(_ text: String) -> String? {
                if case .invalid(_, _, let detail) = codec.read(text) { return detail }
                return nil
            }
            #expect(reason("{not json")?.contains("not a JSON object") == true)
            #expect(reason(#"{"media":{}}"#)?.contains("no \"event\"") == true)
            #expect(reason(#"{"event":"media","media":{"payload":"!!!notbase64!!!"}}"#)?.contains("not base64") == true)
            #expect(reason(#"{"event":"media","media":{}}"#)?.contains("media.payload") == true)
            #expect(reason(#"{"event":"dance"}"#)?.contains("'dance' is not one of media, mark, clear") == true)
            #expect(reason(#"{"event":"mark","mark":{}}"#)?.contains("mark.name") == true)
            #expect(reason(#"{"event":"clear","\#(idKey)":"someone-else"}"#)?.contains("is not this stream's") == true)
        }
    }

    @Test func streamingStartReadsBothPlatformsSpellingsAndRefusesBadOnes() throws {
        let telnyx = try StreamingStart(body: ["stream_url": "wss://ai.example.com/s", "stream_track": "both_tracks",
                                               "stream_bidirectional_mode": "rtp",
                                               "custom_parameters": [["name": "a", "value": "1"], ["name": "b", "value": "2"]]])
        #expect(telnyx == StreamingStart(url: "wss://ai.example.com/s", dialect: .telnyx, track: .both, bidirectional: true,
                                         customParameters: ["a": "1", "b": "2"]))
        let twilio = try StreamingStart(body: ["stream_url": "ws://127.0.0.1:8765/echo", "dialect": "twilio", "stream_track": "inbound",
                                               "bidirectional": true, "custom_parameters": ["k": "v"]])
        #expect(twilio.dialect == .twilio && twilio.track == .inbound && twilio.bidirectional && twilio.customParameters == ["k": "v"])
        #expect(try StreamingStart(body: twilio.body) == twilio, "a number's stored body reads back as what it was made from")
        let plain = try StreamingStart(body: ["stream_url": "ws://h/x"])
        #expect(plain.track == .inbound && !plain.bidirectional && plain.dialect == .telnyx)

        func refusal(_ body: [String: Any]) -> String? {
            do { _ = try StreamingStart(body: body); return nil } catch { return error.reason }
        }
        #expect(refusal([:])?.contains("stream_url is required") == true)
        #expect(refusal(["stream_url": "http://example.com"])?.contains("ws:// or wss://") == true)
        #expect(refusal(["stream_url": "ws://"])?.contains("no host") == true)
        #expect(refusal(["stream_url": "ws://h/x", "dialect": "vonage"])?.contains("telnyx or twilio") == true)
        #expect(refusal(["stream_url": "ws://h/x", "stream_track": "left"])?.contains("inbound_track, outbound_track or both_tracks") == true)
        #expect(refusal(["stream_url": "ws://h/x", "stream_bidirectional_mode": "mp3"])?.contains("must be rtp") == true)
        #expect(refusal(["stream_url": "ws://h/x", "custom_parameters": ["n": 1]])?.contains("custom_parameters.n") == true)
        #expect(try VoiceCommandRequest(name: "streaming_stop", body: [:]).command == .streamingStop)
    }
}
