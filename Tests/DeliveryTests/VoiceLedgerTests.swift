import Delivery
import Engine
import FaxdTesting
import Foundation
import Processing
import Store
import Testing

/// Voice call events made durable (issue 16, first part): the state machine's records go to the
/// `voice_calls` row and, in the Telnyx envelope, through the existing outbox to a real receiver
/// that checks both signatures. No SIP yet: the events are applied as the SIP glue will.
@Suite struct VoiceLedgerTests {
    struct Request: Decodable {
        var id: String
        var event: String?
        var fax_ok: Bool
        var std_ok: Bool
        var status: Int
        var payload: [String: JSONValue]?
    }

    @Test func aCallsEventsReachTheReceiverOnceEachSignedInTheTelnyxEnvelope() async throws {
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("voice-hook") + "/requests.jsonl"
        let secret = WebhookSignature.newSecret()
        let receiver = try ScriptServer("webhook_receiver.py", [String(port), secret, log])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let ids = VoiceCallIDs.make()
        let service = try TestService(label: "voice-ledger", configure: {
            $0.delivery.pollIntervalMilliseconds = 100
            $0.delivery.allowPrivateTargets = true  // the receiver is on 127.0.0.1
        }, provision: { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            // The softphone's alias call.ended stands for call.hangup; fax.received is not asked for.
            _ = try db.insert(FaxWebhook(accountID: account.id, url: "http://127.0.0.1:\(port)/calls", secret: secret,
                                         events: ["call.initiated", "call.answered", "call.ended"]))
        })
        defer { service.stop() }
        // Inserted once the service runs: a live call found at start is one a restart interrupted (it gets its call.hangup).
        try service.store.write { db in
            let account = try #require(try db.account(faxNumber: "15551234567"))
            _ = try db.insert(VoiceCall(callControlID: ids.callControlID, callLegID: ids.callLegID, callSessionID: ids.callSessionID,
                                        accountID: account.id, direction: .outbound, fromNumber: "15551234567", toNumber: "15557654321"))
        }
        let ledger = VoiceLedger(store: service.store) { [delivery = service.service.delivery] in delivery.poke() }
        let call = try #require(try service.store.read { try $0.voiceCall(callControlID: ids.callControlID) })
        ledger.track(call)

        let dialed = try ledger.apply(.dialed, to: ids.callControlID)
        #expect(dialed.contains(.armNoAnswerTimer), "\(dialed)")
        try ledger.apply(.ringing(sipStatus: 180), to: ids.callControlID)
        try ledger.apply(.answered, to: ids.callControlID)
        #expect(try service.store.read { try $0.voiceCall(callControlID: ids.callControlID) }?.state == .active)
        // A command the state refuses changes nothing; one it allows comes back for the caller.
        #expect(throws: VoiceCommandError.self) { try ledger.command(.answer, clientState: nil, to: ids.callControlID) }
        let dtmf = try ledger.command(.sendDTMF(try DTMFSendString("123#"), durationMilliseconds: 250), clientState: nil, to: ids.callControlID)
        #expect(dtmf.count == 1, "\(dtmf)")
        try ledger.apply(.farEndHangup, to: ids.callControlID)
        try ledger.apply(.farEndHangup, to: ids.callControlID)  // a second BYE: nothing more
        #expect(ledger.tracked == 1, "an ended call is kept until forgotten: a recording may still be saved")
        ledger.forget(ids.callControlID)
        #expect(ledger.tracked == 0)

        let ended = try #require(try service.store.read { try $0.voiceCall(callControlID: ids.callControlID) })
        #expect(ended.state == .ended && ended.hangupCause == .normalClearing && ended.answeredAt != nil && ended.endedAt != nil)

        var seen: [Request] = []
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            seen = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n")
                .compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) } ?? []
            if seen.count >= 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .milliseconds(500))  // nothing more may follow
        seen = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n")
            .compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) } ?? []
        #expect(seen.map(\.event) == ["call.initiated", "call.answered", "call.hangup"], "\(seen.map(\.event))")
        #expect(seen.allSatisfy { $0.fax_ok && $0.std_ok && $0.status == 200 }, "signed, accepted")
        #expect(Set(seen.map(\.id)).count == 3, "one id per event")
        let hangup = try #require(seen.last?.payload)
        #expect(hangup["call_control_id"] == .string(ids.callControlID))
        #expect(hangup["hangup_cause"] == .string("normal_clearing") && hangup["hangup_source"] == .string("callee"), "\(hangup)")
    }
}
