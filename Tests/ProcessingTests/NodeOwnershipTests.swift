import FaxdTesting
import Foundation
@testable import Processing
import Store
import Testing

/// The one rule every take-over uses (sends, receives, voice calls), over real rows.
@Suite struct NodeOwnershipTests {
    /// A send dialled by a node whose heartbeat stopped is an orphan to the others; one by a live
    /// node is not; this node's own (an earlier run's) always is.
    @Test(arguments: SQLDialect.allCases) func orphanedSendsAreThoseOfDeadNodes(_ dialect: SQLDialect) async throws {
        let store = try await TestStores.fresh(dialect, "orphans")
        let now = Date()
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15550000004", maxConcurrentSends: 10))
            for (node, number) in [("live", "1"), ("dead", "2"), ("me", "3")] {
                let id = try db.insert(FaxTransmission(accountID: account.id, direction: .outbound, status: .queued, toNumber: "155500090\(number)")).id
                #expect(try db.claimForDialing(id: id, node: node, accountLimit: 10, trunkLimit: nil) == .claimed)
                try db.query("UPDATE fax_transmissions SET status = 'dialing' WHERE id = ?", [id])
            }
            try db.heartbeat(FaxdNode(nodeID: "live", instanceID: "i1", startedAt: now, heartbeatAt: now))
            try db.heartbeat(FaxdNode(nodeID: "dead", instanceID: "i2", startedAt: now, heartbeatAt: now.addingTimeInterval(-60)))
        }
        let nodes = try store.read { try $0.nodes() }
        let live = Set(nodes.filter { $0.isAlive(now: now, lease: 15) }.map(\.nodeID))
        #expect(live == ["live"])
        let ownership = NodeOwnership(me: "me", alive: live)
        let orphans = try store.read { try $0.sendsInFlight() }.filter { ownership.isCutOff($0.node, own: true) }
        #expect(Set(orphans.compactMap(\.node)) == ["dead", "me"])
        #expect(ownership.isCutOff(nil, own: true) && !ownership.isCutOff(nil, own: false), "rows from before nodes are this node's")
        #expect(!ownership.isCutOff("me", own: false), "a sweep while running leaves this node's own work alone")
    }
}
