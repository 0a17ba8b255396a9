import Foundation
@testable import Processing
import Store
import Testing

@Suite struct VoiceWebhookTests {
    let started = Date(timeIntervalSince1970: 1_800_000_000.25)
    let now = Date(timeIntervalSince1970: 1_800_000_042.5)

    func call(direction: VoiceCall.Direction = .outbound, state: VoiceCall.State = .active, clientState: String? = "aGF2ZSBhIG5pY2UgZGF5ID1d") -> VoiceCall {
        var call = VoiceCall(callControlID: "v3:abc", callLegID: "leg-1", callSessionID: "session-1", accountID: 7, direction: direction,
                             fromNumber: "+15551234567", toNumber: "+442071234567", state: state, clientState: clientState,
                             connectionID: "conn-1", trunk: "carrier", now: started)
        call.endedAt = state == .ended ? now : nil
        return call
    }

    /// The decoded body of `event`.
    func decode(_ event: VoiceWebhookEvent, call: VoiceCall, deliveredTo: String? = "https://app.example/hook") throws -> [String: Any] {
        let text = VoiceWebhookEnvelope.json(event, call: call, eventID: "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0", occurredAt: now,
                                             deliveredTo: deliveredTo)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func payload(_ body: [String: Any]) throws -> [String: Any] {
        let data = try #require(body["data"] as? [String: Any])
        return try #require(data["payload"] as? [String: Any])
    }

    /// The fields every voice webhook carries, checked one by one.
    func expectCommon(_ payload: [String: Any], direction: String, state: String, clientState: String? = "aGF2ZSBhIG5pY2UgZGF5ID1d") {
        #expect(payload["call_control_id"] as? String == "v3:abc")
        #expect(payload["call_leg_id"] as? String == "leg-1")
        #expect(payload["call_session_id"] as? String == "session-1")
        if let clientState {
            #expect(payload["client_state"] as? String == clientState)
        } else {
            #expect(payload["client_state"] is NSNull, "client_state is null when none was given")
        }
        #expect(payload["connection_id"] as? String == "conn-1")
        #expect(payload["from"] as? String == "+15551234567")
        #expect(payload["to"] as? String == "+442071234567")
        #expect(payload["direction"] as? String == direction)
        #expect(payload["state"] as? String == state)
    }

    @Test func envelopeOfHangup() throws {
        let hangup = VoiceHangup(cause: .userBusy, source: .callee, sipCause: "486")
        let body = try decode(.hangup(hangup), call: call(state: .ended))
        #expect(Set(body.keys) == ["data", "meta"])
        let data = try #require(body["data"] as? [String: Any])
        #expect(Set(data.keys) == ["event_type", "id", "occurred_at", "payload", "record_type"])
        #expect(data["event_type"] as? String == "call.hangup")
        #expect(data["id"] as? String == "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0")
        #expect(data["occurred_at"] as? String == "2027-01-15T08:00:42.500Z")
        #expect(data["record_type"] as? String == "event")
        let meta = try #require(body["meta"] as? [String: Any])
        #expect(meta["attempt"] as? Int == 1)
        #expect(meta["delivered_to"] as? String == "https://app.example/hook")
        let p = try payload(body)
        expectCommon(p, direction: "outgoing", state: "hangup")
        #expect(p["hangup_cause"] as? String == "user_busy")
        #expect(p["hangup_source"] as? String == "callee")
        #expect(p["sip_hangup_cause"] as? String == "486")
        #expect(p["start_time"] as? String == "2027-01-15T08:00:00.250Z")
        #expect(p["end_time"] as? String == "2027-01-15T08:00:42.500Z")
        #expect(Set(p.keys) == ["call_control_id", "call_leg_id", "call_session_id", "client_state", "connection_id", "from", "to",
                                "direction", "state", "hangup_cause", "hangup_source", "sip_hangup_cause", "start_time", "end_time"])
    }

    @Test func initiatedSaysParkedInboundAndBridgingOutbound() throws {
        let inbound = try payload(try decode(.initiated, call: call(direction: .inbound, state: .ringing, clientState: nil)))
        expectCommon(inbound, direction: "incoming", state: "parked", clientState: nil)
        #expect(inbound["start_time"] as? String == "2027-01-15T08:00:00.250Z")
        let outbound = try payload(try decode(.initiated, call: call(state: .dialing)))
        expectCommon(outbound, direction: "outgoing", state: "bridging")
        let answered = try payload(try decode(.answered, call: call(direction: .inbound, state: .active)))
        expectCommon(answered, direction: "incoming", state: "answered")
    }

    @Test func eventSpecificFields() throws {
        let dtmf = try payload(try decode(.dtmfReceived(digit: "#"), call: call()))
        expectCommon(dtmf, direction: "outgoing", state: "answered")
        #expect(dtmf["digit"] as? String == "#")

        let savedAt = now.addingTimeInterval(-30)
        let recording = VoiceRecordingSaved(url: "https://faxd.example/api/calls/v3:abc/recording", startedAt: savedAt, endedAt: now,
                                            durationMilliseconds: 30_000)
        let saved = try payload(try decode(.recordingSaved(recording), call: call()))
        #expect(saved["channels"] as? String == "dual")
        #expect(saved["recording_urls"] as? [String: String] == ["wav": "https://faxd.example/api/calls/v3:abc/recording"])
        #expect(saved["recording_started_at"] as? String == "2027-01-15T08:00:12.500Z")
        #expect(saved["recording_ended_at"] as? String == "2027-01-15T08:00:42.500Z")
        #expect(saved["duration_millis"] as? Int == 30_000)

        let started = try payload(try decode(.playbackStarted(media: "https://example.com/hold.wav"), call: call()))
        #expect(started["media_url"] as? String == "https://example.com/hold.wav" && started["media_name"] == nil)
        #expect(started["overlay"] as? Bool == false)
        let ended = try payload(try decode(.playbackEnded(media: "welcome.wav", status: "completed"), call: call()))
        #expect(ended["media_name"] as? String == "welcome.wav" && ended["status"] as? String == "completed")

        let amd = try payload(try decode(.machineDetectionEnded(result: "fax"), call: call()))
        #expect(amd["result"] as? String == "fax")
        let bridged = try decode(.bridged, call: call())
        #expect((bridged["data"] as? [String: Any])?["event_type"] as? String == "call.bridged")
        let noTarget = try decode(.bridged, call: call(), deliveredTo: nil)
        #expect((noTarget["meta"] as? [String: Any])?["delivered_to"] is NSNull)
    }

    @Test func sameEventIsTheSameBytes() {
        let a = VoiceWebhookEnvelope.json(.answered, call: call(), eventID: "e", occurredAt: now, deliveredTo: "u")
        let b = VoiceWebhookEnvelope.json(.answered, call: call(), eventID: "e", occurredAt: now, deliveredTo: "u")
        #expect(a == b)
        #expect(a.contains("\"client_state\":\"aGF2ZSBhIG5pY2UgZGF5ID1d\""), "client_state is echoed as given, not decoded")
    }

    @Test func aliasesSelectEvents() {
        #expect(VoiceEventType.hangup.isSelected(by: ["call.ended"]))
        #expect(VoiceEventType.hangup.isSelected(by: ["call.hangup"]))
        #expect(VoiceEventType.recordingSaved.isSelected(by: ["fax.sent", "recording.finished"]))
        #expect(VoiceEventType.recordingSaved.isSelected(by: ["call.recording.saved"]))
        #expect(!VoiceEventType.answered.isSelected(by: ["call.ended", "recording.finished", "fax.received"]))
        #expect(!VoiceEventType.hangup.isSelected(by: []))
        #expect(VoiceEventType(named: "call.ended") == .hangup)
        #expect(VoiceEventType(named: "recording.finished") == .recordingSaved)
        #expect(VoiceEventType(named: "call.dtmf.received") == .dtmfReceived)
        #expect(VoiceEventType(named: "fax.sent") == nil)
        for type in VoiceEventType.allCases { #expect(VoiceEventType(named: type.rawValue) == type) }
    }

    @Test func outboxEntriesGoToSubscribedEndpointsOfTheCallsAccount() throws {
        var byName = FaxWebhook(accountID: 7, url: "https://a.example/h", secret: "s", events: ["call.hangup"], uuid: "hook-a")
        byName.id = 1
        var byAlias = FaxWebhook(accountID: 7, url: "https://b.example/h", secret: "s", events: ["call.ended", "fax.sent"], uuid: "hook-b")
        byAlias.id = 2
        var faxOnly = FaxWebhook(accountID: 7, url: "https://c.example/h", secret: "s", events: ["fax.received"], uuid: "hook-c")
        faxOnly.id = 3
        var otherAccount = FaxWebhook(accountID: 8, url: "https://d.example/h", secret: "s", events: ["call.hangup"], uuid: "hook-d")
        otherAccount.id = 4
        let hangup = VoiceWebhookEvent.hangup(VoiceHangup(cause: .normalClearing, source: .caller, sipCause: "unspecified"))
        let entries = VoiceWebhookEnvelope.entries(for: hangup, call: call(state: .ended), webhooks: [byName, byAlias, faxOnly, otherAccount],
                                                   eventID: "evt-1", now: now)
        #expect(entries.map(\.eventID) == ["v3:abc:call.hangup:0:webhook-hook-a", "v3:abc:call.hangup:0:webhook-hook-b"])
        #expect(entries.map(\.webhookID) == [1, 2])
        #expect(entries.allSatisfy { $0.event == "call.hangup" && $0.accountID == 7 && $0.transmissionID == nil && $0.channel == .webhook })
        let second = try #require(try JSONSerialization.jsonObject(with: Data(entries[1].payloadJSON.utf8)) as? [String: Any])
        #expect((second["meta"] as? [String: Any])?["delivered_to"] as? String == "https://b.example/h")
        #expect((second["data"] as? [String: Any])?["id"] as? String == "evt-1")
        let digits = VoiceWebhookEnvelope.entries(for: .dtmfReceived(digit: "1"), call: call(), webhooks: [byName], eventID: "e", sequence: 3)
        #expect(digits.isEmpty, "an endpoint gets only the events it chose")
        var all = byName
        all.events = ["call.dtmf.received"]
        #expect(VoiceWebhookEnvelope.entries(for: .dtmfReceived(digit: "1"), call: call(), webhooks: [all], eventID: "e", sequence: 3)
                    .map(\.eventID) == ["v3:abc:call.dtmf.received:3:webhook-hook-a"])
    }
}
