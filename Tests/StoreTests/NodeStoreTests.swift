import FaxdTesting
import Foundation
@testable import Store
import Testing

/// Several nodes on one PostgreSQL database, each with its own store connection, racing for the
/// same work on real threads: every send is claimed by exactly one node, every outbox entry
/// leased by one, a dead node's sends are found by the others and a live node's are not.
@Suite struct NodeStoreTests {
    /// Each node, on its own store connection and Dispatch worker, tries to claim every send in
    /// `ids()` (called per node: an order of its own) for dialling; the ids each one claimed.
    func race(_ location: StoreLocation, nodes: [String], ids: @escaping @Sendable () -> [Int64], accountLimit: Int)
        async throws -> [String: [Int64]] {
        try await withThrowingTaskGroup(of: (String, [Int64]).self) { group in
            for node in nodes {
                group.addTask {
                    try await offPool {
                        let store = try FaxStore(location: location)
                        var mine: [Int64] = []
                        for id in ids() {
                            let claim = try store.write { db -> DialClaim in
                                let claim = try db.claimForDialing(id: id, node: node, accountLimit: accountLimit, trunkLimit: nil)
                                if claim == .claimed { try db.query("UPDATE fax_transmissions SET status = 'dialing' WHERE id = ?", [id]) }
                                return claim
                            }
                            if claim == .claimed { mine.append(id) }
                        }
                        return (node, mine)
                    }
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
    }

    /// Three nodes race to claim 300 queued sends (each tries every one, in its own order): 300
    /// claims in all, none twice, and the account limit holds across nodes.
    @Test func threeNodesClaimEachSendOnce() async throws {
        let location = try await TestStores.freshLocation(.postgres, "claims")
        let setup = try await TestStores.open(location)
        let ids = try setup.write { db -> [Int64] in
            let account = try db.insert(FaxAccount(faxNumber: "15550000001", maxConcurrentSends: 10_000))
            return try (0..<300).map { i in
                try db.insert(FaxTransmission(accountID: account.id, direction: .outbound, status: .queued, toNumber: "1555000\(2000 + i)")).id
            }
        }
        let results = try await race(location, nodes: ["a", "b", "c"], ids: { ids.shuffled() }, accountLimit: 10_000)
        let all = results.values.flatMap { $0 }
        #expect(all.count == 300 && Set(all).count == 300, "claims: \(results.mapValues(\.count))")
        let owners = try setup.read { db in try db.query("SELECT node_id, COUNT(*) AS n FROM fax_transmissions GROUP BY node_id") }
        #expect(owners.reduce(0) { $0 + $1.int("n") } == 300 && owners.allSatisfy { $0.optionalString("node_id") != nil })
        for (node, claimed) in results {
            let recorded = try setup.read { db in
                try db.query("SELECT COUNT(*) AS n FROM fax_transmissions WHERE node_id = ?", [node]).first?.int("n") ?? 0
            }
            #expect(recorded == claimed.count, "node \(node)'s claims are recorded as its")
        }
    }

    /// An account allowed 3 sends at once gets 3 in all when two nodes claim together.
    @Test func theAccountLimitCountsEveryNode() async throws {
        let location = try await TestStores.freshLocation(.postgres, "limit")
        let setup = try await TestStores.open(location)
        let ids = try setup.write { db -> [Int64] in
            let account = try db.insert(FaxAccount(faxNumber: "15550000002"))
            return try (0..<20).map { i in
                try db.insert(FaxTransmission(accountID: account.id, direction: .outbound, status: .queued, toNumber: "1555000\(3000 + i)")).id
            }
        }
        let claimed = try await race(location, nodes: ["a", "b"], ids: { ids }, accountLimit: 3).values.map(\.count).reduce(0, +)
        #expect(claimed == 3)
    }

    /// Two nodes lease the same 100 due outbox entries at once: each entry goes to one node; a
    /// lease that ran out can be taken by another node, one still running cannot.
    @Test func outboxEntriesAreLeasedToOneNode() async throws {
        let location = try await TestStores.freshLocation(.postgres, "outbox")
        let setup = try await TestStores.open(location)
        let now = Date()
        let ids = try setup.write { db -> [Int64] in
            let account = try db.insert(FaxAccount(faxNumber: "15550000003"))
            let hook = try db.insert(FaxWebhook(accountID: account.id, url: "https://a.example/", secret: "s", events: ["fax.received"])).id
            for i in 0..<100 {
                try db.enqueue(OutboxEntry(eventID: "e-\(i)", channel: .webhook, event: "fax.received", accountID: account.id,
                                           transmissionID: nil, webhookID: hook, payloadJSON: "{}", now: now.addingTimeInterval(-10)))
            }
            return try db.query("SELECT id FROM fax_outbox ORDER BY id").map { $0.int64("id") }
        }
        let leased = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for node in ["a", "b"] {
                group.addTask {
                    try await offPool {
                        let store = try FaxStore(location: location)
                        return try ids.shuffled().filter { id in
                            try store.write { try $0.leaseOutboxEntry(id: id, node: node, until: now.addingTimeInterval(60), now: now) }
                        }
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(leased.count == 100 && Set(leased).count == 100)
        #expect(try setup.read { try $0.dueOutbox(now: now, limit: 200) }.isEmpty, "leased entries are not due for anyone")
        let first = ids[0]
        let holder = try #require(try setup.read { try $0.query("SELECT node_id FROM fax_outbox WHERE id = ?", [first]).first?.string("node_id") })
        let other = holder == "a" ? "b" : "a"
        #expect(try setup.write { try $0.leaseOutboxEntry(id: first, node: other, until: now.addingTimeInterval(60), now: now) } == false)
        let later = now.addingTimeInterval(61)
        #expect(try setup.read { try $0.dueOutbox(now: later, limit: 200) }.count == 1, "one entry per endpoint is due: the oldest")
        #expect(try setup.write { try $0.leaseOutboxEntry(id: first, node: other, until: later.addingTimeInterval(60), now: later) })
        // A dead node's leases are freed at once (the heartbeat's take-over), not at their expiry.
        let heldByHolder = try setup.read { try $0.query("SELECT COUNT(*) AS n FROM fax_outbox WHERE node_id = ?", [holder]).first?.int("n") ?? 0 }
        #expect(heldByHolder > 0)
        #expect(try setup.write { try $0.releaseOutboxLeases(of: [holder]) } == heldByHolder)
        #expect(try setup.read { try $0.query("SELECT COUNT(*) AS n FROM fax_outbox WHERE lease_until IS NOT NULL").first?.int("n") ?? 0 }
                == 100 - heldByHolder, "only the other node's leases remain")
    }

    /// An idempotency claim held by another node's running service start is that request's
    /// (answered "running"), not an orphan to take over; a dead start's claim is taken over.
    @Test func anotherLiveNodesIdempotencyClaimIsNotAnOrphan() async throws {
        let store = try await TestStores.fresh(.postgres, "idem")
        let account = try store.write { try $0.insert(FaxAccount(faxNumber: "15550000005")) }
        #expect(try store.write { try $0.claimIdempotencyKey(accountID: account.id, key: "k", requestHash: "h", instance: "node-a", staleAfter: 600) }
                == .claimed(queued: []))
        let fromB = try store.write {
            try $0.claimIdempotencyKey(accountID: account.id, key: "k", requestHash: "h", instance: "node-b", staleAfter: 600, liveInstances: ["node-a"])
        }
        if case .running = fromB {} else { Issue.record("node b took over a live node's claim: \(fromB)") }
        let afterDeath = try store.write {
            try $0.claimIdempotencyKey(accountID: account.id, key: "k", requestHash: "h", instance: "node-b", staleAfter: 600, liveInstances: [])
        }
        #expect(afterDeath == .claimed(queued: []))
        #expect(try store.write { try $0.releaseIdempotencyClaims(except: ["node-b"]) } == 0, "node b's own claim stays")
        #expect(try store.write { try $0.releaseIdempotencyClaims(except: ["node-c"]) } == 1)
    }

    /// A node dead longer than the forget window whose work has all been taken over leaves
    /// `faxd_nodes`; one still named on a send in flight, a voice call not ended or a pending
    /// outbox lease stays until that is finished, and so does one dead only briefly.
    @Test(arguments: SQLDialect.allCases) func aDeadNodeIsForgottenOnlyOnceNothingIsLeftOfIt(_ dialect: SQLDialect) async throws {
        let store = try await TestStores.fresh(dialect, "forget")
        let now = Date()
        let longAgo = now.addingTimeInterval(-7200)
        let (send, outboxID) = try store.write { db -> (Int64, Int64) in
            for (node, beat) in [("live", now), ("idle", longAgo), ("sender", longAgo), ("caller", longAgo), ("leaser", longAgo),
                                 ("recent", now.addingTimeInterval(-600))] {
                try db.heartbeat(FaxdNode(nodeID: node, instanceID: "i-\(node)", startedAt: beat, heartbeatAt: beat))
            }
            let account = try db.insert(FaxAccount(faxNumber: "15550000006"))
            let send = try db.insert(FaxTransmission(accountID: account.id, direction: .outbound, status: .queued, toNumber: "15550004000")).id
            #expect(try db.claimForDialing(id: send, node: "sender", accountLimit: 5, trunkLimit: nil) == .claimed)
            try db.query("UPDATE fax_transmissions SET status = 'transmitting' WHERE id = ?", [send])
            _ = try db.insert(VoiceCall(callControlID: "v3:forget", callLegID: "leg", callSessionID: "session", accountID: account.id,
                                        direction: .outbound, fromNumber: "+15550000006", toNumber: "+15557654321", clientState: nil,
                                        webhookURL: nil, connectionID: "conn", trunk: nil, now: longAgo))
            try db.query("UPDATE voice_calls SET node_id = 'caller'")
            let hook = try db.insert(FaxWebhook(accountID: account.id, url: "https://a.example/", secret: "s", events: ["fax.received"])).id
            try db.enqueue(OutboxEntry(eventID: "forget-1", channel: .webhook, event: "fax.received", accountID: account.id,
                                       transmissionID: nil, webhookID: hook, payloadJSON: "{}", now: longAgo))
            let entry = try #require(try db.outboxEntry(eventID: "forget-1")).id
            #expect(try db.leaseOutboxEntry(id: entry, node: "leaser", until: now.addingTimeInterval(600), now: longAgo))
            return (send, entry)
        }
        let window = now.addingTimeInterval(-3600)
        #expect(try store.write { try $0.forgetNodes(deadBefore: window) } == ["idle"])
        #expect(try store.read { try $0.nodes() }.map(\.nodeID) == ["caller", "leaser", "live", "recent", "sender"])
        // Their work finished (taken over by others): forgotten at the next look.
        try store.write { db in
            try db.query("UPDATE fax_transmissions SET status = 'completed' WHERE id = ?", [send])
            #expect(try db.setVoiceCallState(callControlID: "v3:forget", to: .ended, at: now))
            try db.recordDelivery(DeliveryAttempt(outboxID: outboxID, attempt: 1, startedAt: now, durationMilliseconds: 5, statusCode: 200, error: nil),
                                  entryID: outboxID, status: "delivered", nextAttemptAt: nil, lastError: nil, deliveredAt: now)
        }
        #expect(try store.write { try $0.forgetNodes(deadBefore: window) } == ["caller", "leaser", "sender"])
        #expect(try store.read { try $0.nodes() }.map(\.nodeID) == ["live", "recent"])
        // A forgotten node that comes back writes its row again with its next heartbeat.
        try store.write { try $0.heartbeat(FaxdNode(nodeID: "idle", instanceID: "i-idle-2", startedAt: now, heartbeatAt: now)) }
        #expect(try store.read { try $0.node(id: "idle") }?.instanceID == "i-idle-2")
    }
}
