import FaxdTesting
import Foundation
import Testing

/// A connection flood against `faxd serve` run with a low descriptor limit (prlimit), as an
/// attacker would try it: hundreds of HTTP connections that never finish their headers. Before
/// issue 18 the daemon accepted them until it ran out of descriptors; HTTP and SIP over TCP then
/// stopped answering. Now each one is closed after `http.header_timeout_s`, at most
/// `http.max_connections` are held at once (the rest wait in the kernel's backlog), and the
/// daemon keeps answering HTTP and SIP over TCP throughout.
@Suite struct ResourceLimitTests {
    @Test func aFloodOfUnfinishedHTTPRequestsLeavesTheDaemonAnswering() async throws {
        let ports = TestPorts.allocate()
        let httpPort = Int(ports.rtp.upperBound)  // a TCP port of this test's own block (RTP is UDP)
        let data = Fixtures.scratchDirectory("fd-flood")
        let config = data + "/faxd.yaml"
        try "http:\n  header_timeout_s: 2\n  max_connections: 48\n".write(toFile: config, atomically: true, encoding: .utf8)
        let faxd = try #require(FaxdProcess.executable)
        let serve = try FaxdProcess(["--nofile=160:160", faxd, "serve", "--config", config, "--data-dir", data,
                                     "--http-listen", "127.0.0.1:\(httpPort)", "--sip-listen", "127.0.0.1:\(ports.sip)",
                                     "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound - 1)"],
                                    executable: "/usr/bin/prlimit")
        defer { serve.signal(SIGKILL) }
        try #require(await Self.healthy(httpPort, within: 120), "faxd serve never answered /healthz: \(serve.standardError())")

        // 200 connections, each with half a request head, held open: more than the daemon's
        // descriptors allow (160, of which it uses about 40 itself).
        var stale: [SIPStreamClient] = []
        for _ in 0..<200 {
            let client = try SIPStreamClient(target: httpPort)
            client.send(Array("GET /healthz HTTP/1.1\r\nHost: flood\r\nX-Slow: ".utf8))
            stale.append(client)
        }
        defer { stale.forEach { $0.close() } }

        // The daemon still answers HTTP (behind the flood's queue: 200 / 48 slots x 2 s) and SIP
        // over TCP, and is still running.
        #expect(await Self.healthy(httpPort, within: 90), "HTTP stopped answering: \(serve.standardError().suffix(2000))")
        let sip = try SIPStreamClient(target: ports.sip)
        sip.send(SIPWire.request("OPTIONS", "sip:127.0.0.1:\(ports.sip)", port: UInt16(sip.localPort), transport: "TCP", callID: "fd-flood"))
        let answer = try await sip.read(wait: 30) { $0.contains("SIP/2.0 200") }
        #expect(answer.hasPrefix("SIP/2.0 200"), "SIP over TCP during the flood: \(answer.prefix(200))")
        #expect(serve.isRunning)

        // Every stale connection was closed by the daemon, not left to hold a descriptor.
        var closed = 0
        for client in stale {
            try await client.read(wait: 30)
            if client.closedByPeer { closed += 1 }
        }
        #expect(closed == stale.count, "\(closed) of \(stale.count) unfinished requests were closed by faxd")
        #expect(serve.isRunning)
    }

    /// 400 INVITEs to a number nobody owns, as fast as one socket sends them: each is refused
    /// (404), but the log holds at most the burst of 50 refusals plus 10 a second, and a later line
    /// says how many were left out (before issue 18 every refusal wrote about 1.2 KB of log).
    @Test func aFloodOfRefusedInvitesIsNotAFloodOfLogLines() async throws {
        let ports = TestPorts.allocate()
        let data = Fixtures.scratchDirectory("log-flood")
        let log = data + "/serve.log"
        let serve = try FaxdProcess(["serve", "--data-dir", data, "--http-listen", "127.0.0.1:0", "--sip-listen", "127.0.0.1:\(ports.sip)",
                                     "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)"], logFile: log)
        defer { serve.signal(SIGKILL) }
        try #require(await TestPorts.waitUntilBound(udpPort: ports.sip), "faxd serve did not start listening")
        let sip = try SIPDatagramClient(target: ports.sip)
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
        let started = Date()
        var refused = 0
        for i in 0..<400 {
            sip.send(SIPWire.request("INVITE", "sip:19998887777@127.0.0.1:\(ports.sip)", port: sip.localPort, callID: "refuse-\(i)", body: sdp))
            if i % 50 == 49 {
                refused += try await sip.replies(wait: 0.2).flatMap(SIPWire.statuses).filter { $0 == 404 }.count
            }
        }
        refused += try await sip.replies(wait: 30) { replies in
            refused + replies.flatMap(SIPWire.statuses).filter { $0 == 404 }.count >= 400
        }.flatMap(SIPWire.statuses).filter { $0 == 404 }.count
        let elapsed = Date().timeIntervalSince(started)
        #expect(refused >= 395, "\(refused) of 400 INVITEs answered 404")
        // One more, a while later, carries the count of the lines left out.
        try await Task.sleep(for: .seconds(1))
        sip.send(SIPWire.request("INVITE", "sip:19998887777@127.0.0.1:\(ports.sip)", port: sip.localPort, callID: "refuse-last", body: sdp))
        _ = try await sip.replies(wait: 15) { $0.flatMap(SIPWire.statuses).contains(404) }
        serve.signal(SIGTERM)
        _ = await serve.exit(timeout: 30)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let rejected = text.components(separatedBy: "call rejected").count - 1
        let allowed = 50 + Int(elapsed * 10) + 15
        #expect(rejected >= 20 && rejected <= allowed, "\(rejected) refusal lines in \(elapsed) s (at most \(allowed))")
        #expect(text.contains("not_logged_before"), "the count of lines left out is logged")
        let outcomes = text.components(separatedBy: "call ended").count - 1
        #expect(outcomes <= rejected, "\(outcomes) outcome lines for \(rejected) refusal lines")
        print("refused INVITE flood: 401 refusals, \(rejected) logged, \(text.utf8.count) bytes of log")
    }

    /// A GET /healthz on a fresh connection answered 200 within `seconds`.
    static func healthy(_ port: Int, within seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let client = try? SIPStreamClient(target: port) {
                client.send(Array("GET /healthz HTTP/1.1\r\nHost: faxd\r\nConnection: close\r\n\r\n".utf8))
                let reply = (try? await client.read(wait: max(1, deadline.timeIntervalSinceNow)) { $0.contains("\r\n\r\n") }) ?? ""
                client.close()
                if reply.hasPrefix("HTTP/1.1 200") { return true }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }
}
