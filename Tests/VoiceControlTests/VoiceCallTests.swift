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

        init(_ label: String, trunks: [Trunk], voiceNumber: Bool = false, mode: FaxAccount.NumberMode? = nil, configure: @escaping @Sendable (inout FaxdConfiguration) -> Void = { _ in }) async throws {
            let hookPort = TestPorts.port()
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
                if let mode = mode ?? (voiceNumber ? .voice : nil) { try db.setNumberMode(accountID: account.id, mode) }
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

    static func sippArguments(rtpPort: UInt16, talkMilliseconds: Int? = nil) -> [String] {
        ["-key", "rtpport", String(rtpPort)] + (talkMilliseconds.map { ["-d", String($0)] } ?? [])
    }

    // MARK: Outbound: dial, DTMF, playback, recording, hangup

    @Test func aDialledCallSendsDigitsRecordsBothDirectionsAndHangsUpWithEachWebhookOnce() async throws {
        try #require(SIPp.isInstalled, "sip-tester (SIPp) is required")
        let sippPort = TestPorts.port()
        let peer = try RTPPeer()
        defer { peer.stop() }
        let sipp = SIPp.launch(scenario: "uas_voice.xml", target: nil, localPort: sippPort, mediaPort: Int(TestPorts.allocate().rtp.lowerBound),
                               timeout: 120, extraArguments: Self.sippArguments(rtpPort: peer.port))
        try #require(await TestPorts.waitUntilBound(udpPort: sippPort), "SIPp did not start listening")
        let rig = try await Rig("dial", trunks: [Trunk(name: "carrier", domain: "127.0.0.1:\(sippPort)")])
        defer { rig.stop() }
        peer.play(ToneMeter.tone(1000))

        let clientState = Data("{\"ticket\":42}".utf8).base64EncodedString()
        let dial = try await rig.post("/v2/calls", ["to": "+1 555 765 4321", "from": rig.api.alice.number, "client_state": clientState,
                                                    "timeout_secs": 60])
        #expect(dial.status == 200, "\(dial.text)")
        let id = try #require((dial.json?["data"] as? [String: Any])?["call_control_id"] as? String, "\(dial.text)")
        _ = try await rig.waitFor(id, .active)

        let recordAsked = Date()
        #expect(try await rig.post("/v2/calls/\(id)/actions/record_start", ["format": "wav", "channels": "dual"]).status == 200)
        let recording = Date()
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

        let hangingUp = Date()
        let hangup = try await rig.post("/v2/calls/\(id)/actions/hangup", [:])
        // The recording surely covers [record_start answered, hangup asked] and at most
        // [record_start asked, hangup answered]; on a quiet machine the two differ by a few ms.
        let talkAtLeast = hangingUp.timeIntervalSince(recording), talk = Date().timeIntervalSince(recordAsked)
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
        print("voice e2e: hooks \(names), digits \(peer.receivedDigits), wav \(wav.seconds) s, talk \(talkAtLeast)...\(talk) s, tone shares",
              ToneMeter.share(of: 600, in: wav.channels[0][wav.channels[0].count / 4..<wav.channels[0].count * 3 / 4]),
              ToneMeter.share(of: 1000, in: wav.channels[1][wav.channels[1].count / 4..<wav.channels[1].count * 3 / 4]))
        #expect(wav.channels.count == 2)
        #expect(wav.seconds >= talkAtLeast - 0.06 && wav.seconds <= talk + 0.06,
                "WAV \(wav.seconds) s; the talk from record_start to the hangup was between \(talkAtLeast) and \(talk) s")
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

    // MARK: Hangup causes

    struct CauseCase: Sendable {
        var name: String
        var scenario: String
        var talkMilliseconds: Int?
        var timeoutSeconds: Int = 30
        /// Hang up through the API once the call reaches this state.
        var hangUpAt: VoiceCall.State?
        var cause: String
        var source: String
        var sip: String
    }

    @Test func hangupCausesAreRightForEachWayACallEnds() async throws {
        try #require(SIPp.isInstalled, "sip-tester (SIPp) is required")
        let outbound = [
            CauseCase(name: "callee BYE", scenario: "uas_voice_hangs_up.xml", talkMilliseconds: 1500, cause: "normal_clearing", source: "callee", sip: "unspecified"),
            CauseCase(name: "our CANCEL", scenario: "uas_no_answer.xml", hangUpAt: .ringing, cause: "originator_cancel", source: "caller", sip: "487"),
            CauseCase(name: "486", scenario: "uas_busy.xml", cause: "user_busy", source: "callee", sip: "486"),
            CauseCase(name: "480", scenario: "uas_unavailable.xml", cause: "timeout", source: "callee", sip: "480"),
            CauseCase(name: "no answer", scenario: "uas_no_answer.xml", timeoutSeconds: 2, cause: "timeout", source: "caller", sip: "unspecified"),
        ]
        let ports = outbound.map { _ in TestPorts.port() }
        let peers = try outbound.map { _ in try RTPPeer() }
        defer { peers.forEach { $0.stop() } }
        let runs = zip(outbound, zip(ports, peers)).map { c, pp in
            SIPp.launch(scenario: c.scenario, target: nil, localPort: pp.0, mediaPort: Int(TestPorts.allocate().rtp.lowerBound), timeout: 60,
                        extraArguments: Self.sippArguments(rtpPort: pp.1.port, talkMilliseconds: c.talkMilliseconds))
        }
        for (port, run) in zip(ports, runs) {
            try #require(await TestPorts.waitUntilBound(udpPort: port), "SIPp did not start listening on \(port): \(run.whyNotListening)")
        }
        let trunks = ports.enumerated().map { Trunk(name: "far\($0.offset)", domain: "127.0.0.1:\($0.element)") }
            + [Trunk(name: "loopback", inboundSources: [try AddressRange("127.0.0.0/8")])]
        let rig = try await Rig("causes", trunks: trunks, voiceNumber: true)
        defer { rig.stop() }

        var ids: [String] = []
        for (index, c) in outbound.enumerated() {
            let dial = try await rig.post("/v2/calls", ["to": "15557654321", "connection_id": "far\(index)", "timeout_secs": c.timeoutSeconds])
            #expect(dial.status == 200, "\(c.name): \(dial.text)")
            ids.append(try #require((dial.json?["data"] as? [String: Any])?["call_control_id"] as? String))
        }
        // The far ends calling in: one cancels before the answer (let ring: the application
        // does not answer it), then one that is answered and hangs up after 1.5 s.
        let aliceID = try #require(try rig.api.service.store.read { try $0.account(faxNumber: rig.api.alice.number) }).id
        func inboundCalls() throws -> [VoiceCall] {
            try rig.api.service.store.read { try $0.voiceCalls(accountID: aliceID) }.filter { $0.direction == .inbound }
        }
        let inboundPeer = try RTPPeer()
        defer { inboundPeer.stop() }
        let cancelling = SIPp.launch(scenario: "uac_cancel.xml", target: "127.0.0.1:\(rig.api.service.sipPort)", localPort: TestPorts.port(),
                                     mediaPort: Int(TestPorts.allocate().rtp.lowerBound), service: rig.api.alice.number, timeout: 60)
        let cancelResult = await cancelling.result()
        #expect(cancelResult.status == 0, "inbound SIPp (cancel): \(cancelResult.output)")
        let cancelledID = try #require(try inboundCalls().first?.callControlID, "the cancelled call was recorded")
        _ = try await rig.waitFor(cancelledID, .ended)
        let talking = SIPp.launch(scenario: "uac_voice.xml", target: "127.0.0.1:\(rig.api.service.sipPort)", localPort: TestPorts.port(),
                                  mediaPort: Int(TestPorts.allocate().rtp.lowerBound), service: rig.api.alice.number, timeout: 60,
                                  extraArguments: Self.sippArguments(rtpPort: inboundPeer.port, talkMilliseconds: 1500))

        for (c, id) in zip(outbound, ids) where c.hangUpAt != nil {
            _ = try await rig.waitFor(id, c.hangUpAt!)
            #expect(try await rig.post("/v2/calls/\(id)/actions/hangup", [:]).status == 200, "\(c.name)")
        }
        var talkingID: String?
        let deadline = Date().addingTimeInterval(60)
        while talkingID == nil && Date() < deadline {
            talkingID = try inboundCalls().first { $0.callControlID != cancelledID }?.callControlID
            if talkingID == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let answerID = try #require(talkingID, "the second inbound call was recorded; SIPp: \(talking.finished.map { "exit \($0.status): \($0.output.suffix(1500))" } ?? "still running")")
        let answer = try await rig.post("/v2/calls/\(answerID)/actions/answer", [:])
        #expect(answer.status == 200, "\(answer.text)")
        for (run, c) in zip(runs, outbound) {
            let result = await run.result()
            #expect(result.status == 0, "\(c.name): SIPp \(result.output)")
        }
        let talkResult = await talking.result()
        #expect(talkResult.status == 0, "inbound SIPp (answered): \(talkResult.output)")
        for (c, id) in zip(outbound, ids) {
            let hooks = try await rig.waitForHooks(id, "call.hangup", timeout: 30)
            let hangups = hooks.filter { $0.event == "call.hangup" }
            #expect(hangups.count == 1, "\(c.name): \(hooks.map(\.event))")
            let payload = hangups.first?.payload ?? [:]
            #expect(payload["hangup_cause"] == .string(c.cause) && payload["hangup_source"] == .string(c.source)
                    && payload["sip_hangup_cause"] == .string(c.sip), "\(c.name): \(payload)")
            #expect(hooks.first?.event == "call.initiated", "\(c.name): initiated first: \(hooks.map(\.event))")
        }
        let inbound = try inboundCalls()
        #expect(inbound.count == 2)
        for call in inbound {
            let hooks = try await rig.waitForHooks(call.callControlID, "call.hangup", timeout: 30)
            let payload = hooks.first { $0.event == "call.hangup" }?.payload ?? [:]
            if call.callControlID == answerID {
                #expect(payload["hangup_cause"] == .string("normal_clearing") && payload["hangup_source"] == .string("caller"), "\(payload)")
                #expect(hooks.compactMap(\.event) == ["call.initiated", "call.answered", "call.hangup"], "\(hooks.map(\.event))")
            } else {
                #expect(payload["hangup_cause"] == .string("originator_cancel") && payload["hangup_source"] == .string("caller")
                        && payload["sip_hangup_cause"] == .string("487"), "\(payload)")
                #expect(payload["direction"] == .string("incoming"))
            }
        }
    }

    // MARK: Digits from the far end

    /// DTMF as a telephone would sound it: each key 100 ms of its two frequencies (-10 dBm0
    /// each), 100 ms of silence after it. ITU-T Q.23
    static func inBandDTMF(_ digits: String) -> [Int16] {
        let rows: [Character: (Double, Double)] = [
            "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
            "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
            "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
            "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
        ]
        var samples: [Int16] = []
        for digit in digits {
            guard let (low, high) = rows[digit] else { continue }
            for n in 0..<800 {
                let t = Double(n) / 8000
                samples.append(Int16((5000 * sin(2 * .pi * low * t) + 5000 * sin(2 * .pi * high * t)).rounded()))
            }
            samples += [Int16](repeating: 0, count: 800)
        }
        return samples
    }

    @Test func digitsFromTheFarEndArriveOnceEachWhetherRFC4733OrInBand() async throws {
        try #require(SIPp.isInstalled, "sip-tester (SIPp) is required")
        let rig = try await Rig("digits", trunks: [Trunk(name: "loopback", inboundSources: [try AddressRange("127.0.0.0/8")])], voiceNumber: true)
        defer { rig.stop() }
        let peer = try RTPPeer()
        defer { peer.stop() }
        // An in-band recording of the same keys, played from a WAV as a phone would send it.
        let wavPath = rig.mediaDirectory + "/dtmf-1234#.wav"
        try Recording(channels: [Self.inBandDTMF("1234#")]).write(wavPath)
        let recorded = try Recording.read(wavPath).channels[0]
        let caller = SIPp.launch(scenario: "uac_voice.xml", target: "127.0.0.1:\(rig.api.service.sipPort)", localPort: TestPorts.port(),
                                 mediaPort: Int(TestPorts.allocate().rtp.lowerBound), service: rig.api.alice.number, timeout: 60,
                                 extraArguments: Self.sippArguments(rtpPort: peer.port, talkMilliseconds: 6000))
        let aliceID = try #require(try rig.api.service.store.read { try $0.account(faxNumber: rig.api.alice.number) }).id
        var id: String?
        let deadline = Date().addingTimeInterval(60)
        while id == nil && Date() < deadline {
            id = try rig.api.service.store.read { try $0.voiceCalls(accountID: aliceID) }.first?.callControlID
            if id == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let callID = try #require(id, "the inbound call was recorded")
        // Parked until the application answers: ringing, not active.
        #expect(try rig.call(callID)?.state == .ringing)
        #expect(try await rig.post("/v2/calls/\(callID)/actions/answer", ["client_state": "aW5ib3VuZA=="]).status == 200)
        _ = try await rig.waitFor(callID, .active)
        while !peer.hasRemote { try await Task.sleep(for: .milliseconds(20)) }
        peer.sendDigits("1234#")
        let rfc = try await rig.waitForHooks(callID, "call.dtmf.received", count: 5, timeout: 20)
        let rfcDigits = rfc.filter { $0.event == "call.dtmf.received" }.compactMap { hook -> String? in
            if case .string(let digit)? = hook.payload?["digit"] { return digit } else { return nil }
        }
        #expect(rfcDigits == ["1", "2", "3", "4", "#"], "RFC 4733: \(rfcDigits)")
        // Then the same keys in-band, from the recording.
        peer.play { frame in
            let start = frame * 160
            return start + 160 <= recorded.count ? Array(recorded[start..<start + 160]) : [Int16](repeating: 0, count: 160)
        }
        let all = try await rig.waitForHooks(callID, "call.dtmf.received", count: 10, timeout: 20)
        let digits = all.filter { $0.event == "call.dtmf.received" }.compactMap { hook -> String? in
            if case .string(let digit)? = hook.payload?["digit"] { return digit } else { return nil }
        }
        #expect(digits == ["1", "2", "3", "4", "#", "1", "2", "3", "4", "#"], "RFC 4733 then in-band: \(digits)")
        #expect(all.filter { $0.event == "call.dtmf.received" }.allSatisfy { $0.payload?["client_state"] == .string("aW5ib3VuZA==") },
                "the answer's client_state is echoed")
        let result = await caller.result()
        #expect(result.status == 0, "SIPp: \(result.output)")
        _ = try await rig.waitFor(callID, .ended)
    }

    // MARK: Bad commands

    @Test func aBadCommandGetsAClearRefusalAndChangesNothing() async throws {
        try #require(SIPp.isInstalled, "sip-tester (SIPp) is required")
        let sippPort = TestPorts.port()
        let peer = try RTPPeer()
        defer { peer.stop() }
        let sipp = SIPp.launch(scenario: "uas_voice.xml", target: nil, localPort: sippPort, mediaPort: Int(TestPorts.allocate().rtp.lowerBound),
                               timeout: 120, extraArguments: Self.sippArguments(rtpPort: peer.port))
        try #require(await TestPorts.waitUntilBound(udpPort: sippPort), "SIPp did not start listening")
        let rig = try await Rig("bad", trunks: [Trunk(name: "carrier", domain: "127.0.0.1:\(sippPort)")])
        defer { rig.stop() }

        // Bad dials: nothing is recorded.
        for (body, field) in [(["to": "12"], "to"), (["to": "15557654321", "from": "15550000000"], "from"),
                              (["to": "15557654321", "timeout_secs": 0], "timeout_secs"), (["to": "15557654321", "client_state": "not base64!"], "client_state"),
                              (["to": "15557654321", "connection_id": "nope"], "connection_id"), ([:], "to")] as [([String: Any], String)] {
            let reply = try await rig.post("/v2/calls", body)
            #expect(reply.status == 422 && reply.text.contains(field), "\(body): \(reply.status) \(reply.text)")
        }
        #expect(try rig.api.service.store.read { try $0.activeVoiceCalls() }.isEmpty)

        let dial = try await rig.post("/v2/calls", ["to": "15557654321"])
        let id = try #require((dial.json?["data"] as? [String: Any])?["call_control_id"] as? String, "\(dial.text)")
        let before = try #require(try rig.call(id))
        // Before the answer, a media command is refused and names why.
        let early = try await rig.post("/v2/calls/\(id)/actions/send_dtmf", ["digits": "1"])
        #expect([422].contains(early.status) && (early.errorMessage ?? "").contains("send_dtmf"), "\(early.text)")
        _ = try await rig.waitFor(id, .active)

        let cases: [(path: String, body: [String: Any], key: String?, status: Int, says: String)] = [
            ("/v2/calls/v3:nosuchcall/actions/hangup", [:], nil, 404, "not found"),
            ("/v2/calls/\(id)/actions/hangup", [:], rig.api.bob.key, 404, "not found"),
            ("/v2/calls/\(id)/actions/answer", [:], nil, 422, "outbound"),
            ("/v2/calls/\(id)/actions/send_dtmf", ["digits": "12x"], nil, 422, "'x' at position 3"),
            ("/v2/calls/\(id)/actions/send_dtmf", ["digits": "1", "duration_millis": 20], nil, 422, "duration_millis"),
            ("/v2/calls/\(id)/actions/record_stop", [:], nil, 422, "not being recorded"),
            ("/v2/calls/\(id)/actions/playback_start", ["media_name": "../../etc/passwd"], nil, 422, "plain file name"),
            ("/v2/calls/\(id)/actions/playback_start", ["media_name": "missing.wav"], nil, 422, "no file"),
            ("/v2/calls/\(id)/actions/bridge", ["call_control_id": "v3:other"], nil, 422, "bridge"),
            ("/v2/calls/\(id)/actions/fly", [:], nil, 404, "not an action"),
            ("/v2/calls/\(id)/actions/reject", ["cause": "MAYBE"], nil, 422, "CALL_REJECTED"),
        ]
        for c in cases {
            let data = try JSONSerialization.data(withJSONObject: c.body)
            let reply = try await rig.api.request(.POST, c.path, token: c.key ?? rig.api.alice.key,
                                                  headers: [("Content-Type", "application/json")], body: Array(data))
            #expect(reply.status == c.status && (reply.errorMessage ?? reply.text).lowercased().contains(c.says.lowercased()),
                    "\(c.path) \(c.body): \(reply.status) \(reply.text)")
        }
        let after = try #require(try rig.call(id))
        #expect(after.state == .active && after.recordingPath == nil && after.clientState == before.clientState && !after.muted)
        #expect(peer.eventPackets.isEmpty, "no digit was sent")
        #expect(try await rig.post("/v2/calls/\(id)/actions/hangup", [:]).status == 200)
        let result = await sipp.result()
        #expect(result.status == 0, "SIPp: \(result.output)")
        let hooks = try await rig.waitForHooks(id, "call.hangup")
        #expect(hooks.compactMap(\.event) == ["call.initiated", "call.answered", "call.hangup"], "refusals queue no webhooks: \(hooks.map(\.event))")
    }

    // MARK: Bridge, hold

    /// The share of `frequency` in what `peer` received during the next `seconds`.
    static func listen(_ peer: RTPPeer, for seconds: Double, _ frequency: Double) async throws -> Double {
        let from = peer.receivedAudio.count
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        let audio = peer.receivedAudio
        // Skip the first 200 ms: the jitter buffer and the bridge's tick still carry the state before.
        let start = min(audio.count, from + 1600)
        return ToneMeter.share(of: frequency, in: audio[start..<audio.count])
    }

    /// Two SIPp callees (trunks "a" and "b"), each with its own RTP peer, and a faxd with two
    /// shards (a leg dialled with link_to must follow the first onto its shard).
    static func twoCallees(_ label: String) async throws -> ([RTPPeer], [SIPp.Running], Rig) {
        try #require(SIPp.isInstalled, "sip-tester (SIPp) is required")
        let ports = [TestPorts.port(), TestPorts.port()]
        let peers = [try RTPPeer(), try RTPPeer()]
        let runs = zip(ports, peers).map { port, peer in
            SIPp.launch(scenario: "uas_voice.xml", target: nil, localPort: port, mediaPort: Int(TestPorts.allocate().rtp.lowerBound),
                        timeout: 120, extraArguments: sippArguments(rtpPort: peer.port))
        }
        for port in ports { try #require(await TestPorts.waitUntilBound(udpPort: port), "SIPp did not start listening on \(port)") }
        let rig = try await Rig(label, trunks: [Trunk(name: "a", domain: "127.0.0.1:\(ports[0])"), Trunk(name: "b", domain: "127.0.0.1:\(ports[1])")]) {
            $0.media.shards = 2
        }
        return (peers, runs, rig)
    }

    @Test func twoBridgedLegsHearEachOtherUntilHeldAndAgainAfterUnhold() async throws {
        let (peers, runs, rig) = try await Self.twoCallees("bridge")
        defer {
            peers.forEach { $0.stop() }
            rig.stop()
        }
        peers[0].play(ToneMeter.tone(1000))
        peers[1].play(ToneMeter.tone(1500))

        let a = try #require(((try await rig.post("/v2/calls", ["to": "15557654321", "connection_id": "a"])).json?["data"] as? [String: Any])?["call_control_id"] as? String)
        _ = try await rig.waitFor(a, .active)
        let b = try #require(((try await rig.post("/v2/calls", ["to": "15557654322", "connection_id": "b", "link_to": a])).json?["data"] as? [String: Any])?["call_control_id"] as? String)
        _ = try await rig.waitFor(b, .active)
        #expect(try rig.call(a)?.callSessionID == rig.call(b)?.callSessionID, "link_to joins the session")

        // Not bridged yet: each far end hears silence from faxd.
        #expect(try await Self.listen(peers[1], for: 1, 1000) < 0.1)
        let bridge = try await rig.post("/v2/calls/\(a)/actions/bridge", ["call_control_id": b])
        #expect(bridge.status == 200, "\(bridge.text)")
        async let heardAtB = Self.listen(peers[1], for: 1.5, 1000)
        async let heardAtA = Self.listen(peers[0], for: 1.5, 1500)
        let (atB, atA) = try await (heardAtB, heardAtA)
        #expect(atB > 0.5 && atA > 0.5, "bridged: A's tone at B \(atB), B's tone at A \(atA)")

        // Hold A's far end: B hears nothing of A, A hears the hold beep, not B.
        #expect(try await rig.post("/v2/calls/\(a)/actions/hold", [:]).status == 200)
        async let heldB = Self.listen(peers[1], for: 1.5, 1000)
        async let heldA = Self.listen(peers[0], for: 1.5, 1500)
        let (bWhileHeld, aWhileHeld) = try await (heldB, heldA)
        #expect(bWhileHeld < 0.1 && aWhileHeld < 0.1, "held: A's tone at B \(bWhileHeld), B's tone at A \(aWhileHeld)")
        #expect(try rig.call(a)?.held == true)
        #expect(try await rig.post("/v2/calls/\(a)/actions/unhold", [:]).status == 200)
        async let againB = Self.listen(peers[1], for: 1.5, 1000)
        async let againA = Self.listen(peers[0], for: 1.5, 1500)
        let (bAgain, aAgain) = try await (againB, againA)
        #expect(bAgain > 0.5 && aAgain > 0.5, "unheld: A's tone at B \(bAgain), B's tone at A \(aAgain)")

        for id in [a, b] { #expect(try await rig.post("/v2/calls/\(id)/actions/hangup", [:]).status == 200) }
        for run in runs {
            let result = await run.result()
            #expect(result.status == 0, "SIPp: \(result.output)")
        }
        for id in [a, b] {
            let hooks = try await rig.waitForHooks(id, "call.hangup")
            #expect(hooks.filter { $0.event == "call.bridged" }.count == 1, "\(hooks.map(\.event))")
        }
    }

    // MARK: auto numbers

    /// Speech-band audio that is not a recording: syllables of three drifting formant tones with
    /// a little noise, 200-300 ms on, 100 ms off. No 1100 Hz cadence, no V.21.
    static func speechLike(seconds: Double) -> [Int16] {
        var generator = SystemRandomNumberGenerator()
        var samples: [Int16] = []
        var t = 0.0
        while Double(samples.count) < seconds * 8000 {
            let length = Int.random(in: 1600...2400, using: &generator)
            let formants = [Double.random(in: 300...800, using: &generator), Double.random(in: 900...1050, using: &generator),
                            Double.random(in: 1500...2600, using: &generator)]
            for n in 0..<length {
                let envelope = sin(Double.pi * Double(n) / Double(length))
                let drift = 1 + 0.05 * sin(2 * .pi * 3 * t)
                let value = formants.enumerated().reduce(0.0) { sum, f in
                    sum + (3000 / Double(f.offset + 1)) * sin(2 * .pi * f.element * drift * t)
                } + Double.random(in: -300...300, using: &generator)
                samples.append(Int16(max(-32000, min(32000, envelope * value))))
                t += 1.0 / 8000
            }
            samples += [Int16](repeating: 0, count: 800)
            t += 0.1
        }
        return samples
    }

    @Test func anAutoNumberTakesAFaxRecordingAsAFaxAndKeepsSpeechAsVoice() async throws {
        try #require(SIPp.isInstalled, "sip-tester (SIPp) is required")
        let rig = try await Rig("auto", trunks: [Trunk(name: "loopback", inboundSources: [try AddressRange("127.0.0.0/8")])], mode: .auto) {
            $0.voice.faxDetectSeconds = 4
        }
        defer { rig.stop() }
        let aliceID = try #require(try rig.api.service.store.read { try $0.account(faxNumber: rig.api.alice.number) }).id
        let fax = try Recording.read(Fixtures.path("audio/ecm-clean.wav")).channels[0]  // the sender's side of a recorded fax call
        let speech = Self.speechLike(seconds: 12)

        var ids: [String] = []
        for (label, samples) in [("fax", fax), ("speech", speech)] {
            let peer = try RTPPeer()
            defer { peer.stop() }
            peer.play { frame in
                let start = frame * 160
                return start + 160 <= samples.count ? Array(samples[start..<start + 160]) : [Int16](repeating: 0, count: 160)
            }
            let caller = SIPp.launch(scenario: "uac_voice_until_bye.xml", target: "127.0.0.1:\(rig.api.service.sipPort)",
                                     localPort: TestPorts.port(), mediaPort: Int(TestPorts.allocate().rtp.lowerBound),
                                     service: rig.api.alice.number, timeout: 200, extraArguments: Self.sippArguments(rtpPort: peer.port))
            var id: String?
            let deadline = Date().addingTimeInterval(60)
            while id == nil && Date() < deadline {
                id = try rig.api.service.store.read { try $0.voiceCalls(accountID: aliceID) }.map(\.callControlID).first { !ids.contains($0) }
                if id == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            let callID = try #require(id, "\(label): the call was recorded")
            ids.append(callID)
            if label == "fax" {
                // faxd answers by itself, hears CNG, receives the fax and hangs up at its end.
                let result = await caller.result()
                #expect(result.status == 0, "SIPp (fax): \(result.output)")
                let received = try #require(await rig.api.service.transmission(callID, timeout: 60) { $0.status == .completed || $0.status == .failed })
                #expect(received.status == .completed && received.pagesTransferred == 3, "\(received.status) \(received.pagesTransferred)")
                #expect(PageCheck.compare(sent: Fixtures.threePageLight, received: try #require(received.filePath)) == [])
                let hooks = try await rig.waitForHooks(callID, "call.hangup")
                let detection = hooks.first { $0.event == "call.machine.detection.ended" }
                #expect(detection?.payload?["result"] == .string("fax"), "\(hooks.map(\.event))")
                #expect(hooks.compactMap(\.event) == ["call.initiated", "call.answered", "call.machine.detection.ended", "call.hangup"],
                        "\(hooks.map(\.event))")
            } else {
                // Speech: after the detection window the call is still a voice call the application ends.
                let hooks = try await rig.waitForHooks(callID, "call.machine.detection.ended", timeout: 30)
                #expect(hooks.first { $0.event == "call.machine.detection.ended" }?.payload?["result"] == .string("human"), "\(hooks.map(\.event))")
                #expect(try rig.call(callID)?.state == .active)
                #expect(try await rig.post("/v2/calls/\(callID)/actions/hangup", [:]).status == 200)
                let result = await caller.result()
                #expect(result.status == 0, "SIPp (speech): \(result.output)")
                #expect(try rig.api.service.store.read { try $0.transmission(uuid: callID) } == nil, "no fax record for a voice call")
                let after = try await rig.waitForHooks(callID, "call.hangup")
                #expect(after.filter { $0.event == "call.hangup" }.count == 1)
            }
        }
    }

    @Test func aTransferDialsTheNewPartyAndBridgesItWhenItAnswers() async throws {
        let (peers, runs, rig) = try await Self.twoCallees("transfer")
        defer {
            peers.forEach { $0.stop() }
            rig.stop()
        }
        peers[0].play(ToneMeter.tone(1000))
        peers[1].play(ToneMeter.tone(1500))
        let a = try #require(((try await rig.post("/v2/calls", ["to": "15557654321", "connection_id": "a"])).json?["data"] as? [String: Any])?["call_control_id"] as? String)
        _ = try await rig.waitFor(a, .active)
        let bad = try await rig.post("/v2/calls/\(a)/actions/transfer", ["to": "12"])
        #expect(bad.status == 422 && (bad.errorMessage ?? "").contains("to"), "\(bad.text)")
        // connection_id names the trunk of the new leg (the call's own when absent).
        let transfer = try await rig.post("/v2/calls/\(a)/actions/transfer", ["to": "15557654322", "connection_id": "b"])
        #expect(transfer.status == 200, "\(transfer.text)")
        let aliceID = try #require(try rig.api.service.store.read { try $0.account(faxNumber: rig.api.alice.number) }).id
        let b = try #require(try rig.api.service.store.read { try $0.voiceCalls(accountID: aliceID) }.first { $0.callControlID != a })
        #expect(b.callSessionID == (try rig.call(a))?.callSessionID && b.toNumber == "15557654322", "the new leg joins the session")
        _ = try await rig.waitFor(b.callControlID, .active)
        let bridged = try await rig.waitForHooks(b.callControlID, "call.bridged", timeout: 30)
        #expect(bridged.contains { $0.event == "call.bridged" }, "\(bridged.map(\.event))")
        async let heardAtB = Self.listen(peers[1], for: 1.5, 1000)
        async let heardAtA = Self.listen(peers[0], for: 1.5, 1500)
        let (atB, atA) = try await (heardAtB, heardAtA)
        #expect(atB > 0.5 && atA > 0.5, "transferred: A's tone at B \(atB), B's tone at A \(atA)")
        for id in [a, b.callControlID] { #expect(try await rig.post("/v2/calls/\(id)/actions/hangup", [:]).status == 200) }
        for run in runs {
            let result = await run.result()
            #expect(result.status == 0, "SIPp: \(result.output)")
        }
    }
}
