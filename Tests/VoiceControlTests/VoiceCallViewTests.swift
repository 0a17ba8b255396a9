import Foundation
@testable import Processing
import Store
import Testing

@Suite struct VoiceCallViewTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000) // 2027-01-15T08:00:00Z

    func record(state: VoiceCall.State) -> VoiceCall {
        var call = VoiceCall(callControlID: "v3:x", callLegID: "leg", callSessionID: "session", accountID: 1, direction: .outbound,
                             fromNumber: "+15551234567", toNumber: "+15557654321", state: state, now: t0)
        if state == .active || state == .ended { call.answeredAt = t0.addingTimeInterval(5) }
        if state == .ended {
            call.endedAt = t0.addingTimeInterval(55.4)
            call.durationSeconds = 50.4
        }
        return call
    }

    /// The object through JSON, as a client sees it.
    func roundTrip(_ object: [String: Any]) throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: object)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func callObject() throws {
        let ended = try #require(try roundTrip(VoiceCallView.call(record(state: .ended)))["data"] as? [String: Any])
        #expect(Set(ended.keys) == ["call_control_id", "call_leg_id", "call_session_id", "client_state", "is_alive", "call_duration",
                                    "start_time", "end_time", "record_type"])
        #expect(ended["call_control_id"] as? String == "v3:x" && ended["call_leg_id"] as? String == "leg"
                && ended["call_session_id"] as? String == "session")
        #expect(ended["client_state"] is NSNull)
        #expect(ended["is_alive"] as? Bool == false)
        #expect(ended["call_duration"] as? Int == 50)
        #expect(ended["start_time"] as? String == "2027-01-15T08:00:00.000Z")
        #expect(ended["end_time"] as? String == "2027-01-15T08:00:55.400Z")
        #expect(ended["record_type"] as? String == "call")

        var live = record(state: .active)
        live.clientState = "YQ=="
        let up = try #require(try roundTrip(VoiceCallView.call(live, now: t0.addingTimeInterval(65)))["data"] as? [String: Any])
        #expect(up["is_alive"] as? Bool == true && up["call_duration"] as? Int == 60 && up["end_time"] == nil)
        #expect(up["client_state"] as? String == "YQ==")
        let dialing = try #require(try roundTrip(VoiceCallView.call(record(state: .dialing), now: t0.addingTimeInterval(9)))["data"] as? [String: Any])
        #expect(dialing["is_alive"] as? Bool == true && dialing["call_duration"] as? Int == 0)
    }

    @Test func commandAnswers() throws {
        #expect(try roundTrip(VoiceCallView.commandResult)["data"] as? [String: String] == ["result": "ok"])
        let error = VoiceCommandError(.callNotActive, "mute: the call is still dialing; send it after call.answered")
        #expect(error.httpStatus == 422)
        let body = try roundTrip(VoiceCallView.error(error, command: "mute"))
        let first = try #require((body["errors"] as? [[String: String]])?.first)
        #expect(first == ["code": "call_not_active", "title": "mute refused", "detail": "mute: the call is still dialing; send it after call.answered"])
    }

    @Test func idsHaveTelnyxForms() {
        let ids = VoiceCallIDs.make()
        #expect(ids.callControlID.hasPrefix("v3:") && ids.callControlID.count == 3 + 43)
        #expect(ids.callControlID.dropFirst(3).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "URL-safe")
        #expect(UUID(uuidString: ids.callLegID) != nil && UUID(uuidString: ids.callSessionID) != nil)
        #expect(ids.callLegID == ids.callLegID.lowercased())
        let transfer = VoiceCallIDs.make(session: ids.callSessionID)
        #expect(transfer.callSessionID == ids.callSessionID && transfer.callLegID != ids.callLegID && transfer.callControlID != ids.callControlID)
        #expect(Set((0..<100).map { _ in VoiceCallIDs.make().callControlID }).count == 100)
    }
}
