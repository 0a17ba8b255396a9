import Engine
import FaxdTesting
import Foundation
import Media
import Processing
import SIP
import Store
import Testing

/// Limits that protect a daemon on a public trunk: INVITE floods from one source, an account's
/// concurrent calls, and a data directory that cannot take more faxes.
@Suite struct HardeningTests {
    /// Sends raw SIP datagrams from one socket and collects whole replies.
    final class RawSIP {
        let client: SIPDatagramClient
        let target: Int
        init(target: Int) throws {
            client = try SIPDatagramClient(target: target)
            self.target = target
        }

        func invite(_ did: String, callID: String) {
            let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            client.send(SIPWire.request("INVITE", "sip:\(did)@127.0.0.1:\(target)", port: client.localPort, callID: callID, body: sdp))
        }

        /// Final responses (status >= 200) by Call-ID, until every one of `expected` has one or
        /// `wait` seconds passed, counted in wall time and in this task's turns (`TestClock`):
        /// the whole suite shares two cores, and its start can leave a task no turn for seconds.
        func finals(_ expected: Set<String>, wait: Double = 15) async throws -> [String: String] {
            var replies: [String: String] = [:]
            var clock = TestClock(wait)
            while !clock.done && !expected.isSubset(of: Set(replies.keys)) {
                try await clock.pause()
                for reply in try await client.replies(wait: 0.05) {
                    guard let status = SIPWire.statuses(reply).first, status >= 200 else { continue }
                    if let line = reply.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("call-id:") }) {
                        replies[line.dropFirst(8).trimmingCharacters(in: .whitespaces)] = reply
                    }
                }
            }
            return replies
        }
    }

    @Test func anInviteFloodFromOneSourceGets503WithRetryAfter() async throws {
        let engine = try TestEngine(label: "flood") {
            $0.sip.inviteRatePerSource = 0.01  // a token every 100 s: none comes back during the test, however slow
            $0.sip.inviteBurstPerSource = 2
        }
        defer { engine.stop() }
        let sip = try RawSIP(target: engine.sipPort)
        for i in 0..<5 { sip.invite("15551234567", callID: "flood-\(i)") }
        let replies = try await sip.finals(Set((0..<5).map { "flood-\($0)" }))
        let limited = replies.values.filter { $0.hasPrefix("SIP/2.0 503") }
        #expect(replies.count == 5, "\(replies.keys.sorted())")
        #expect(limited.count == 3, "two INVITEs fit the burst, three are refused: \(replies.mapValues { $0.prefix(20) })")
        #expect(limited.allSatisfy { $0.contains("Retry-After: ") && $0.contains("INVITEs in a burst from 127.0.0.1") })
        // The calls that were taken stay up and are ended cleanly.
        #expect(replies.values.filter { $0.hasPrefix("SIP/2.0 200") }.count == 2)
    }

    @Test func anAccountAtItsInboundLimitGets486() async throws {
        let service = try TestService(label: "acct-limit", configure: { $0.processing.accountInboundCalls = 1 },
                                      provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551234567")) })
        defer { service.stop() }
        let sip = try RawSIP(target: service.sipPort)
        sip.invite("15551234567", callID: "first")
        let first = try await sip.finals(["first"])["first"] ?? "none"
        #expect(first.hasPrefix("SIP/2.0 200"), "\(first)")
        sip.invite("15551234567", callID: "second")
        let replies = try await sip.finals(["second"])
        let second = try #require(replies["second"])
        #expect(second.hasPrefix("SIP/2.0 486") && second.contains("already has 1 calls in progress"), "\(second.prefix(300))")
    }

    @Test func aTrunkAtItsCallLimitGets503() async throws {
        let engine = try TestEngine(label: "trunk-limit") { $0.trunks[0].maxCalls = 1 }
        defer { engine.stop() }
        let sip = try RawSIP(target: engine.sipPort)
        sip.invite("15551234567", callID: "one")
        let first = try await sip.finals(["one"])["one"] ?? "none"
        #expect(first.hasPrefix("SIP/2.0 200"), "\(first.prefix(100))")
        sip.invite("15551234567", callID: "two")
        let second = try await sip.finals(["two"])["two"] ?? "none"
        #expect(second.hasPrefix("SIP/2.0 503") && second.contains("is at its limit of 1 calls"), "\(second.prefix(300))")
    }

    @Test func aDataDirectoryThatCannotTakeFaxesRefusesCallsAndSends() async throws {
        let service = try TestService(label: "storage", configure: {
            $0.processing.minFreeMegabytes = 9_999_999  // more than any test machine has: "full"
            $0.trunks.append(Trunk(name: "carrier", domain: "127.0.0.1:9"))
        }, provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551234567")) })
        defer { service.stop() }
        let sip = try RawSIP(target: service.sipPort)
        sip.invite("15551234567", callID: "full")
        let reply = try #require(try await sip.finals(["full"])["full"])
        #expect(reply.hasPrefix("SIP/2.0 503") && reply.contains("cannot store faxes now: only"), "\(reply)")
        #expect(!reply.contains(service.directory), "the carrier is not told the server's paths: \(reply)")
        let rows = try service.store.read { try $0.transmissions() }
        #expect(rows.isEmpty, "nothing was accepted: \(rows.map { "\($0.direction) \($0.status) \($0.error ?? "")" })")
        do {
            _ = try service.service.enqueue(SendRequest(account: "15551234567", to: "15557654321", document: Fixtures.threePageLight))
            Issue.record("a send must be refused while storage is short")
        } catch {
            #expect(error.code == .storage && error.reason.contains("processing.min_free_mb"))
            #expect(!error.reason.contains(service.directory), "\(error.reason)")
        }
    }
}

/// A node dials no more than its share of the send queue: `processing.node_max_sends` sends, and
/// `sip.max_calls` calls in all; the rest stay queued (for it later, or for another node).
@Suite struct NodeSendCapTests {
    @Test(arguments: [(nodeMaxSends: 2, maxCalls: 0, expected: 2), (nodeMaxSends: 0, maxCalls: 3, expected: 3)])
    func aNodeDialsNoMoreThanItsShare(_ limits: (nodeMaxSends: Int, maxCalls: Int, expected: Int)) async throws {
        // The far end takes INVITEs and never answers: every dialled send stays dialing.
        let blackHole = TestPorts.allocate()
        let silent = try UDPSocket(bindHost: "127.0.0.1", port: UInt16(blackHole.sip))
        defer { silent.close() }
        let service = try TestService(label: "node-cap", configure: {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:\(blackHole.sip)")]
            $0.processing.nodeMaxSends = limits.nodeMaxSends
            $0.sip.maxCalls = limits.maxCalls
            $0.processing.schedulerIntervalMilliseconds = 100
        }, provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551234567", maxConcurrentSends: 50)) })
        defer { service.stop() }
        for n in 0..<6 {
            _ = try service.service.enqueue(SendRequest(account: "15551234567", to: "1555765\(4300 + n)", document: Fixtures.threePageLight))
        }
        func counts() throws -> [FaxTransmission.Status: Int] {
            Dictionary(grouping: try service.store.read { try $0.transmissions() }, by: \.status).mapValues(\.count)
        }
        var seen: [FaxTransmission.Status: Int] = [:]
        let deadline = Date().addingTimeInterval(60)
        while (seen[.dialing] ?? 0) < limits.expected && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            seen = try counts()
        }
        #expect(seen[.dialing] == limits.expected, "\(seen)")
        // Many scheduler ticks later (100 ms each) nothing more was dialled.
        try await Task.sleep(for: .seconds(3))
        seen = try counts()
        #expect(seen[.dialing] == limits.expected && seen[.queued] == 6 - limits.expected, "\(seen)")
        await service.shutDown()
    }
}

@Suite struct StartupFailureTests {
    /// A service whose SIP port is taken fails to start with the reason, and going away unstarted
    /// does not trap (its webhook client used to be made at once and then never shut down).
    @Test func aTakenSIPPortFailsTheStartCleanly() throws {
        let ports = TestPorts.allocate()
        let squatter = try UDPSocket(bindHost: "127.0.0.1", port: UInt16(ports.sip))
        defer { squatter.close() }
        #expect(throws: (any Error).self) {
            _ = try TestService(label: "port-taken", configure: { $0.sip.listenPort = ports.sip })
        }
    }
}
