import Engine
import FaxdTesting
import Foundation
import Processing
import Store
import Testing

/// Two faxd nodes (each its own SQLite data directory) behind a real Kamailio running the shipped
/// conf/kamailio/kamailio.cfg (issue 19): calls are spread over both, a drained node is probed
/// out of the rotation and gets no INVITE, and a call's re-INVITE to T.38 and BYE reach the node
/// that answered it. Every wait is on a signal (Kamailio's OPTIONS answer, its log lines, SIP
/// answers), with bounds generous enough for a loaded 2-core machine.
@Suite(.enabled(if: Kamailio.executable != nil, "kamailio is not installed (scripts/setup installs it)"))
struct KamailioTests {
    /// Round-robin over two nodes, a T.38 re-INVITE and BYE on the answering node, a drain seen by
    /// the probe (no INVITE reaches the drained node), and its end seen too.
    @Test func callsSpreadFailOverWhenANodeDrainsAndStayOnTheAnsweringNode() async throws {
        // The callers send no RTP or UDPTL: the silence watchdogs must not end their calls first.
        let quiet: @Sendable (inout FaxdConfiguration) -> Void = {
            $0.media.silenceTimeoutSeconds = 120
            $0.t38.silenceTimeoutSeconds = 120
        }
        let a = try await TestAPI(label: "kamailio-a", configure: quiet)
        defer { a.stop() }
        let b = try await TestAPI(label: "kamailio-b", configure: quiet)
        defer { b.stop() }
        let nodes = [a, b]
        let proxy = TestPorts.port()
        let kamailio = try Kamailio(port: proxy, nodes: nodes.map(\.service.sipPort), pingInterval: 1)
        defer { kamailio.stop() }
        try #require(await kamailio.ready(), "Kamailio did not start: \(kamailio.log.suffix(3000))")

        /// One call through Kamailio: INVITE, ACK, BYE; the port of the node that answered.
        func call() async throws -> Int? {
            let caller = try SIPDialogCaller(via: proxy, number: a.alice.number)
            let answer = try #require(try await caller.invite(sdp: caller.audioSDP()), "no answer through Kamailio")
            #expect(SIPWire.statuses(answer).first == 200, "\(answer.prefix(300))")
            let bye = try await caller.bye()
            #expect(bye.flatMap { SIPWire.statuses($0).first } == 200, "BYE: \(bye ?? "no answer")")
            return caller.answeringPort
        }

        // Round-robin: four calls, two on each node (at least one each: a probe that timed out on
        // a loaded machine takes a node out for a second).
        var answeredBy: [Int] = []
        for _ in 0..<4 { answeredBy.append(try await call() ?? 0) }
        #expect(answeredBy.contains(a.service.sipPort) && answeredBy.contains(b.service.sipPort),
                "calls answered by \(answeredBy), nodes \(nodes.map(\.service.sipPort))")

        // A call switched to T.38: the re-INVITE and the BYE follow the Record-Route to the node
        // that answered, and only that node has the call.
        let fax = try SIPDialogCaller(via: proxy, number: a.alice.number)
        let answer = try #require(try await fax.invite(sdp: fax.audioSDP()))
        #expect(SIPWire.statuses(answer).first == 200, "\(answer.prefix(300))")
        #expect(fax.routeSet.contains { $0.contains("127.0.0.1:\(proxy)") }, "Kamailio did not record-route: \(fax.routeSet)")
        let answering = try #require(nodes.first { $0.service.sipPort == fax.answeringPort }, "answered by \(fax.answeringPort ?? 0)")
        let other = try #require(nodes.first { $0 !== answering })
        let switched = try #require(try await fax.reinvite(sdp: fax.imageSDP()), "no answer to the T.38 re-INVITE")
        #expect(SIPWire.statuses(switched).first == 200 && switched.contains("m=image "), "\(switched.prefix(400))")
        let onAnswering = await answering.service.service.daemon.orchestrator.liveCalls()
        #expect(onAnswering.count == 1 && onAnswering.first?.transport == "t38", "\(onAnswering)")
        #expect(await other.service.service.daemon.orchestrator.liveCalls().isEmpty)
        let endedBefore = answering.service.service.daemon.status.callsEnded
        let bye = try await fax.bye()
        let last = try? answering.service.store.read { try $0.transmissions(accountID: nil, direction: .inbound, status: nil, limit: 1) }.first
        #expect(bye.flatMap { SIPWire.statuses($0).first } == 200,
                "BYE: \(bye ?? "no answer"); the node's record of the call: \(last.map { "\($0.status) \($0.error ?? "")" } ?? "none")")
        #expect(await DrainTests.eventually(within: 30) { answering.service.service.daemon.status.callsEnded == endedBefore + 1 },
                "the BYE did not end the call on the node that answered")

        // Drain node a: Kamailio's probe takes it out, and new calls all go to b.
        #expect(try await a.request(.POST, "/admin/drain", token: a.adminToken).status == 200)
        #expect(await kamailio.waitForLog(["faxd node down", "127.0.0.1:\(a.service.sipPort)"]),
                "Kamailio's probes did not take the drained node out: \(kamailio.log.suffix(3000))")
        let endedOnA = a.service.service.daemon.status.callsEnded
        for _ in 0..<2 { #expect(try await call() == b.service.sipPort) }
        #expect(a.service.service.daemon.status.callsEnded == endedOnA, "an INVITE reached the drained node")
        #expect(!kamailio.log.split(separator: "\n").contains { $0.contains("did not take call") && $0.contains("127.0.0.1:\(a.service.sipPort)") },
                "a call had to fail over from the drained node: the probe should have kept it away")

        // The drain's end: the probe puts a back, and it takes calls again (the next of the
        // round-robin; within four calls on a loaded machine).
        #expect(try await a.request(.DELETE, "/admin/drain", token: a.adminToken).status == 200)
        #expect(await kamailio.waitForLog(["faxd node up", "127.0.0.1:\(a.service.sipPort)"]),
                "Kamailio's probes did not bring the node back: \(kamailio.log.suffix(3000))")
        var after: [Int] = []
        while after.count < 4 && !after.contains(a.service.sipPort) { after.append(try await call() ?? 0) }
        #expect(after.contains(a.service.sipPort), "after the drain: \(after)")
    }

    /// A node that refuses an INVITE with 503 before a probe has noticed (drained between two
    /// probes, probing slowed to a minute here) loses the call to the next node, not the caller.
    @Test func a503FailsTheCallOverToTheNextNode() async throws {
        let a = try await TestAPI(label: "kamailio-failover-a") { $0.media.silenceTimeoutSeconds = 120 }
        defer { a.stop() }
        let b = try await TestAPI(label: "kamailio-failover-b") { $0.media.silenceTimeoutSeconds = 120 }
        defer { b.stop() }
        let proxy = TestPorts.port()
        let kamailio = try Kamailio(port: proxy, nodes: [a.service.sipPort, b.service.sipPort], pingInterval: 60)
        defer { kamailio.stop() }
        try #require(await kamailio.ready(), "Kamailio did not start: \(kamailio.log.suffix(3000))")
        a.service.service.setDraining(true)
        b.service.service.setDraining(false)
        for _ in 0..<2 {
            let caller = try SIPDialogCaller(via: proxy, number: a.alice.number)
            let answer = try #require(try await caller.invite(sdp: caller.audioSDP()), "no answer through Kamailio")
            #expect(SIPWire.statuses(answer).first == 200, "\(answer.prefix(300))")
            #expect(caller.answeringPort == b.service.sipPort)
            _ = try await caller.bye()
        }
        #expect(await kamailio.waitForLog(["did not take call", "127.0.0.1:\(a.service.sipPort)", "503"], timeout: 10),
                "no failover from the drained node in Kamailio's log: \(kamailio.log.suffix(3000))")
    }
}
