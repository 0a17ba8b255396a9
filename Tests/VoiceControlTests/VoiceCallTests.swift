import Delivery
import Engine
import FaxdTesting
import Foundation
import Lab
import Processing
import SIP
import Store
import Testing
import Voice

/// Voice calls end to end (issue 16): faxd as the engine with its HTTP API, SIPp as the far end's
/// SIP stack, a test-owned RTP socket as the far end's media (SIPp's SDP points at it), a real
/// webhook receiver that checks both signatures. Calls are driven only through the public
/// Telnyx-shaped API.
@Suite(.serialized) struct VoiceCallTests {
    /// One faxd with its API, a receiver, and alice subscribed to every voice event.
    final class Rig: Sendable {
        let api: TestAPI
        let receiver: ScriptServer
        let log: String
        let mediaDirectory: String

        init(_ label: String, trunks: [Trunk], voiceNumber: Bool = false, configure: @escaping @Sendable (inout FaxdConfiguration) -> Void = { _ in }) async throws {
            let hookPort = TestPorts.allocate().sip
            log = Fixtures.scratchDirectory("voice-e2e-\(label)") + "/hooks.jsonl"
            let secret = WebhookSignature.newSecret()
            receiver = try ScriptServer("webhook_receiver.py", [String(hookPort), secret, log])
            let media = Fixtures.scratchDirectory("voice-media-\(label)")
            mediaDirectory = media
            // A 600 Hz prompt of 20 s: what faxd plays to the far end.
            try Recording(channels: [VoicePrompt.tone(frequency: 600, seconds: 20).samples]).write(media + "/tone600.wav")
            api = try await TestAPI(label: label) {
                $0.trunks = trunks
                $0.delivery.pollIntervalMilliseconds = 100
                $0.delivery.allowPrivateTargets = true
                $0.voice.mediaDirectory = media
                configure(&$0)
            }
            let alice = api.alice.number
            try api.service.store.write { db in
                guard let account = try db.account(faxNumber: alice) else { return }
                _ = try db.insert(FaxWebhook(accountID: account.id, url: "http://127.0.0.1:\(hookPort)/calls", secret: secret,
                                             events: VoiceEventType.allCases.map(\.rawValue)))
                if voiceNumber { try db.setNumberMode(accountID: account.id, .voice) }
            }
            api.service.service.accountsChanged()
            let ready = await receiver.waitUntilReady()
            try #require(ready, "receiver: \(receiver.log)")
        }

        func stop() {
            api.stop()
            receiver.stop()
        }

        /// POST with alice's key; the reply's JSON.
        func post(_ path: String, _ body: [String: Any], key: String? = nil) async throws -> HTTPReply {
            let data = try JSONSerialization.data(withJSONObject: body)
            return try await api.request(.POST, path, token: key ?? api.alice.key, headers: [("Content-Type", "application/json")], body: Array(data))
        }

        func call(_ id: String) throws -> VoiceCall? {
            try api.service.store.read { try $0.voiceCall(callControlID: id) }
        }

        /// Waits (generously) until the call reaches `state`.
        func waitFor(_ id: String, _ state: VoiceCall.State, timeout: Double = 60) async throws -> VoiceCall {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let call = try call(id), call.state == state { return call }
                try await Task.sleep(for: .milliseconds(50))
            }
            let now = try call(id)
            Issue.record("call \(id) did not reach \(state) within \(timeout) s; it is \(now.map { "\($0.state)" } ?? "missing")")
            throw CancellationError()
        }

        struct Hook: Decodable {
            var id: String
            var event: String?
            var fax_ok: Bool
            var std_ok: Bool
            var status: Int
            var payload: [String: JSONValue]?
        }

        /// The webhooks received so far for call `id`.
        func hooks(_ id: String) -> [Hook] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONDecoder().decode(Hook.self, from: Data($0.utf8)) }
                .filter { $0.payload?["call_control_id"] == .string(id) }
        }

        /// Waits until `count` webhooks named `event` arrived for call `id`, then half a second
        /// more (nothing more may follow); returns all of the call's webhooks.
        func waitForHooks(_ id: String, _ event: String, count: Int = 1, timeout: Double = 60) async throws -> [Hook] {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline && hooks(id).filter({ $0.event == event }).count < count {
                try await Task.sleep(for: .milliseconds(100))
            }
            try await Task.sleep(for: .milliseconds(500))
            return hooks(id)
        }
    }

    enum JSONValue: Decodable, Equatable {
        case string(String), number(Double), bool(Bool), null, other
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(Double.self) { self = .number(n) } else if let s = try? c.decode(String.self) { self = .string(s) }
            else { self = .other }
        }
    }

    static func sippArguments(rtpPort: UInt16, talkMilliseconds: Int? = nil) -> [String] {
        ["-key", "rtpport", String(rtpPort)] + (talkMilliseconds.map { ["-d", String($0)] } ?? [])
    }

    // MARK: Outbound: dial, DTMF, playback, recording, hangup

    @Test func aDialledCallSendsDigitsRecordsBothDirectionsAndHangsUpWithEachWebhookOnce() async throws {
        try #require(SIPp.isInstalled, "sip-tester (SIPp) is required")
        let sippPort = TestPorts.allocate().sip
        let peer = try RTPPeer()
        defer { peer.stop() }
        let sipp = SIPp.launch(scenario: "uas_voice.xml", target: nil, localPort: sippPort, mediaPort: Int(peer.port) + 2,
                               timeout: 120, extraArguments: Self.sippArguments(rtpPort: peer.port))
        let rig = try await Rig("dial", trunks: [Trunk(name: "carrier", domain: "127.0.0.1:\(sippPort)")])
        defer { rig.stop() }
        peer.play(ToneMeter.tone(1000))

        let clientState = Data("{\"ticket\":42}".utf8).base64EncodedString()
        let dial = try await rig.post("/v2/calls", ["to": "+1 555 765 4321", "from": rig.api.alice.number, "client_state": clientState,
                                                    "timeout_secs": 60])
        #expect(dial.status == 200, "\(dial.text)")
        let id = try #require((dial.json?["data"] as? [String: Any])?["call_control_id"] as? String, "\(dial.text)")
        _ = try await rig.waitFor(id, .active)

        let recordFrom = Date()
        #expect(try await rig.post("/v2/calls/\(id)/actions/record_start", ["format": "wav", "channels": "dual"]).status == 200)
        #expect(try await rig.post("/v2/calls/\(id)/actions/playback_start", ["media_name": "tone600.wav"]).status == 200)
        let dtmf = try await rig.post("/v2/calls/\(id)/actions/send_dtmf", ["digits": "123#", "command_id": "dtmf-1"])
        #expect(dtmf.status == 200, "\(dtmf.text)")
        // The same command_id again within 5 minutes: answered the same, not sent twice.
        let again = try await rig.post("/v2/calls/\(id)/actions/send_dtmf", ["digits": "123#", "command_id": "dtmf-1"])
        #expect(again.status == 200 && again.text == dtmf.text, "\(again.text)")

        // 4 digits of 100 ms with 60 ms gaps: well under 2 s; wait generously, then a little
        // longer so a second copy would have arrived.
        let deadline = Date().addingTimeInterval(20)
        while peer.receivedDigits.count < 4 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .seconds(2))
        #expect(peer.receivedDigits == "123#", "RFC 4733 events seen by the far end: \(peer.eventPackets)")
        #expect(peer.eventPackets.filter(\.marker).count == 4, "one marker (event start) per digit")

        let hangup = try await rig.post("/v2/calls/\(id)/actions/hangup", [:])
        let talk = Date().timeIntervalSince(recordFrom)
        #expect(hangup.status == 200, "\(hangup.text)")
        let sippResult = await sipp.result()
        #expect(sippResult.status == 0, "SIPp: \(sippResult.output)")

        let hooks = try await rig.waitForHooks(id, "call.recording.saved")
        let names = hooks.compactMap(\.event)
        for name in ["call.initiated", "call.answered", "call.hangup", "call.recording.saved", "call.playback.started"] {
            #expect(names.filter { $0 == name }.count == 1, "\(name) once: \(names)")
        }
        let order = names.filter { ["call.initiated", "call.answered", "call.hangup"].contains($0) }
        #expect(order == ["call.initiated", "call.answered", "call.hangup"], "\(names)")
        #expect(hooks.allSatisfy { $0.fax_ok && $0.std_ok && $0.status == 200 }, "every webhook signed both ways and accepted")
        #expect(Set(hooks.map(\.id)).count == hooks.count, "one id per webhook")
        let ended = try #require(hooks.first { $0.event == "call.hangup" }?.payload)
        #expect(ended["hangup_cause"] == .string("normal_clearing") && ended["hangup_source"] == .string("caller"), "\(ended)")
        #expect(ended["client_state"] == .string(clientState), "client_state echoed")
        #expect(ended["direction"] == .string("outgoing") && ended["to"] == .string("15557654321"))

        // The recording: both directions, caller (faxd) left, callee right, as long as the talk.
        let call = try #require(try rig.call(id))
        #expect(call.state == .ended && call.hangupCause == .normalClearing)
        let path = try #require(call.recordingPath)
        let wav = try Recording.read(path)
        print("voice e2e: hooks \(names), digits \(peer.receivedDigits), wav \(wav.seconds) s, talk \(talk) s, shares",
              ToneMeter.share(of: 600, in: wav.channels[0][wav.channels[0].count / 4..<wav.channels[0].count * 3 / 4]),
              ToneMeter.share(of: 1000, in: wav.channels[1][wav.channels[1].count / 4..<wav.channels[1].count * 3 / 4]))
        #expect(wav.channels.count == 2)
        #expect(abs(wav.seconds - talk) <= 0.1, "WAV \(wav.seconds) s against \(talk) s from record_start to the hangup's answer")
        let middle = wav.channels.map { $0[$0.count / 4..<($0.count * 3 / 4)] }
        #expect(ToneMeter.share(of: 600, in: middle[0]) > 0.5, "left (caller, faxd) holds faxd's prompt")
        #expect(ToneMeter.share(of: 1000, in: middle[1]) > 0.5, "right (callee) holds what the far end sent")
        #expect(ToneMeter.share(of: 1000, in: middle[0]) < 0.1 && ToneMeter.share(of: 600, in: middle[1]) < 0.1, "no crosstalk")
        // The far end heard the prompt too.
        let heard = peer.receivedAudio
        #expect(ToneMeter.share(of: 600, in: heard[heard.count / 2..<heard.count * 3 / 4]) > 0.5)
        // And the application can fetch it.
        let fetched = try await rig.api.request(.GET, "/api/calls/\(id)/recording", token: rig.api.alice.key)
        #expect(fetched.status == 200 && fetched.body.count > 44 + 8000 * 4)
        let other = try await rig.api.request(.GET, "/api/calls/\(id)/recording", token: rig.api.bob.key)
        #expect(other.status == 404, "another tenant's recording is not there")
    }
}
