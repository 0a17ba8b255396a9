import FaxdTesting
import Foundation
import Processing
import Store
import Testing

/// The voice call log's read routes (issue 16, first part), over rows in the store: the Telnyx
/// call object, the softphone's list, status, active calls, stats and recording, each scoped to
/// the key's account.
@Suite struct VoiceRoutesTests {
    @Test func theCallLogIsReadableByItsAccountOnly() async throws {
        let api = try await TestAPI(label: "api-voice")
        defer { api.stop() }
        let recording = Fixtures.scratchDirectory("voice-rec") + "/call.wav"
        try Data("RIFF....WAVEfmt ".utf8).write(to: URL(fileURLWithPath: recording))
        let (ended, live, bobs) = try api.service.store.write { db -> (VoiceCall, VoiceCall, VoiceCall) in
            guard let alice = try db.account(faxNumber: api.alice.number), let bob = try db.account(faxNumber: api.bob.number) else {
                throw StoreError("accounts missing")
            }
            let start = Date().addingTimeInterval(-120)
            func call(_ account: Int64, to: String) throws -> VoiceCall {
                let ids = VoiceCallIDs.make()
                return try db.insert(VoiceCall(callControlID: ids.callControlID, callLegID: ids.callLegID, callSessionID: ids.callSessionID,
                                               accountID: account, direction: .outbound, fromNumber: "15551110001", toNumber: to, now: start))
            }
            let ended = try call(alice.id, to: "15557654321")
            _ = try db.setVoiceCallState(callControlID: ended.callControlID, to: .active, at: start.addingTimeInterval(5))
            _ = try db.setVoiceCallState(callControlID: ended.callControlID, to: .ended, at: start.addingTimeInterval(65),
                                         hangup: (cause: .normalClearing, source: .callee, sipCause: "unspecified"))
            try db.setVoiceCallRecording(callControlID: ended.callControlID, path: recording)
            let live = try call(alice.id, to: "15557650000")
            _ = try db.setVoiceCallState(callControlID: live.callControlID, to: .active, at: Date())
            return (ended, live, try call(bob.id, to: "15550001111"))
        }
        let telnyx = try await api.request(.GET, "/v2/calls/\(ended.callControlID)", token: api.alice.key)
        let data = try #require(telnyx.json?["data"] as? [String: Any], "\(telnyx.text)")
        #expect(data["call_control_id"] as? String == ended.callControlID && data["is_alive"] as? Bool == false)
        #expect(data["call_duration"] as? Int == 60 && data["record_type"] as? String == "call")

        let status = try await api.request(.GET, "/api/call-status/status/\(ended.callControlID)", token: api.alice.key)
        #expect(status.json?["status"] as? String == "ended" && status.json?["hangup_cause"] as? String == "normal_clearing", "\(status.text)")
        #expect(status.json?["has_recording"] as? Bool == true)
        let list = try await api.request(.GET, "/api/calls/", token: api.alice.key)
        #expect((list.json?["calls"] as? [[String: Any]])?.count == 2, "\(list.text)")
        let activeOnly = try await api.request(.GET, "/api/calls/?state=active", token: api.alice.key)
        #expect((activeOnly.json?["calls"] as? [[String: Any]])?.map { $0["call_id"] as? String } == [live.callControlID])
        #expect(try await api.request(.GET, "/api/calls/?state=talking", token: api.alice.key).status == 400)
        let active = try await api.request(.GET, "/api/call-status/active", token: api.alice.key)
        #expect(active.json?["count"] as? Int == 1)
        let stats = try await api.request(.GET, "/api/call-status/stats", token: api.alice.key)
        #expect(stats.json?["total"] as? Int == 2 && (stats.json?["by_state"] as? [String: Int])?["ended"] == 1, "\(stats.text)")
        let wav = try await api.request(.GET, "/api/calls/\(ended.callControlID)/recording", token: api.alice.key)
        #expect(wav.status == 200 && wav.header("Content-Type") == "audio/wav" && wav.text.hasPrefix("RIFF"))
        #expect(try await api.request(.GET, "/api/calls/\(live.callControlID)/recording", token: api.alice.key).status == 404)

        // Another account's call is not there for this key, and no key is no answer.
        for path in ["/v2/calls/\(bobs.callControlID)", "/api/call-status/status/\(bobs.callControlID)", "/api/calls/\(ended.callControlID)/recording"] {
            let token = path.contains(bobs.callControlID) ? api.alice.key : api.bob.key
            #expect(try await api.request(.GET, path, token: token).status == 404, "\(path)")
        }
        #expect(try await api.request(.GET, "/api/calls/").status == 401)
        #expect((try await api.request(.GET, "/api/calls/", token: api.bob.key).json?["calls"] as? [Any])?.count == 1)
    }

    /// An endpoint may subscribe to voice events by Telnyx's names or the softphone's aliases.
    @Test func webhookEndpointsTakeVoiceEventsAndTheirAliases() async throws {
        let api = try await TestAPI(label: "api-voice-hooks")
        defer { api.stop() }
        let made = try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key, body: Array(
            #"{"url":"https://crm.example/calls","on_received":false,"on_sent":false,"on_failed":false,"events":["call.initiated","call.ended","recording.finished"]}"#.utf8))
        #expect(made.status == 201, "\(made.text)")
        let events = try #require(try api.service.store.read { try $0.webhooks(accountID: 1) }.first?.events)
        #expect(events == ["call.initiated", "call.ended", "recording.finished"])
        let bad = try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key,
                                        body: Array(#"{"url":"https://crm.example/x","events":["call.exploded"]}"#.utf8))
        #expect(bad.status == 400 && bad.errorMessage?.contains("'call.exploded' is not an event") == true, "\(bad.text)")
    }
}
