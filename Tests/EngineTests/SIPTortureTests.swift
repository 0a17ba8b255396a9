import Engine
import FaxdTesting
import Foundation
import Synchronization
import SIP
import Testing

/// Hostile and broken SIP on real sockets: RFC 4475's torture messages over UDP and TCP, methods a
/// fax server does not take, oversized and half-sent messages, requests for other domains and an
/// OPTIONS flood during a fax. The daemon must answer where an answer is possible, carry on, and
/// keep no dialog, handle or connection behind.
@Suite struct SIPTortureTests {
    struct Message {
        var name: String
        var section: String
        var note: String
    }

    static let manifest: [Message] = {
        let text = (try? String(contentsOfFile: Fixtures.path("sip/rfc4475/MANIFEST.tsv"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return Message(name: f[0], section: f[1], note: f[5])
        }
    }()

    /// The first final status faxd (sofia-sip underneath) gives each message, over UDP and over
    /// TCP; nil: no response. Where faxd answers differently from the RFC's suggestion, why:
    /// - INVITEs to "user", "vivekg", "UserB"...: 404, the Request-URI user is not a phone number
    ///   (routing comes first; `invut` and `sdp01` are also sent to a DID below).
    /// - wsinv: 481, it carries a To tag for a dialog that does not exist.
    /// - REGISTER: 405 (not a registrar). MESSAGE: 405 (nua would have said 200).
    /// - intmeth, lwsruri: sofia's transport layer discards them as unparsable (no response).
    /// - badinv01: its Via is unusable, so there is nowhere to send a response.
    /// - clerr, baddn over TCP: the message is incomplete on a stream (Content-Length past the end,
    ///   no blank line), so sofia waits for the rest: the 10 s message timeout closes it.
    /// - inv2543 over TCP: no Content-Length on a stream: 400.
    /// - Responses (unreason, noreason, scalarlg, bigcode, bcast) match no transaction: dropped.
    static let expected: [String: (udp: Int?, tcp: Int?)] = [
        "wsinv": (481, 481), "intmeth": (nil, nil), "esc01": (404, 404), "escnull": (405, 405),
        "esc02": (501, 501), "lwsdisp": (200, 200), "longreq": (404, 404), "dblreq": (405, 405),
        "semiuri": (200, 200), "transports": (200, 200), "mpart01": (405, 405), "unreason": (nil, nil),
        "noreason": (nil, nil), "badinv01": (nil, nil), "clerr": (400, nil), "ncl": (400, 400),
        "scalar02": (400, 400), "scalarlg": (nil, nil), "quotbal": (400, 400), "ltgtruri": (400, 400),
        "lwsruri": (nil, nil), "lwsstart": (404, 404), "trws": (200, 200), "escruri": (404, 404),
        "baddate": (404, 404), "regbadct": (400, 400), "badaspec": (200, 200), "baddn": (400, nil),
        "badvers": (505, 505), "mismatch01": (400, 400), "mismatch02": (400, 400), "bigcode": (nil, nil),
        "badbranch": (200, 200), "insuf": (400, 400), "unkscm": (416, 416), "novelsc": (416, 416),
        "unksm2": (405, 405), "bext01": (420, 420), "invut": (404, 404), "regaut01": (405, 405),
        "multi01": (400, 400), "mcl01": (400, 400), "bcast": (nil, nil), "zeromf": (200, 200),
        "cparam01": (405, 405), "cparam02": (405, 405), "regescrt": (405, 405), "sdp01": (404, 404),
        "inv2543": (404, 400),
    ]

    static func firstFinal(_ statuses: [Int]) -> Int? { statuses.first { $0 >= 200 } }

    /// Sends one message in a datagram of its own from a fresh socket; the first final status.
    static func overUDP(_ message: [UInt8], to port: Int, expecting: Int?) async throws -> Int? {
        let client = try SIPDatagramClient(target: port)
        client.send(SIPWire.pointingTopVia(message, at: "127.0.0.1:\(client.localPort)", transport: "UDP"))
        // Wait for a final response, or long enough to be sure none comes.
        let replies = try await client.replies(wait: expecting == nil ? 0.5 : 10) { firstFinal($0.flatMap(SIPWire.statuses)) != nil }
        return firstFinal(replies.flatMap(SIPWire.statuses))
    }

    /// Sends one message on a TCP connection of its own, then closes it; the first final status.
    static func overTCP(_ message: [UInt8], to port: Int, expecting: Int?) async throws -> Int? {
        let client = try SIPStreamClient(target: port)
        defer { client.close() }
        client.send(SIPWire.pointingTopVia(message, at: "127.0.0.1:\(client.localPort)", transport: "TCP"))
        let text = try await client.read(wait: expecting == nil ? 0.5 : 10) { firstFinal(SIPWire.statuses($0)) != nil }
        return firstFinal(SIPWire.statuses(text))
    }

    static func options(from port: UInt16, callID: String, transport: String = "UDP") -> [UInt8] {
        SIPWire.request("OPTIONS", "sip:15551234567@127.0.0.1", port: port, transport: transport, callID: callID)
    }

    /// Every RFC 4475 message over UDP to one engine and over TCP to another (the same message on
    /// both would be a merged request, 482). Then: both still answer OPTIONS, no call, no sofia
    /// handle and no TCP connection is left (the TCP engine pings every 3 s here: that is what
    /// closes the connections sofia stopped reading).
    @Test func rfc4475MessagesOverUDPAndTCP() async throws {
        #expect(Self.manifest.count == 49 && Set(Self.manifest.map(\.name)) == Set(Self.expected.keys))
        let udpEngine = try TestEngine(label: "torture-udp")
        let tcpEngine = try TestEngine(label: "torture-tcp") { $0.sip.tcpKeepaliveSeconds = 3 }
        defer {
            udpEngine.stop()
            tcpEngine.stop()
        }
        var wrong: [String] = []
        for message in Self.manifest {
            let bytes = SIPWire.fixture(message.name)
            #expect(!bytes.isEmpty, "fixtures/sip/rfc4475/\(message.name).sip")
            let want = Self.expected[message.name]!
            async let udp = Self.overUDP(bytes, to: udpEngine.sipPort, expecting: want.udp)
            async let tcp = Self.overTCP(bytes, to: tcpEngine.sipPort, expecting: want.tcp)
            let (gotUDP, gotTCP) = try await (udp, tcp)
            if gotUDP != want.udp || gotTCP != want.tcp {
                wrong.append("\(message.name) (\(message.section)): UDP \(gotUDP.map(String.init) ?? "none") want \(want.udp.map(String.init) ?? "none"), "
                    + "TCP \(gotTCP.map(String.init) ?? "none") want \(want.tcp.map(String.init) ?? "none"); RFC: \(message.note)")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.joined(separator: "\n"))")

        // Still up on both transports.
        let udp = try SIPDatagramClient(target: udpEngine.sipPort)
        udp.send(Self.options(from: udp.localPort, callID: "after-torture"))
        #expect(Self.firstFinal(try await udp.replies(wait: 10) { !$0.isEmpty }.flatMap(SIPWire.statuses)) == 200)
        let tcp = try SIPStreamClient(target: tcpEngine.sipPort)
        tcp.send(Self.options(from: UInt16(tcp.localPort), callID: "after-torture", transport: "TCP"))
        #expect(Self.firstFinal(SIPWire.statuses(try await tcp.read(wait: 10) { $0.contains("\r\n\r\n") })) == 200)
        tcp.close()

        // Nothing left behind. The 404s to INVITEs wait for an ACK that never comes: their
        // transactions end after Timer H (32 s); the TCP connections sofia stopped reading close
        // at the first keepalive ping.
        for engine in [udpEngine, tcpEngine] {
            #expect(await settles(within: 45) { engine.daemon.orchestrator.activeCalls == 0 && engine.daemon.orchestrator.agent.liveHandles == 0 },
                    "calls \(engine.daemon.orchestrator.activeCalls), handles \(engine.daemon.orchestrator.agent.liveHandles)")
        }
        #expect(await settles(within: 20) { TCPConnections.open(localPort: tcpEngine.sipPort) == 0 },
                "connections still open: \(TCPConnections.states(localPort: tcpEngine.sipPort))")
        #expect(udpEngine.outcomes.outcomes.allSatisfy { !$0.success && $0.sipStatus >= 400 }, "no torture INVITE became a call")
    }

    /// invut and sdp01 with the Request-URI pointed at a DID, so they reach the offer checks: a
    /// body that is not SDP gets 415 with Accept, an Accept that rules out SDP gets 406. And a
    /// multipart/mixed offer (SDP beside ISUP, as SIP-I carriers send) is answered.
    @Test func offersFaxdCannotAnswerAreRefused() async throws {
        let engine = try TestEngine(label: "torture-offers")
        defer { engine.stop() }
        func toDID(_ name: String) -> [UInt8] {
            SIPWire.bytes(SIPWire.latin1(SIPWire.fixture(name))
                .replacingOccurrences(of: "INVITE sip:user@example.com SIP/2.0", with: "INVITE sip:15551234567@example.com SIP/2.0"))
        }
        let client = try SIPDatagramClient(target: engine.sipPort)
        client.send(SIPWire.pointingTopVia(toDID("invut"), at: "127.0.0.1:\(client.localPort)"))
        let invut = try await client.replies(wait: 10) { Self.firstFinal($0.flatMap(SIPWire.statuses)) != nil }
        #expect(Self.firstFinal(invut.flatMap(SIPWire.statuses)) == 415)
        #expect(invut.contains { $0.contains("\r\nAccept: application/sdp\r\n") }, "\(invut)")
        let other = try SIPDatagramClient(target: engine.sipPort)
        other.send(SIPWire.pointingTopVia(toDID("sdp01"), at: "127.0.0.1:\(other.localPort)"))
        let sdp01 = try await other.replies(wait: 10) { Self.firstFinal($0.flatMap(SIPWire.statuses)) != nil }
        #expect(Self.firstFinal(sdp01.flatMap(SIPWire.statuses)) == 406)
        #expect(sdp01.contains { $0.contains("Warning: 399") }, "\(sdp01)")

        let multipart = try SIPDatagramClient(target: engine.sipPort)
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
        let body = "--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n\(sdp)\r\n--unique-boundary-1\r\nContent-Type: application/ISUP;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\u{01}\u{00}\u{49}\r\n--unique-boundary-1--\r\n"
        multipart.send(SIPWire.request("INVITE", "sip:15551234567@127.0.0.1", port: multipart.localPort, callID: "multipart-offer",
                                       contentType: "multipart/mixed;boundary=unique-boundary-1", body: body))
        let answered = try await multipart.replies(wait: 10) { Self.firstFinal($0.flatMap(SIPWire.statuses)) != nil }
        #expect(Self.firstFinal(answered.flatMap(SIPWire.statuses)) == 200, "\(answered)")
        #expect(answered.contains { $0.contains("m=audio ") && $0.contains("RTP/AVP 8") }, "answered the SDP part, PCMA")
    }

    /// An offer with several streams gets an answer line for line (RFC 3264 section 6): the one
    /// faxd takes in its place, the others declined with port 0 in theirs.
    @Test func aMultiStreamOfferIsAnsweredLineForLine() async throws {
        let engine = try TestEngine(label: "torture-multistream")
        defer { engine.stop() }
        let client = try SIPDatagramClient(target: engine.sipPort)
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "m=video 40002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
            + "m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
            + "m=audio 40004 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
        client.send(SIPWire.request("INVITE", "sip:15551234567@127.0.0.1", port: client.localPort, callID: "multistream", body: sdp))
        let replies = try await client.replies(wait: 10) { Self.firstFinal($0.flatMap(SIPWire.statuses)) != nil }
        let ok = try #require(replies.first { SIPWire.statuses($0).first == 200 }, "\(replies)")
        let lines = ok.components(separatedBy: "\r\n").filter { $0.hasPrefix("m=") }
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first == "m=video 0 RTP/AVP 96")
        #expect(lines.dropFirst().first == "m=audio 0 RTP/AVP 18")
        #expect(lines.last?.hasPrefix("m=audio ") == true && lines.last?.hasPrefix("m=audio 0 ") == false && lines.last?.contains("RTP/AVP 8") == true,
                "\(lines)")
    }

    /// Methods a fax server does not take, and in-dialog methods with no dialog. Everything not in
    /// faxd's Allow gets 405 with it: MESSAGE and REFER too (nua would accept both, and for REFER
    /// send NOTIFYs to whoever asked); every handle sofia made for them is released.
    @Test func methodsAFaxServerDoesNotTake() async throws {
        let engine = try TestEngine(label: "torture-methods")
        defer { engine.stop() }
        let expected: [(String, Int)] = [
            ("MESSAGE", 405), ("REFER", 405), ("PUBLISH", 405), ("REGISTER", 405), ("SUBSCRIBE", 405),
            ("NOTIFY", 405), ("UPDATE", 481), ("PRACK", 481), ("BYE", 481), ("CANCEL", 481), ("FOO", 501),
        ]
        for (method, status) in expected {
            let client = try SIPDatagramClient(target: engine.sipPort)
            let extra = method == "REFER" ? "Refer-To: <sip:15550009999@198.51.100.1>\r\n"
                : ["SUBSCRIBE", "NOTIFY", "PUBLISH"].contains(method) ? "Event: presence\r\nSubscription-State: active\r\n" : ""
            client.send(SIPWire.request(method, "sip:15551234567@127.0.0.1", port: client.localPort, callID: "method-\(method)",
                                        headers: extra))
            let replies = try await client.replies(wait: 10) { Self.firstFinal($0.flatMap(SIPWire.statuses)) != nil }
            #expect(Self.firstFinal(replies.flatMap(SIPWire.statuses)) == status, "\(method): \(replies.map { $0.prefix(40) })")
            if status == 405 {
                #expect(replies.contains { $0.contains("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO\r\n") }, "\(method): \(replies)")
            }
            if method == "REFER" {
                // Nothing but the responses: no NOTIFY comes back.
                let later = try await client.replies(wait: 1)
                #expect(later.allSatisfy { $0.hasPrefix("SIP/2.0 ") }, "\(later)")
            }
        }
        #expect(await settles(within: 10) { engine.daemon.orchestrator.agent.liveHandles == 0 },
                "handles \(engine.daemon.orchestrator.agent.liveHandles)")
    }

    /// CRLF keepalive pings: a live TCP connection gets them, ignores them and stays usable; one
    /// whose peer left after a message sofia stopped reading (a stray response) is closed by them.
    @Test func keepalivePingsKeepLiveConnectionsAndCloseDeadOnes() async throws {
        let engine = try TestEngine(label: "torture-keepalive") { $0.sip.tcpKeepaliveSeconds = 2 }
        defer { engine.stop() }
        let live = try SIPStreamClient(target: engine.sipPort)
        live.send(Self.options(from: UInt16(live.localPort), callID: "live-1", transport: "TCP"))
        _ = try await live.read(wait: 10) { $0.contains("\r\n\r\n") }
        let dead = try SIPStreamClient(target: engine.sipPort)
        dead.send(SIPWire.fixture("bigcode"))
        _ = try await dead.read(wait: 0.5)
        dead.close()
        try await Task.sleep(for: .seconds(5))
        let text = try await live.read(wait: 0.1)
        #expect(!live.closedByPeer)
        #expect(text.hasSuffix("\r\n\r\n\r\n\r\n") || text.components(separatedBy: "\r\n\r\n").count > 2, "pings arrived")
        live.send(Self.options(from: UInt16(live.localPort), callID: "live-2", transport: "TCP"))
        let after = try await live.read(wait: 10) { $0.contains("CSeq: 1 OPTIONS\r\n") && $0.components(separatedBy: "SIP/2.0 200").count > 2 }
        #expect(after.components(separatedBy: "SIP/2.0 200").count == 3, "the second OPTIONS was answered on the same connection")
        #expect(await settles(within: 10) { TCPConnections.open(localPort: engine.sipPort) == 1 },
                "only the live connection is left: \(TCPConnections.states(localPort: engine.sipPort))")
    }

    /// Too big, half sent, lying about its length: a 200 KB INVITE over TCP gets 413 and the
    /// connection is closed; a peer that stops mid-message is cut off after 10 s; a UDP datagram
    /// of 60 KB is still a message (it fits the 64 KiB limit) and is answered. Then the daemon
    /// takes a normal request.
    @Test func oversizedAndHalfSentMessages() async throws {
        let engine = try TestEngine(label: "torture-size")
        defer { engine.stop() }
        let big = try SIPStreamClient(target: engine.sipPort)
        let body = String(repeating: "a=x-padding\r\n", count: 16000)
        big.send(Array(("INVITE sip:15551234567@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:\(big.localPort);branch=z9hG4bK-big\r\n"
            + "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:15551234567@127.0.0.1>\r\nCall-ID: big-tcp\r\nCSeq: 1 INVITE\r\n"
            + "Content-Type: application/sdp\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)").utf8))
        let reply = try await big.read(wait: 10)
        #expect(Self.firstFinal(SIPWire.statuses(reply)) == 413, "\(reply.prefix(200))")
        _ = try await big.read(wait: 5)
        #expect(big.closedByPeer)

        let slow = try SIPStreamClient(target: engine.sipPort)
        slow.send(Array("INVITE sip:15551234567@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:\(slow.localPort);branch=z9hG4bK-slow\r\n".utf8))
        let started = Date()
        _ = try await slow.read(wait: 30)
        let held = Date().timeIntervalSince(started)
        #expect(slow.closedByPeer && held > 8 && held < 25, "closed \(slow.closedByPeer) after \(held) s")

        let udp = try SIPDatagramClient(target: engine.sipPort)
        var large = Self.options(from: udp.localPort, callID: "large-udp")
        large.removeLast(2)
        large += Array("X-Padding: \(String(repeating: "p", count: 60000))\r\n\r\n".utf8)
        udp.send(large)
        #expect(Self.firstFinal(try await udp.replies(wait: 10) { !$0.isEmpty }.flatMap(SIPWire.statuses)) == 200)
        udp.send(Self.options(from: udp.localPort, callID: "after-size"))
        #expect(Self.firstFinal(try await udp.replies(wait: 10) { !$0.isEmpty }.flatMap(SIPWire.statuses)) == 200)
        #expect(await settles(within: 15) { TCPConnections.open(localPort: engine.sipPort) == 0 })
    }

    /// With sip.domains set, an INVITE for another host gets 404 naming it; the configured domain
    /// and the listen address are taken.
    @Test func requestsForOtherDomainsAreRefused() async throws {
        let engine = try TestEngine(label: "torture-domains") { $0.sip.domains = ["fax.example.com"] }
        defer { engine.stop() }
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
        func invite(_ host: String, _ client: SIPDatagramClient) async throws -> [String] {
            client.send(SIPWire.request("INVITE", "sip:15551234567@\(host)", port: client.localPort, callID: "domain-\(host)", body: sdp))
            return try await client.replies(wait: 10) { Self.firstFinal($0.flatMap(SIPWire.statuses)) != nil }
        }
        let other = try await invite("carrier.example.net", try SIPDatagramClient(target: engine.sipPort))
        #expect(Self.firstFinal(other.flatMap(SIPWire.statuses)) == 404)
        #expect(other.contains { $0.contains("carrier.example.net is not a domain served here") }, "\(other)")
        for host in ["FAX.example.com", "127.0.0.1:\(engine.sipPort)"] {
            let taken = try await invite(host, try SIPDatagramClient(target: engine.sipPort))
            #expect(Self.firstFinal(taken.flatMap(SIPWire.statuses)) == 200, "\(host): \(taken.map { $0.prefix(30) })")
        }
    }

    /// 1,000 OPTIONS a second from one source for the whole of a fax between two engines (a
    /// carrier pings once every 30-60 s): nearly all answered, and the fax goes through
    /// page-perfect. (3,000 a second passed too, but loaded CI's two cores for the other tests.)
    @Test func anOptionsFloodDoesNotDisturbACallInProgress() async throws {
        let receiver = try TestEngine(label: "flood-rx")
        let sender = try TestEngine(label: "flood-tx")
        defer {
            sender.stop()
            receiver.stop()
        }
        let flood = try SIPDatagramClient(target: receiver.sipPort)
        let running = Atomic<Bool>(true)
        let counts = Mutex<(sent: Int, answered: Int)>((0, 0))
        let port = flood.localPort
        let thread = Thread {
            var i = 0
            var next = Date()
            while running.load(ordering: .relaxed) {
                for _ in 0..<10 {
                    flood.send(Self.options(from: port, callID: "flood-\(i)"))
                    i += 1
                }
                counts.withLock { $0.sent = i }
                while let datagram = flood.receive() {
                    if datagram.count > 12, datagram[8] == UInt8(ascii: "2"), datagram[9] == UInt8(ascii: "0"), datagram[10] == UInt8(ascii: "0") {
                        counts.withLock { $0.answered += 1 }
                    }
                }
                next += 0.01
                Thread.sleep(until: next)
            }
        }
        thread.start()
        defer { running.store(false, ordering: .relaxed) }
        let outcome = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "15551234567"),
                                                                  document: Fixtures.threePageLight,
                                                                  options: sender.daemon.configuration.fax.options)))
        let received = try #require(await receiver.outcomes.next(count: 1, timeout: 30).first)
        running.store(false, ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(300))
        let (sent, answered) = counts.withLock { $0 }
        print("OPTIONS flood during a fax: \(sent) sent, \(answered) answered; fax \(outcome.success ? "ok" : outcome.t30Name) in \(String(format: "%.1f", outcome.durationSeconds)) s")
        #expect(outcome.success && received.success, "\(outcome.t30Name) / \(received.t30Name)")
        #expect(received.pagesTransferred == 3)
        #expect(PageCheck.compare(sent: Fixtures.threePageLight, received: try #require(received.file)) == [])
        #expect(sent > 10_000)
        #expect(Double(answered) > Double(sent) * 0.9, "\(answered) of \(sent) answered")
        #expect(await settles(within: 10) { receiver.daemon.orchestrator.agent.liveHandles == 0 })
    }
}

/// Polls `condition` every 100 ms until it holds or `seconds` pass, without blocking a thread.
func settles(within seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return condition()
}

/// T.38 re-INVITEs at awkward moments, from a caller written out by hand on a raw socket: in the
/// early dialog (after 180, before faxd's 200), twice in a row, two at once, and without an offer.
/// faxd must answer
/// each correctly and end up on one T.38 stream with nothing leaked.
@Suite struct T38ReinviteTimingTests {
    final class Caller {
        let client: SIPDatagramClient
        let target: Int
        let callID = "t38-timing-\(UInt32.random(in: 0...UInt32.max))"
        var toTag = ""
        var mediaPort = 40000
        var buffered: [String] = []

        init(target: Int) throws {
            client = try SIPDatagramClient(target: target)
            self.target = target
        }

        func audioSDP(_ version: Int) -> String {
            "v=0\r\no=caller 1 \(version) IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(mediaPort) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        }

        func imageSDP(_ version: Int) -> String {
            "v=0\r\no=caller 1 \(version) IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=image \(mediaPort) udptl t38\r\n"
                + "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxDatagram:200\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"
        }

        func request(_ method: String, cseq: Int, sdp: String? = nil) -> [UInt8] {
            let to = toTag.isEmpty ? "" : ";tag=\(toTag)"
            var text = "\(method) sip:15551234567@127.0.0.1:\(target) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(client.localPort);branch=z9hG4bK-\(callID)-\(cseq)-\(method)\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:15550001111@127.0.0.1>;tag=caller\r\nTo: <sip:15551234567@127.0.0.1>\(to)\r\nCall-ID: \(callID)\r\n"
                + "CSeq: \(cseq) \(method)\r\nContact: <sip:15550001111@127.0.0.1:\(client.localPort)>\r\n"
            if let sdp {
                text += "Content-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
            } else {
                text += "Content-Length: 0\r\n\r\n"
            }
            return Array(text.utf8)
        }

        func send(_ method: String, cseq: Int, sdp: String? = nil) { client.send(request(method, cseq: cseq, sdp: sdp)) }

        /// Waits for a response to `cseq`/`method` with a status matching `wanted`; keeps the others.
        func response(cseq: Int, _ method: String, _ wanted: (Int) -> Bool, wait: Double = 30) async throws -> String? {
            let key = "CSeq: \(cseq) \(method)\r\n"
            func take() -> String? {
                guard let i = buffered.firstIndex(where: { $0.contains(key) && SIPWire.statuses($0).first.map(wanted) == true }) else { return nil }
                return buffered.remove(at: i)
            }
            if let found = take() { return found }
            let deadline = Date().addingTimeInterval(wait)
            while Date() < deadline {
                buffered += try await client.replies(wait: 0.05)
                if let found = take() { return found }
            }
            return nil
        }

        /// Every response to `cseq`/`method` received so far, as status codes.
        func statuses(cseq: Int, _ method: String) -> [Int] {
            buffered.filter { $0.contains("CSeq: \(cseq) \(method)\r\n") }.flatMap(SIPWire.statuses)
        }
    }

    @Test func reinvitesInTheEarlyDialogTwiceInARowAndTwoAtOnce() async throws {
        let engine = try TestEngine(label: "t38-timing") {
            $0.sip.answerDelayMilliseconds = 5000  // the early re-INVITE must land before the 200, however loaded
            $0.t38.silenceTimeoutSeconds = 30
            $0.media.silenceTimeoutSeconds = 30
        }
        defer { engine.stop() }
        let caller = try Caller(target: engine.sipPort)

        // 1. INVITE with audio; 180 comes at once, 200 after 5 s.
        caller.send("INVITE", cseq: 1, sdp: caller.audioSDP(1))
        let ringing = try #require(try await caller.response(cseq: 1, "INVITE") { $0 == 180 }, "no 180")
        let toLine = try #require(ringing.components(separatedBy: "\r\n").first { $0.hasPrefix("To:") })
        caller.toTag = String(try #require(toLine.components(separatedBy: "tag=").last))

        // 2. A T.38 re-INVITE in the early dialog, before faxd's 200: refused with 500 and
        //    Retry-After (RFC 3261 section 14.2), the call itself goes on.
        caller.send("INVITE", cseq: 2, sdp: caller.imageSDP(2))
        let early = try #require(try await caller.response(cseq: 2, "INVITE") { $0 >= 200 }, "no answer to the early re-INVITE")
        #expect(SIPWire.statuses(early).first == 500 && early.contains("Retry-After: "), "\(early.prefix(300))")
        let ok = try #require(try await caller.response(cseq: 1, "INVITE") { $0 == 200 }, "the call was not answered")
        #expect(ok.contains("m=audio "))
        caller.send("ACK", cseq: 1)

        // 3. Now the T.38 re-INVITE: answered with an image stream.
        caller.send("INVITE", cseq: 3, sdp: caller.imageSDP(3))
        let first = try #require(try await caller.response(cseq: 3, "INVITE") { $0 >= 200 })
        #expect(SIPWire.statuses(first).first == 200 && first.contains("m=image "), "\(first.prefix(300))")
        caller.send("ACK", cseq: 3)

        // 4. The same re-INVITE again right away (a gateway that lost our 200, or just repeats
        //    itself), with a new media port: answered 200 with the same image stream of ours.
        caller.mediaPort = 40010
        caller.send("INVITE", cseq: 4, sdp: caller.imageSDP(4))
        let second = try #require(try await caller.response(cseq: 4, "INVITE") { $0 >= 200 })
        #expect(SIPWire.statuses(second).first == 200 && second.contains("m=image "), "\(second.prefix(300))")
        let port = { (text: String) in text.components(separatedBy: "\r\n").first { $0.hasPrefix("m=image ") } }
        #expect(port(first) == port(second), "faxd kept its own UDPTL port")
        caller.send("ACK", cseq: 4)

        // 5. Two re-INVITEs back to back: the second arrives while the first may still be open.
        //    Each gets a final answer: 200, or 500 with Retry-After for one that overlapped.
        caller.send("INVITE", cseq: 5, sdp: caller.imageSDP(5))
        caller.send("INVITE", cseq: 6, sdp: caller.imageSDP(6))
        let fifth = try #require(try await caller.response(cseq: 5, "INVITE") { $0 >= 200 })
        let sixth = try #require(try await caller.response(cseq: 6, "INVITE") { $0 >= 200 })
        for reply in [fifth, sixth] {
            let status = SIPWire.statuses(reply).first ?? 0
            #expect(status == 200 || (status == 500 && reply.contains("Retry-After: ")), "\(reply.prefix(200))")
            if status == 200 { caller.send("ACK", cseq: reply == fifth ? 5 : 6) }
        }

        // 6. An offerless re-INVITE: faxd offers the image stream it has (not audio), the ACK
        //    answers it.
        caller.send("INVITE", cseq: 7)
        let offerless = try #require(try await caller.response(cseq: 7, "INVITE") { $0 >= 200 })
        #expect(SIPWire.statuses(offerless).first == 200 && offerless.contains("m=image ") && !offerless.contains("m=audio"),
                "\(offerless)")
        caller.send("ACK", cseq: 7, sdp: caller.imageSDP(7))

        // 7. BYE: the call ends as a T.38 call the caller asked for; nothing is left.
        caller.send("BYE", cseq: 8)
        #expect(try await caller.response(cseq: 8, "BYE") { $0 == 200 } != nil)
        let outcome = try #require(await engine.outcomes.next(count: 1, timeout: 10).first)
        #expect(outcome.transport == "t38" && outcome.t38?.requestedBy == "remote")
        #expect(outcome.hangupCause == .remoteHangup)
        #expect(await settles(within: 10) { engine.daemon.orchestrator.activeCalls == 0 && engine.daemon.orchestrator.agent.liveHandles == 0 },
                "calls \(engine.daemon.orchestrator.activeCalls), handles \(engine.daemon.orchestrator.agent.liveHandles)")
        #expect(engine.daemon.media.activeChannels == 0)
    }
}

extension T38ReinviteTimingTests {
    /// The far end of an outbound fax written out by hand: it rings, sends its T.38 re-INVITE
    /// before its 200 OK (as when the 200 is lost or overtaken), then answers and re-INVITEs
    /// again. faxd refuses the early one, takes the call, and switches on the second.
    @Test func aCalleeReinvitingBeforeItsOwn200() async throws {
        let callee = try SIPDatagramClient(target: 9)  // the remote is set from faxd's INVITE
        let engine = try TestEngine(label: "t38-early-uac") {
            $0.trunks = [Trunk(name: "carrier", inboundSources: [], outboundProxy: "sip:127.0.0.1:\(callee.localPort)")]
            $0.t38.silenceTimeoutSeconds = 2
        }
        defer { engine.stop() }
        let sending = Task {
            await engine.send(OutboundFax(destination: "15551234567", trunk: "carrier", document: Fixtures.threePageLight,
                                          options: engine.daemon.configuration.fax.options), timeout: 60)
        }
        func header(_ message: String, _ name: String) -> String? {
            message.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
        }
        callee.retarget(engine.sipPort)
        let invites = try await callee.replies(wait: 10) { $0.contains { $0.hasPrefix("INVITE ") } }
        let invite = try #require(invites.first { $0.hasPrefix("INVITE ") }, "faxd never called")
        let via = try #require(header(invite, "Via")), from = try #require(header(invite, "From"))
        let to = try #require(header(invite, "To")), callID = try #require(header(invite, "Call-ID"))
        let cseq = try #require(header(invite, "CSeq"))
        let contact = try #require(header(invite, "Contact"))
        let faxdURI = String(try #require(contact.split(separator: "<").last?.split(separator: ">").first))
        let toTagged = to + ";tag=callee"
        func response(_ status: String, sdp: String? = nil) -> [UInt8] {
            var text = "SIP/2.0 \(status)\r\n\(via)\r\n\(from)\r\n\(toTagged)\r\n\(callID)\r\n\(cseq)\r\n"
                + "Contact: <sip:callee@127.0.0.1:\(callee.localPort)>\r\n"
            text += sdp.map { "Content-Type: application/sdp\r\nContent-Length: \($0.utf8.count)\r\n\r\n\($0)" } ?? "Content-Length: 0\r\n\r\n"
            return Array(text.utf8)
        }
        // The callee's requests go the other way: its To/From swap.
        let faxdTag = String(try #require(from.components(separatedBy: "tag=").last))
        func request(_ method: String, _ n: Int, sdp: String?) -> [UInt8] {
            var text = "\(method) \(faxdURI) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(callee.localPort);branch=z9hG4bK-callee-\(n)\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:15551234567@127.0.0.1>;tag=callee\r\nTo: <sip:faxd@127.0.0.1>;tag=\(faxdTag)\r\n"
                + "\(callID)\r\nCSeq: \(n) \(method)\r\nContact: <sip:callee@127.0.0.1:\(callee.localPort)>\r\n"
            text += sdp.map { "Content-Type: application/sdp\r\nContent-Length: \($0.utf8.count)\r\n\r\n\($0)" } ?? "Content-Length: 0\r\n\r\n"
            return Array(text.utf8)
        }
        let image = "v=0\r\no=callee 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=image 40020 udptl t38\r\n"
            + "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"
        let audio = "v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40020 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

        callee.send(response("180 Ringing"))
        callee.send(request("INVITE", 1, sdp: image))
        let early = try await callee.replies(wait: 10) { $0.contains { $0.contains("CSeq: 1 INVITE") && (SIPWire.statuses($0).first ?? 0) >= 200 } }
        let refusal = try #require(early.first { $0.contains("CSeq: 1 INVITE") && (SIPWire.statuses($0).first ?? 0) >= 200 }, "\(early)")
        let refused = SIPWire.statuses(refusal).first ?? 0
        #expect([491, 500].contains(refused), "the early re-INVITE: \(refusal.prefix(200))")
        callee.send(Array("ACK \(faxdURI) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(callee.localPort);branch=z9hG4bK-callee-1\r\nMax-Forwards: 70\r\nFrom: <sip:15551234567@127.0.0.1>;tag=callee\r\nTo: <sip:faxd@127.0.0.1>;tag=\(faxdTag)\r\n\(callID)\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n".utf8))

        callee.send(response("200 OK", sdp: audio))
        let acked = try await callee.replies(wait: 10) { $0.contains { $0.hasPrefix("ACK ") } }
        #expect(acked.contains { $0.hasPrefix("ACK ") }, "faxd acknowledged the 200")
        callee.send(request("INVITE", 2, sdp: image))
        let switched = try await callee.replies(wait: 10) { $0.contains { $0.contains("CSeq: 2 INVITE") && (SIPWire.statuses($0).first ?? 0) >= 200 } }
        let answer = try #require(switched.first { $0.contains("CSeq: 2 INVITE") && (SIPWire.statuses($0).first ?? 0) >= 200 })
        #expect(SIPWire.statuses(answer).first == 200 && answer.contains("m=image "), "\(answer.prefix(300))")
        callee.send(Array("ACK \(faxdURI) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(callee.localPort);branch=z9hG4bK-callee-2a\r\nMax-Forwards: 70\r\nFrom: <sip:15551234567@127.0.0.1>;tag=callee\r\nTo: <sip:faxd@127.0.0.1>;tag=\(faxdTag)\r\n\(callID)\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n".utf8))

        // Nobody sends UDPTL: faxd's T.38 watchdog ends the call with a BYE, which we answer.
        let bye = try await callee.replies(wait: 20) { $0.contains { $0.hasPrefix("BYE ") } }
        let byeRequest = try #require(bye.first { $0.hasPrefix("BYE ") }, "no BYE")
        let byeVia = try #require(header(byeRequest, "Via")), byeCSeq = try #require(header(byeRequest, "CSeq"))
        let byeFrom = try #require(header(byeRequest, "From")), byeTo = try #require(header(byeRequest, "To"))
        callee.send(Array("SIP/2.0 200 OK\r\n\(byeVia)\r\n\(byeFrom)\r\n\(byeTo)\r\n\(callID)\r\n\(byeCSeq)\r\nContent-Length: 0\r\n\r\n".utf8))
        let outcome = try #require(await sending.value)
        #expect(outcome.transport == "t38" && outcome.t38?.requestedBy == "remote", "\(outcome.transport) \(outcome.detail ?? "")")
        #expect(outcome.hangupCause == .mediaTimeout, "\(outcome.hangupCause)")
        #expect(await settles(within: 10) { engine.daemon.orchestrator.activeCalls == 0 && engine.daemon.orchestrator.agent.liveHandles == 0 },
                "calls \(engine.daemon.orchestrator.activeCalls), handles \(engine.daemon.orchestrator.agent.liveHandles)")
    }
}
