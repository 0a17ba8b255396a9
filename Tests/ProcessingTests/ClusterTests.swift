import AsyncHTTPClient
import Engine
import Fax
import FaxdTesting
import Foundation
import Processing
import Store
import Testing

/// Two `faxd serve` nodes on one PostgreSQL database, real processes and real sockets: the
/// account's limit holds across nodes, and when the node sending a fax is killed (-9) the other,
/// still running, takes the send over once the dead node's heartbeat lease runs out and finishes
/// it and the rest of the queue; nothing is dialled twice but the one interrupted attempt. The
/// webhook receiver hangs while node a delivers, so node a dies holding leases on undelivered
/// events: node b delivers each of them, and every other event, exactly once.
@Suite struct ClusterTests {
    static let adminToken = "cluster-admin-token-0123456789"

    func nodeConfig(_ data: String, node: String, store: String, far: Int) throws -> String {
        let path = data + "/faxd.yaml"
        try """
            store: "\(store)"
            node_id: \(node)
            trunks:
              - name: carrier
                domain: 127.0.0.1:\(far)
            processing:
              account_concurrency: 1
              scheduler_interval_ms: 200
              node_lease_s: 3
            delivery:
              allow_private_targets: true
              poll_interval_ms: 100
              webhook_timeout_s: 60
              retry_delays_s: [1]
              disable_after_failures: 100000
            http:
              admin_token: \(Self.adminToken)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func serve(_ data: String, _ config: String, _ ports: (sip: Int, rtp: ClosedRange<UInt16>), http: Int) throws -> FaxdProcess {
        try FaxdProcess(["serve", "--http-listen", "127.0.0.1:\(http)", "--data-dir", data, "--config", config,
                         "--sip-listen", "127.0.0.1:\(ports.sip)", "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)"],
                        logFile: data + "/faxd.log")
    }

    @Test func aKilledNodesSendIsFinishedByTheOtherNode() async throws {
        let far = try TestEngine(label: "cluster-far") { $0.media.silenceTimeoutSeconds = 3 }
        defer { far.stop() }
        let location = try await TestStores.freshLocation(.postgres, "cluster")
        guard case .postgres(let place) = location else { Issue.record("not a PostgreSQL location"); return }
        let url = try PostgresServer.running().url(database: place.database)
        let (dataA, dataB) = (Fixtures.scratchDirectory("node-a"), Fixtures.scratchDirectory("node-b"))
        let configA = try nodeConfig(dataA, node: "a", store: url, far: far.sipPort)
        let configB = try nodeConfig(dataB, node: "b", store: url, far: far.sipPort)
        try await FaxdProcess.run(["account", "add", "--number", "15551112222", "--config", configA, "--data-dir", dataA])
        // A real webhook receiver that dedups nothing: it logs every request.
        let hookPort = TestPorts.port()
        let hooked = try await FaxdProcess.run(["webhook", "add", "--account", "15551112222", "--url", "http://127.0.0.1:\(hookPort)/h",
                                                "--events", "fax.queued,fax.sent,fax.failed,fax.retry_scheduled",
                                                "--config", configA, "--data-dir", dataA])
        let secret = try #require((try JSONSerialization.jsonObject(with: Data(hooked.utf8)) as? [String: Any])?["secret"] as? String)
        let hookLog = dataA + "/hooks.jsonl"
        // Until node a is dead the receiver hangs: node a's requests wait on its 60 s timeout.
        let hole = try TCPBlackHole(port: hookPort)
        defer { hole.close() }
        var uuids: [String] = []
        for _ in 0..<2 {
            let json = try await FaxdProcess.run(["fax", "send", "--account", "15551112222", "--to", "15557654321",
                                                  "--file", Fixtures.threePageLight, "--config", configA, "--data-dir", dataA])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            uuids.append(try #require(object["uuid"] as? String))
        }
        let store = try await TestStores.open(location)
        func row(_ uuid: String) throws -> FaxTransmission? { try store.read { try $0.transmission(uuid: uuid) } }

        let (portsA, portsB) = (TestPorts.allocate(), TestPorts.allocate())
        let nodeA = try serve(dataA, configA, portsA, http: TestPorts.port())
        defer { nodeA.signal(SIGKILL) }
        var first: FaxTransmission?
        let deadline = Date().addingTimeInterval(60)
        while first == nil && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            first = try uuids.compactMap(row).first { $0.status == .transmitting }
        }
        let sending = try #require(first, "node a never started transmitting")
        #expect(sending.nodeID == "a")
        let waiting = try #require(uuids.first { $0 != sending.uuid })
        // Node b joins while a sends: the account's one line is a's, so b dials nothing.
        let httpB = TestPorts.port()
        let nodeB = try serve(dataB, configB, portsB, http: httpB)
        defer { nodeB.signal(SIGKILL) }
        try #require(await TestPorts.waitUntilBound(udpPort: portsB.sip), "node b did not start listening")
        var joined = false
        let joinDeadline = Date().addingTimeInterval(60)
        while !joined && Date() < joinDeadline {
            try await Task.sleep(for: .milliseconds(200))
            joined = try store.read { try $0.nodes() }.contains { $0.nodeID == "b" }
        }
        try #require(joined, "node b never wrote a heartbeat")
        try await Task.sleep(for: .seconds(2))
        #expect(try row(waiting)?.status == .queued, "the account's limit counts node a's send")
        let leasedByA = try store.read {
            try $0.query("SELECT event_id FROM fax_outbox WHERE node_id = 'a' AND status = 'pending' AND lease_until IS NOT NULL")
        }.map { $0.string("event_id") }
        #expect(!leasedByA.isEmpty, "node a holds leases on the webhooks it is delivering")
        nodeA.signal(SIGKILL)
        _ = await nodeA.exit(timeout: 5)
        let killedAt = Date()
        hole.close()
        let receiver = try ScriptServer("webhook_receiver.py", [String(hookPort), secret, hookLog])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "the webhook receiver did not start")

        var finals: [FaxTransmission] = []
        var takenOverAfter: Double?
        let end = Date().addingTimeInterval(150)
        while Date() < end {
            let rows = try uuids.compactMap(row)
            if takenOverAfter == nil, rows.first(where: { $0.uuid == sending.uuid })?.error?.contains("node a stopped") == true {
                takenOverAfter = Date().timeIntervalSince(killedAt)
            }
            finals = rows.filter(\.status.isFinal)
            if finals.count == 2 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let states = try uuids.compactMap(row).map { "\($0.status) on \($0.nodeID ?? "-"): \($0.error ?? "")" }
        try #require(finals.count == 2, "both sends finish on node b: \(states)")
        #expect(try store.read { try $0.transmissions() }.count == 2, "no send was duplicated")
        let resumed = try #require(finals.first { $0.uuid == sending.uuid })
        let second = try #require(finals.first { $0.uuid == waiting })
        // Node b may have to retry a call that failed the ordinary way (the loaded machine can lose
        // a G.711 call between its processes); what is checked is that only the kill interrupted.
        #expect(resumed.status == .completed && resumed.attempts >= 2 && resumed.nodeID == "b",
                "\(resumed.status) after \(resumed.attempts) attempts on \(resumed.nodeID ?? "-"): \(resumed.error ?? "")")
        #expect(second.status == .completed && second.nodeID == "b", "\(second.status) on \(second.nodeID ?? "-"): \(second.error ?? "")")
        let attempts = try store.read { try $0.attempts(transmissionID: resumed.id) }.map(\.result)
        let secondAttempts = try store.read { try $0.attempts(transmissionID: second.id) }.map(\.result)
        #expect(attempts.first == "interrupted" && attempts.last == "completed" && attempts.count == resumed.attempts
                && !attempts.dropFirst().contains("interrupted"), "\(attempts)")
        #expect(secondAttempts.last == "completed" && secondAttempts.count == second.attempts && !secondAttempts.contains("interrupted"),
                "\(secondAttempts)")
        let retried = (resumed.attempts - 2) + (second.attempts - 1)
        if retried > 0 { print("cluster: node b retried \(retried) ordinary failures: \(attempts), \(secondAttempts)") }
        print("cluster: node b took node a's send over \(takenOverAfter.map { String(format: "%.1f", $0) } ?? "never") s after kill -9 (lease 3 s)")
        // The lease is 3 s and b looks every second: it took the send over within a few seconds
        // (then dialled it when the account's line was free).
        #expect((takenOverAfter ?? 99) < 15, "taken over \(takenOverAfter.map { String(format: "%.1f", $0) } ?? "never") s after the kill")
        let logs = try store.read { try $0.logs(transmissionID: resumed.id) }.map(\.message)
        #expect(logs.contains { $0.contains("node a stopped during attempt 1") }, "\(logs)")
        // The far engine saw three calls: the one cut by the kill, then the two complete faxes
        // (and any ordinary retry).
        let received = await far.outcomes.next(count: 3 + retried, timeout: 30)
        #expect(received.filter(\.success).count == 2 && received.count == 3 + retried, "\(received.map { "\($0.t30Name) \($0.detail ?? "")" })")
        // Both nodes' dispatchers worked the one outbox: every webhook event reached the receiver
        // exactly once (node b's, and whatever node a had queued or leased when it died).
        var entries: [OutboxEntry] = []
        let outboxDeadline = Date().addingTimeInterval(60)
        repeat {
            entries = try await offPool { try store.read { try $0.outbox(status: nil, limit: 100) } }.filter { $0.channel == .webhook }
            if !entries.isEmpty && entries.allSatisfy({ $0.status != "pending" }) { break }
            try await Task.sleep(for: .milliseconds(250))
        } while Date() < outboxDeadline
        let logged = ((try? String(contentsOfFile: hookLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        let ids = logged.compactMap { $0["id"] as? String }
        let events = logged.compactMap { $0["event"] as? String }
        print("cluster: webhooks \(events.sorted()) from \(entries.count) outbox entries")
        #expect(entries.count >= 4 && entries.allSatisfy { $0.status == "delivered" }, "\(entries.map { "\($0.event) \($0.status)" })")
        #expect(ids.count == entries.count && Set(ids) == Set(entries.map(\.eventID)), "each event id once: \(ids)")
        #expect(Set(leasedByA).isSubset(of: Set(ids)), "the events node a died delivering were delivered by node b")
        // Node b's status lists both nodes, node a dead.
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(httpB)/admin/status")
        request.headers.add(name: "Authorization", value: "Bearer \(Self.adminToken)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        let status = try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any])
        let listed = (status["nodes"] as? [[String: Any]] ?? []).map { "\($0["node_id"] ?? "-") \($0["alive"] as? Bool == true ? "alive" : "dead")" }
        #expect(listed == ["a dead", "b alive"], "\(status["nodes"] ?? "no nodes")")
        nodeB.signal(SIGTERM)
        let exited = await nodeB.exit(timeout: 30)
        #expect(exited == 0, "node b after SIGTERM: \(exited.map(String.init) ?? "still running"); its log: \(dataB)/faxd.log")
    }
}
