import ChildProcess
import Engine
import FaxdTesting
import Foundation
import Processing
import Store
import Testing

/// Draining a node (issue 19): OPTIONS says 200 while the node takes calls and 503 while it
/// drains or is full; new INVITEs get 503, a call in progress finishes, queued sends wait; the
/// `faxd drain` command drives it through the admin API.
@Suite struct DrainTests {
    /// A raw caller's live call survives the drain; OPTIONS and a new INVITE get 503 with
    /// Retry-After; `faxd drain --wait` returns 0 once the live call has ended; `--off` brings 200 back.
    @Test func drainRefusesNewCallsAndLetsALiveOneFinish() async throws {
        // The live call sends no RTP: the silence watchdog must not end it first.
        let api = try await TestAPI(label: "drain") { $0.media.silenceTimeoutSeconds = 120 }
        defer { api.stop() }
        let sip = api.service.sipPort
        let taking = try #require(try await SIPDialogCaller.options(to: sip), "no answer to OPTIONS")
        #expect(SIPWire.statuses(taking).first == 200, "\(taking)")
        #expect(SIPDialogCaller.header(taking, "Allow")?.contains("INVITE") == true, "nua still adds Allow: \(taking)")
        #expect(SIPDialogCaller.header(taking, "Accept") == "application/sdp", "\(taking)")

        let live = try SIPDialogCaller(via: sip, number: api.alice.number)
        let answered = try #require(try await live.invite(sdp: live.audioSDP()), "the call before the drain was not answered")
        #expect(SIPWire.statuses(answered).first == 200, "\(answered.prefix(200))")

        let executable = try #require(FaxdProcess.executable, "faxd is not built")
        var environment = ProcessInfo.processInfo.environment
        environment["FAXD_ADMIN_TOKEN"] = api.adminToken
        let drain = try ChildProcess(executable, ["drain", "--wait", "--url", "http://127.0.0.1:\(api.port)"],
                                     stdout: .capture, stderr: .capture, environment: environment)
        defer { if drain.isRunning { drain.stop(grace: 1) } }
        #expect(await Self.eventually(within: 60) { (try? await Self.drainState(api))?["draining"] as? Bool == true }, "faxd drain did not reach the daemon")

        let refusedOptions = try #require(try await SIPDialogCaller.options(to: sip))
        #expect(SIPWire.statuses(refusedOptions).first == 503, "\(refusedOptions)")
        #expect(SIPDialogCaller.header(refusedOptions, "Retry-After") == "60", "\(refusedOptions)")
        #expect(SIPDialogCaller.header(refusedOptions, "Warning")?.contains("draining") == true, "\(refusedOptions)")
        let late = try SIPDialogCaller(via: sip, number: api.alice.number)
        let refused = try #require(try await late.invite(sdp: late.audioSDP()), "no answer to the INVITE during the drain")
        #expect(SIPWire.statuses(refused).first == 503, "\(refused.prefix(300))")
        #expect(SIPDialogCaller.header(refused, "Retry-After") == "60", "\(refused)")
        #expect(SIPDialogCaller.header(refused, "Warning")?.contains("draining") == true, "\(refused)")

        // Inside the live call OPTIONS is a keepalive: 200 whatever the node's state.
        let keepalive = try #require(try await live.send("OPTIONS"), "no answer to OPTIONS inside the live call")
        #expect(SIPWire.statuses(keepalive).first == 200, "\(keepalive)")

        let status = try #require(try await api.request(.GET, "/admin/status", token: api.adminToken).json)
        #expect(status["draining"] as? Bool == true)
        #expect(status["availability"] as? String == "draining")
        #expect((status["active_calls"] as? Int ?? 0) >= 1, "the live call: \(status["active_calls"] ?? "-")")
        #expect(drain.isRunning, "faxd drain --wait returned while a call was live: \(drain.standardOutput)")
        #expect(try await api.request(.GET, "/metrics", token: api.adminToken).text.contains("\nfaxd_draining 1\n"))

        let bye = try #require(try await live.bye(), "no answer to the live call's BYE")
        #expect(SIPWire.statuses(bye).first == 200, "\(bye)")
        let exit = await drain.exit(timeout: 60)
        #expect(exit == 0, "faxd drain --wait: \(exit.map(String.init) ?? "still running"): \(drain.standardOutput) \(drain.standardError)")
        #expect(drain.standardOutput.contains("\"draining\":true"), "\(drain.standardOutput)")

        // Awaited, not waited for: a blocked cooperative thread could be the one the API needs to answer.
        let off = try ChildProcess(executable, ["drain", "--off", "--url", "http://127.0.0.1:\(api.port)"],
                                   stdout: .capture, stderr: .capture, environment: environment)
        let offExit = await off.exit(timeout: 60)
        #expect(offExit == 0, "faxd drain --off: \(offExit.map(String.init) ?? "still running"): \(off.standardOutput) \(off.standardError)")
        #expect(off.standardOutput.contains("\"availability\":\"taking\""), "\(off.standardOutput)")
        let again = try #require(try await SIPDialogCaller.options(to: sip))
        #expect(SIPWire.statuses(again).first == 200, "\(again)")
        // Every handle nua made for an OPTIONS (answered 200 or 503) or a call was released.
        let daemon = api.service.service.daemon
        #expect(await Self.eventually(within: 30) { daemon.status.sipHandles == 0 }, "sofia handles left: \(daemon.status.sipHandles)")
    }

    /// At sip.max_calls a node is full: OPTIONS and the next INVITE get 503 with Retry-After: 10,
    /// and OPTIONS says 200 again once the call ended.
    @Test func aFullNodeAnswersOptionsWith503() async throws {
        let api = try await TestAPI(label: "drain-full") {
            $0.media.silenceTimeoutSeconds = 120
            $0.sip.maxCalls = 1
        }
        defer { api.stop() }
        let sip = api.service.sipPort
        let first = try SIPDialogCaller(via: sip, number: api.alice.number)
        let answered = try #require(try await first.invite(sdp: first.audioSDP()))
        #expect(SIPWire.statuses(answered).first == 200, "\(answered.prefix(200))")
        let full = try #require(try await SIPDialogCaller.options(to: sip))
        #expect(SIPWire.statuses(full).first == 503, "\(full)")
        #expect(SIPDialogCaller.header(full, "Retry-After") == "10", "\(full)")
        #expect(try await Self.drainState(api)?["availability"] as? String == "full")
        let second = try SIPDialogCaller(via: sip, number: api.bob.number)
        let refused = try #require(try await second.invite(sdp: second.audioSDP()))
        #expect(SIPWire.statuses(refused).first == 503, "\(refused.prefix(300))")
        #expect(SIPDialogCaller.header(refused, "Warning")?.contains("sip.max_calls") == true, "\(refused)")
        _ = try await first.bye()
        #expect(await Self.eventually(within: 30) {
            (try? await SIPDialogCaller.options(to: sip)).flatMap { SIPWire.statuses($0).first } == 200
        }, "OPTIONS did not say 200 again after the call ended")
    }

    /// A draining node claims no queued send and places no voice call; the drain's end dials the send.
    @Test func queuedSendsWaitWhileDraining() async throws {
        let api = try await TestAPI.sending("drain-queue")
        defer { api.stop() }
        #expect(try await api.request(.POST, "/admin/drain", token: api.adminToken).status == 200)
        let dial = try await api.request(.POST, "/v2/calls", token: api.alice.key, headers: [("Content-Type", "application/json")],
                                         body: Array(#"{"to": "+1 555 765 4321", "from": "\#(api.alice.number)", "connection_id": "carrier"}"#.utf8))
        #expect(dial.status == 503 && dial.errorCode == "draining", "\(dial.status) \(dial.text)")
        let queued = try api.service.service.enqueue(SendRequest(account: api.alice.number, to: "15557654321", document: Fixtures.threePageLight))
        // Twenty scheduler ticks (100 ms) with the send due: none may dial it.
        let waited = await api.service.transmission(queued.uuid, timeout: 2) { $0.attempts > 0 }
        #expect(waited?.attempts == 0 && waited?.status == .queued, "a draining node dialled: \(String(describing: waited))")
        #expect(try await api.request(.DELETE, "/admin/drain", token: api.adminToken).status == 200)
        let dialled = await api.service.transmission(queued.uuid, timeout: 60) { $0.attempts > 0 }
        #expect(dialled?.attempts == 1, "the drain's end did not dial the send: \(String(describing: dialled))")
    }

    /// GET /admin/drain's JSON.
    static func drainState(_ api: TestAPI) async throws -> [String: Any]? {
        try await api.request(.GET, "/admin/drain", token: api.adminToken).json
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` have passed.
    static func eventually(within seconds: Double, _ condition: () async -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return await condition()
    }
}
