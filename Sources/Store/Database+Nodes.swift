import Foundation

/// One faxd node sharing the database, as its last heartbeat left it.
public struct FaxdNode: Sendable, Equatable, Codable {
    public var nodeID: String
    /// The service start that wrote the heartbeat (a restart is a new instance).
    public var instanceID: String
    public var sipAddress: String?
    /// Where the node's HTTP API listens (`http://host:port`), for requests forwarded to it.
    public var apiAddress: String?
    public var draining: Bool
    public var startedAt: Date
    public var heartbeatAt: Date

    public init(nodeID: String, instanceID: String, sipAddress: String? = nil, apiAddress: String? = nil, draining: Bool = false,
                startedAt: Date, heartbeatAt: Date) {
        self.nodeID = nodeID
        self.instanceID = instanceID
        self.sipAddress = sipAddress
        self.apiAddress = apiAddress
        self.draining = draining
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }

    init(row: Row) {
        nodeID = row.string("node_id")
        instanceID = row.string("instance_id")
        sipAddress = row.optionalString("sip_address")
        apiAddress = row.optionalString("api_address")
        draining = row.bool("draining")
        startedAt = row.date("started_at")
        heartbeatAt = row.date("heartbeat_at")
    }

    /// Alive: a heartbeat within `lease` seconds of `now`.
    public func isAlive(now: Date, lease: TimeInterval) -> Bool { now.timeIntervalSince(heartbeatAt) <= lease }
}

/// What claiming a queued send for dialling found.
public enum DialClaim: Sendable, Equatable {
    /// Ours: dial it.
    case claimed
    /// Cancelled, or taken by another node, since it was read.
    case gone
    /// The account or trunk has as many sends going out, on all nodes, as it may.
    case atLimit
}

/// The nodes' heartbeats and the leases on their work.
extension Database {
    /// Writes this node's heartbeat (inserting its row).
    public func heartbeat(_ node: FaxdNode) throws(StoreError) {
        try query("""
            INSERT INTO faxd_nodes (node_id, instance_id, sip_address, api_address, draining, started_at, heartbeat_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (node_id) DO UPDATE SET instance_id = excluded.instance_id, sip_address = excluded.sip_address,
                api_address = excluded.api_address, draining = excluded.draining, started_at = excluded.started_at,
                heartbeat_at = excluded.heartbeat_at
            """, [node.nodeID, node.instanceID, node.sipAddress, node.apiAddress, node.draining, node.startedAt, node.heartbeatAt])
    }

    public func nodes() throws(StoreError) -> [FaxdNode] {
        try query("SELECT * FROM faxd_nodes ORDER BY node_id").map(FaxdNode.init(row:))
    }

    public func node(id: String) throws(StoreError) -> FaxdNode? {
        try query("SELECT * FROM faxd_nodes WHERE node_id = ?", [id]).first.map(FaxdNode.init(row:))
    }

    /// Claims a queued send for `node` (status dialing and the node's name, in the caller's write
    /// transaction): `.gone` when it is no longer queued or another node holds its row (PostgreSQL:
    /// FOR UPDATE SKIP LOCKED), `.atLimit` when its account already has `accountLimit` sends or its
    /// trunk `trunkLimit` calls going out on all nodes together.
    public func claimForDialing(id: Int64, node: String, accountLimit: Int, trunkLimit: Int?) throws(StoreError) -> DialClaim {
        let lock = dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        guard let row = try query("SELECT status, account_id, trunk FROM fax_transmissions WHERE id = ?\(lock)", [id]).first,
              row.string("status") == FaxTransmission.Status.queued.rawValue else { return .gone }
        let going = try query("""
            SELECT COUNT(*) AS n FROM fax_transmissions WHERE account_id = ? AND direction = 'outbound' AND status IN ('dialing', 'transmitting')
            """, [row.int64("account_id")]).first?.int("n") ?? 0
        if going >= accountLimit { return .atLimit }
        if let trunkLimit, let trunk = row.optionalString("trunk") {
            let onTrunk = try query("""
                SELECT COUNT(*) AS n FROM fax_transmissions WHERE trunk = ? AND direction = 'outbound' AND status IN ('dialing', 'transmitting')
                """, [trunk]).first?.int("n") ?? 0
            if onTrunk >= trunkLimit { return .atLimit }
        }
        try query("UPDATE fax_transmissions SET node_id = ? WHERE id = ?", [node, id])
        return .claimed
    }

    /// Sends dialing or transmitting, oldest first, with the node working on each (nil: written
    /// before nodes existed).
    public func sendsInFlight() throws(StoreError) -> [(transmission: FaxTransmission, node: String?)] {
        try query("""
            SELECT * FROM fax_transmissions WHERE direction = 'outbound' AND status IN ('dialing', 'transmitting') ORDER BY id
            """).map { (FaxTransmission(row: $0), $0.optionalString("node_id")) }
    }

    /// Forgets nodes whose heartbeat stopped before `deadBefore` and whose work has all been
    /// taken over: no send or receive still dialing or transmitting under their name, no voice
    /// call of theirs not ended, no pending outbox entry leased to them. Returns their ids.
    @discardableResult
    public func forgetNodes(deadBefore: Date) throws(StoreError) -> [String] {
        try query("""
            DELETE FROM faxd_nodes WHERE heartbeat_at < ?
              AND NOT EXISTS (SELECT 1 FROM fax_transmissions t WHERE t.node_id = faxd_nodes.node_id
                              AND t.status IN ('dialing', 'transmitting'))
              AND NOT EXISTS (SELECT 1 FROM voice_calls v WHERE v.node_id = faxd_nodes.node_id AND v.state != 'ended')
              AND NOT EXISTS (SELECT 1 FROM fax_outbox o WHERE o.node_id = faxd_nodes.node_id AND o.status = 'pending')
            RETURNING node_id
            """, [deadBefore]).map { $0.string("node_id") }.sorted()
    }

    /// Frees the leases dead nodes held on pending outbox entries (they become due at once, for
    /// any node); returns how many.
    @discardableResult
    public func releaseOutboxLeases(of nodes: [String]) throws(StoreError) -> Int {
        guard !nodes.isEmpty else { return 0 }
        let marks = nodes.map { _ in "?" }.joined(separator: ", ")
        try query("UPDATE fax_outbox SET node_id = NULL, lease_until = NULL WHERE status = 'pending' AND node_id IN (\(marks))", nodes)
        return changes
    }

    /// Takes outbox entry `id` for delivery by `node` until `until`: false when it is no longer
    /// pending or another node's lease on it has not run out.
    public func leaseOutboxEntry(id: Int64, node: String, until: Date, now: Date) throws(StoreError) -> Bool {
        try query("""
            UPDATE fax_outbox SET node_id = ?, lease_until = ?
            WHERE id = ? AND status = 'pending' AND (lease_until IS NULL OR lease_until < ? OR node_id = ?)
            """, [node, until, id, now, node])
        return changes > 0
    }
}
