import FaxdTesting
import Foundation
import Media
@testable import Processing
import SIP
import Store
import Testing

/// A send cut off by a crash (or a dead node) resumes from what the far end confirmed while the
/// call went on: each confirmed page is written as it is confirmed, so recovery bills those pages
/// once and dials again only for the rest, and a send whose every page was confirmed is
/// completed without another call. The service starts on a store left as a crash leaves it; its
/// trunk points at a socket that counts what reaches it.
@Suite struct SendRecoveryTests {
    @Test(arguments: [3, 1])
    func aCutOffSendResumesAfterItsConfirmedPages(_ confirmed: Int) async throws {
        let directory = Fixtures.scratchDirectory("send-recovery")
        let document = directory + "/left-behind.tif"
        try FileManager.default.copyItem(atPath: Fixtures.threePageLight, toPath: document)
        let far = TestPorts.allocate()
        let listener = try UDPSocket(bindHost: "127.0.0.1", port: UInt16(far.sip))
        defer { listener.close() }
        var uuid = ""
        let service = try TestService(label: "send-recovery", directory: directory, configure: {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:\(far.sip)")]
        }, provision: { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551112222"))
            var t = try db.insert(FaxTransmission(accountID: account.id, direction: .outbound, status: .transmitting, fromNumber: "15551112222",
                                                  toNumber: "15557654321", filePath: document, maxAttempts: 3))
            t.pagesTotal = 3
            t.attempts = 1
            t.trunk = "carrier"
            try db.update(t)
            for page in 1...3 { try db.insert(FaxPage(transmissionID: t.id, pageNumber: page, status: .pending)) }
            let attempt = try db.insert(FaxAttempt(transmissionID: t.id, number: 1, startedAt: Date().addingTimeInterval(-30), firstPage: 0,
                                                   ecm: true, v17: true, t38: false))
            for pages in 1...confirmed { try db.recordPagesConfirmed(attemptID: attempt.id, pages: pages) }
            uuid = t.uuid
        })
        defer { service.stop() }
        let account = try #require(try service.store.read { try $0.account(faxNumber: "15551112222") })
        /// Datagrams reaching the trunk within `seconds` (wall time and this task's turns: the
        /// suite's start is busy), or until the first when `first`.
        func datagrams(for seconds: Double, first: Bool = false) async throws -> Int {
            var count = 0
            var buffer = [UInt8](repeating: 0, count: 4096)
            var clock = TestClock(seconds)
            while !clock.done && !(first && count > 0) {
                while buffer.withUnsafeMutableBytes({ listener.receive(into: $0) }) != nil { count += 1 }
                try await clock.pause()
            }
            return count
        }
        let usage = { try service.store.read { try $0.usage(accountID: account.id, periodStart: BillingPeriod.start(containing: Date(), cycleDay: 1)) } }
        if confirmed == 3 {
            let t = try #require(await service.transmission(uuid, timeout: 30) { $0.status.isFinal })
            #expect(t.status == .completed && t.attempts == 1 && t.pagesTransferred == 3, "\(t.status) \(t.attempts) \(t.pagesTransferred)")
            #expect(try await datagrams(for: 3) == 0, "a send whose pages were all confirmed is not dialled again")
            let attempts = try service.store.read { try $0.attempts(transmissionID: t.id) }
            #expect(attempts.map(\.result) == ["completed"] && attempts.first?.pagesConfirmed == 3)
            #expect(try service.store.read { try $0.pages(transmissionID: t.id) }.map(\.status) == [.sent, .sent, .sent])
            #expect(!FileManager.default.fileExists(atPath: document), "the sent document moved to the archive")
        } else {
            let t = try #require(await service.transmission(uuid, timeout: 30) { $0.attempts == 2 })
            #expect(t.resumePage == 1 && t.pagesTransferred == 1, "resumes from page 2: \(t.resumePage) \(t.pagesTransferred)")
            #expect(try await datagrams(for: 10, first: true) > 0, "the rest is dialled")
            // The second attempt is open, or (the trunk never answers) ended some other way than
            // interrupted.
            let attempts = try service.store.read { try $0.attempts(transmissionID: t.id) }
            #expect(attempts.map(\.firstPage) == [0, 1] && attempts.first?.result == "interrupted" && attempts.last?.result != "interrupted",
                    "\(attempts.map(\.result))")
            #expect(try service.store.read { try $0.pages(transmissionID: t.id) }.map(\.status) == [.sent, .pending, .pending])
            let logs = try service.store.read { try $0.logs(transmissionID: t.id) }.map(\.message)
            #expect(logs.contains { $0.contains("faxd stopped during attempt 1; queued again") && $0.contains("from page 2") }, "\(logs)")
        }
        #expect(try usage().pagesSent == confirmed, "the confirmed pages are billed once")
        await service.shutDown()
    }

    /// A send another node took over (this node's heartbeat looked dead to it) while this node's
    /// call was still up: when that call ends, nothing of it is written over the other node's
    /// attempt (no second result, no retry, no bill), because the end is recorded only under the
    /// node that claimed the send and only for an attempt still open.
    @Test func aCallEndingAfterAnotherNodeTookItsSendOverWritesNothing() async throws {
        // The far end rings for 5 s, then answers 486: the call's end comes after the take-over.
        let far = TestPorts.allocate()
        let service = try TestService(label: "taken-over", configure: {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:\(far.sip)")]
        }, provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551112222")) })
        defer { service.stop() }
        let sipp = SIPp.launch(scenario: "uas_busy_late.xml", target: nil, localPort: far.sip, mediaPort: Int(far.rtp.lowerBound), calls: 1)
        try #require(await TestPorts.waitUntilBound(udpPort: far.sip), "SIPp did not start listening")
        let queued = try service.service.enqueue(SendRequest(account: "15551112222", to: "15557654321", document: Fixtures.threePageLight))
        let dialing = try #require(await service.transmission(queued.uuid, timeout: 30) { $0.status == .dialing })
        #expect(dialing.nodeID == service.service.configuration.nodeID && service.service.activeSends == 1)
        try service.store.write { db in
            var first = try #require(try db.attempts(transmissionID: dialing.id).first)
            first.endedAt = Date()
            first.result = "interrupted"
            try db.update(first)
            var t = try #require(try db.transmission(uuid: queued.uuid))
            t.nodeID = "fax-other"
            t.attempts = 2
            try db.update(t)
            _ = try db.insert(FaxAttempt(transmissionID: t.id, number: 2, startedAt: Date(), firstPage: 0, ecm: true, v17: true, t38: false))
        }
        let sippResult = await sipp.result()
        #expect(sippResult.status == 0, "\(sippResult.output)")
        let deadline = Date().addingTimeInterval(30)
        while service.service.activeSends > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        service.service.drain()
        #expect(service.service.activeSends == 0, "the busy call's end was handled")
        let t = try #require(try service.store.read { try $0.transmission(uuid: queued.uuid) })
        #expect(t.status == .dialing && t.nodeID == "fax-other" && t.attempts == 2, "\(t.status) \(t.nodeID ?? "-") \(t.attempts)")
        let attempts = try service.store.read { try $0.attempts(transmissionID: t.id) }
        #expect(attempts.map(\.result) == ["interrupted", nil] && attempts.map(\.sipStatus) == [nil, nil], "\(attempts.map(\.result))")
        let logs = try service.store.read { try $0.logs(transmissionID: t.id) }.map(\.message)
        #expect(!logs.contains { $0.contains("failed (busy") || $0.contains("retry at") }, "\(logs)")
        await service.shutDown()
    }

    /// A call cut off after the far end confirmed the last page (a shutdown, a lost BYE) delivered
    /// the fax: the send is completed and billed once, not dialled again for its last page. The
    /// count is the larger of the call's and the pages written as T.30 confirmed them (a terminal
    /// started afresh on a switch to T.38 counts from 0).
    @Test(arguments: [(outcomePages: 3, written: 0), (outcomePages: 0, written: 3)])
    func aCallCutAfterTheLastConfirmedPageCompletesTheSend(_ counts: (outcomePages: Int, written: Int)) async throws {
        let far = TestPorts.allocate()
        let service = try TestService(label: "cut-after-last", configure: {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:\(far.sip)")]
        }, provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551112222")) })
        defer { service.stop() }
        let sipp = SIPp.launch(scenario: "uas_busy_late.xml", target: nil, localPort: far.sip, mediaPort: Int(far.rtp.lowerBound), calls: 1)
        try #require(await TestPorts.waitUntilBound(udpPort: far.sip), "SIPp did not start listening")
        let queued = try service.service.enqueue(SendRequest(account: "15551112222", to: "15557654321", document: Fixtures.threePageLight))
        let dialing = try #require(await service.transmission(queued.uuid, timeout: 30) { $0.status == .dialing })
        let attempt = try #require(try service.store.read { try $0.attempts(transmissionID: dialing.id) }.first)
        if counts.written > 0 { try service.store.write { try $0.recordPagesConfirmed(attemptID: attempt.id, pages: counts.written) } }
        // The call ends as a shutdown ends it, with the pages it counted.
        var cut = outcome(cause: .shutdown, pages: counts.outcomePages, total: 3)
        cut.uuid = queued.uuid
        service.service.queue.sync { service.service.outbound.ended(cut) }
        let t = try #require(try service.store.read { try $0.transmission(uuid: queued.uuid) })
        #expect(t.status == .completed && t.attempts == 1 && t.pagesTransferred == 3, "\(t.status) \(t.attempts) \(t.pagesTransferred)")
        let attempts = try service.store.read { try $0.attempts(transmissionID: t.id) }
        #expect(attempts.map(\.result) == ["completed"] && attempts.first?.pagesConfirmed == 3)
        let usage = try service.store.read { try $0.usage(accountID: t.accountID, periodStart: BillingPeriod.start(containing: Date(), cycleDay: 1)) }
        #expect(usage.pagesSent == 3)
        _ = await sipp.result()
        try await Task.sleep(for: .seconds(1))
        #expect(try service.store.read { try $0.attempts(transmissionID: t.id) }.count == 1, "not dialled again")
        await service.shutDown()
    }
}
