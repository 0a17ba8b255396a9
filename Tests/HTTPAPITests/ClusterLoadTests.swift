import Engine
import Fax
import FaxdTesting
import Foundation
import Store
import Synchronization
import Testing

/// The cluster run (issue 19), long, so only in `./scripts/test --cluster` (FAXD_CLUSTER=1):
/// Kamailio in front of three `faxd serve` nodes on one PostgreSQL database, faxes from an
/// in-process sending engine into Kamailio, every page of every received fax compared with the
/// sent document. First 300 faxes: each node takes within 15% of a third. Then 150 more and 12
/// sends queued for the nodes to dial (4 each, `processing.node_max_sends`), and one node is
/// killed (-9) while they run: Kamailio marks it down within 3 s, every fax started after the kill
/// completes on the two others, the only faxes lost are those the dead node was receiving, the
/// dead node's sends are dialled again once each by the others for the pages the far end had not
/// confirmed, and every webhook event reaches a receiver that dedups nothing once (twice only for
/// an event the dead node was delivering at the instant it died).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["FAXD_CLUSTER"] != nil, "the cluster run: ./scripts/test --cluster"))
struct ClusterLoadTests {
    struct Sent: Sendable {
        var started: Date
        var outcome: FaxOutcome?
    }

    @Test func faxesThroughKamailioSpreadOverThreeNodesAndSurviveAKill() async throws {
        let location = try await TestStores.freshLocation(.postgres, "clusterload")
        guard case .postgres(let place) = location else { Issue.record("not a PostgreSQL location"); return }
        let url = try await offPool { try PostgresServer.running().url(database: place.database) }
        var nodes: [(id: String, process: FaxdProcess, sip: Int)] = []
        defer { for node in nodes { node.process.signal(SIGKILL) } }
        // The far end of the nodes' sends.
        let far = try TestEngine(label: "clusterload-far", portBlocks: 2) { $0.media.silenceTimeoutSeconds = 5 }
        defer { far.stop() }
        let hookPort = TestPorts.port()
        let hookLog = Fixtures.scratchDirectory("clusterload-hooks") + "/hooks.jsonl"
        var configs: [String] = []
        var dataDirectories: [String] = []
        var receiver: ScriptServer?
        defer { receiver?.stop() }
        for n in 1...3 {
            let data = Fixtures.scratchDirectory("clusterload-\(n)")
            let ports = TestPorts.allocate(blocks: 4)
            let config = data + "/faxd.yaml"
            try """
                store: "\(url)"
                node_id: c\(n)
                trunks:
                  - { name: carrier, domain: "127.0.0.1:\(far.sipPort)", inbound_sources: [127.0.0.1] }
                processing:
                  node_lease_s: 5
                  account_inbound_calls: 0
                  node_max_sends: 4
                delivery:
                  allow_private_targets: true
                  poll_interval_ms: 200
                  retry_delays_s: [1]
                media:
                  silence_timeout_s: 5
                """.write(toFile: config, atomically: true, encoding: .utf8)
            configs.append(config)
            dataDirectories.append(data)
            if n == 1 {
                _ = try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--plan", "enterprise", "--max-sends", "12",
                                               "--config", config, "--data-dir", data])
                let hooked = try await FaxdProcess.run(["webhook", "add", "--account", "15551234567", "--url", "http://127.0.0.1:\(hookPort)/h",
                                                        "--events", "fax.received,fax.queued,fax.sent,fax.failed,fax.retry_scheduled",
                                                        "--config", config, "--data-dir", data])
                let secret = try #require((try JSONSerialization.jsonObject(with: Data(hooked.utf8)) as? [String: Any])?["secret"] as? String)
                receiver = try ScriptServer("webhook_receiver.py", [String(hookPort), secret, hookLog])
                try #require(await receiver!.waitUntilReady(), "the webhook receiver did not start")
            }
            let process = try FaxdProcess(["serve", "--http-listen", "127.0.0.1:0", "--config", config, "--data-dir", data,
                                           "--sip-listen", "127.0.0.1:\(ports.sip)", "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)"],
                                          logFile: data + "/faxd.log")
            nodes.append(("c\(n)", process, ports.sip))
        }
        for node in nodes { try #require(await TestPorts.waitUntilBound(udpPort: node.sip), "node \(node.id) did not start listening") }
        let kamailioPort = TestPorts.port()
        let kamailio = try Kamailio(port: kamailioPort, nodes: nodes.map(\.sip), pingInterval: 1, nodeTimeoutMilliseconds: 1000)
        defer { kamailio.stop() }
        try #require(await kamailio.ready(), "Kamailio did not answer: \(kamailio.log.suffix(1500))")
        // Every node probed up before the first call (a node not yet probed would be skipped).
        try await Task.sleep(for: .seconds(3))
        // Kamailio's log lines carry no time: stamp each as it appears, to know when the last
        // call was routed to the killed node.
        let lines = Mutex<[(Date, String)]>([])
        let tail = Task.detached {
            var offset = 0
            while !Task.isCancelled {
                if let data = FileManager.default.contents(atPath: kamailio.logFile), data.count > offset {
                    let text = String(decoding: data[offset...], as: UTF8.self)
                    if let end = text.lastIndex(of: "\n") {
                        let complete = text[...end]
                        offset += complete.utf8.count
                        let now = Date()
                        lines.withLock { $0 += complete.split(separator: "\n").map { (now, String($0)) } }
                    }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { tail.cancel() }

        let sender = try TestEngine(label: "clusterload-tx", portBlocks: 6) { $0.media.silenceTimeoutSeconds = 5 }
        defer { sender.stop() }
        var faxOptions = sender.daemon.configuration.fax.options
        faxOptions.stationID = "15550001111"
        let options = faxOptions
        let destination = "sip:15551234567@127.0.0.1:\(kamailioPort)"

        /// Sends `count` faxes, at most `concurrent` at once; `onStarted(i)` runs as fax i is handed over.
        func run(_ count: Int, concurrent: Int, onStarted: @escaping @Sendable (Int) -> Void = { _ in }) async -> [Sent] {
            await withTaskGroup(of: (Int, Sent).self) { group in
                var results = [Sent](repeating: Sent(started: Date(), outcome: nil), count: count)
                var next = 0
                func launch() {
                    let i = next
                    next += 1
                    group.addTask {
                        let started = Date()
                        onStarted(i)
                        let outcome = await sender.send(OutboundFax(destination: destination, document: Fixtures.threePageLight, options: options),
                                                        timeout: 240)
                        return (i, Sent(started: started, outcome: outcome))
                    }
                }
                while next < min(concurrent, count) { launch() }
                for await (i, sent) in group {
                    results[i] = sent
                    if next < count { launch() }
                }
                return results
            }
        }

        let store = try await TestStores.open(location)
        func received() async throws -> [FaxTransmission] {
            try await offPool { try store.read { try $0.transmissions(direction: .inbound, limit: 1000) } }
        }

        /// The received records once `count` are final (the processor finishes each after its call).
        func settled(_ count: Int) async throws -> [FaxTransmission] {
            var rows: [FaxTransmission] = []
            let deadline = Date().addingTimeInterval(90)
            repeat {
                rows = try await received()
                if rows.count >= count && rows.allSatisfy(\.status.isFinal) { break }
                try await Task.sleep(for: .milliseconds(250))
            } while Date() < deadline
            return rows
        }

        // Phase 1: 300 faxes, all nodes up.
        let first = await run(300, concurrent: 40)
        var rows = try await settled(300)
        let firstOK = first.filter { $0.outcome?.success == true }.count
        var byNode = Dictionary(grouping: rows, by: { $0.nodeID ?? "-" }).mapValues(\.count)
        print("cluster: 300 faxes through Kamailio: \(firstOK) completed, by node \(byNode.sorted { $0.key < $1.key })")
        #expect(firstOK == 300, "\(first.compactMap { $0.outcome }.filter { !$0.success }.prefix(3).map { "\($0.hangupCause) \($0.detail ?? "")" })")
        for node in nodes {
            let share = byNode[node.id] ?? 0
            #expect(abs(Double(share) - 100) <= 100 * 0.15, "node \(node.id) took \(share) of 300 (even: 100)")
        }
        var damaged = 0
        for row in rows where row.status == .completed {
            if let file = row.filePath, !PageCheck.compare(sent: Fixtures.threePageLight, received: file).isEmpty { damaged += 1 }
        }
        #expect(damaged == 0 && rows.filter { $0.status == .completed }.count == 300, "every page of every fax intact")

        // Phase 2: 150 more, and 12 sends queued as the 46th starts (the nodes dial 4 each). From
        // the 61st start on (20 have ended, 40 are up) the store is watched, and node c3 is killed
        // the moment one of its sends is in flight with some but not all pages confirmed, so the
        // others resume it from the middle (how soon the CLI's sends are dialled varies with the
        // load: after 30 s any send of its in flight will do, after 60 s the kill comes anyway).
        let killedAt = Mutex<Date?>(nil)
        let killIndex = Mutex(0)
        let started = Atomic<Int>(0)
        let killer = Mutex<Task<Void, Never>?>(nil)
        let victim = nodes[2]
        let queueing = Mutex<Task<[String], any Error>?>(nil)
        let atKill = Mutex<(sends: [String], leases: [String])?>(nil)
        let configsAndData = Array(zip(configs, dataDirectories))
        let second = await run(150, concurrent: 40) { i in
            if i == 45 {
                queueing.withLock {
                    $0 = Task {
                        try await withThrowingTaskGroup(of: String.self) { group in
                            for n in 0..<12 {
                                let (config, data) = configsAndData[n % 3]
                                group.addTask {
                                    let json = try await FaxdProcess.run(["fax", "send", "--account", "15551234567", "--to", "1555765\(4400 + n)",
                                                                          "--file", Fixtures.threePageLight, "--config", config, "--data-dir", data])
                                    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
                                    return object?["uuid"] as? String ?? ""
                                }
                            }
                            return try await group.reduce(into: []) { $0.append($1) }
                        }
                    }
                }
            }
            started.add(1, ordering: .relaxed)
            if i == 60 {
                // From the 61st start on, the store is watched every 100 ms for the moment to kill.
                let task = Task { @Sendable in
                    let watching = Date()
                    while true {
                        let confirmed = (try? await offPool {
                            try store.read { db in
                                try db.query("""
                                    SELECT a.pages_confirmed FROM fax_transmissions t JOIN fax_attempts a ON a.transmission_id = t.id AND a.ended_at IS NULL
                                    WHERE t.node_id = ? AND t.direction = 'outbound' AND t.status IN ('dialing', 'transmitting')
                                    """, [victim.id]).map { $0.int("pages_confirmed") }
                            }
                        }) ?? []
                        let waited = Date().timeIntervalSince(watching)
                        if confirmed.contains(where: { (1...2).contains($0) }) || (waited > 30 && !confirmed.isEmpty) || waited > 60 { break }
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                    victim.process.signal(SIGKILL)
                    killedAt.withLock { $0 = Date() }
                    killIndex.withLock { $0 = started.load(ordering: .relaxed) }
                    // What the dead node held: its rows stay as they are until the take-over.
                    let held = try? await offPool {
                        try store.read { db in
                            (sends: try db.query("SELECT uuid FROM fax_transmissions WHERE node_id = ? AND direction = 'outbound' AND status IN ('dialing', 'transmitting')",
                                                 [victim.id]).map { $0.string("uuid") },
                             leases: try db.query("SELECT event_id FROM fax_outbox WHERE node_id = ? AND status = 'pending'", [victim.id]).map { $0.string("event_id") })
                        }
                    }
                    atKill.withLock { $0 = held }
                }
                killer.withLock { $0 = task }
            }
        }
        await killer.withLock { $0 }?.value
        let kill = try #require(killedAt.withLock { $0 })
        let sendUUIDs = try #require(try await queueing.withLock { $0 }?.value)
        let routedToVictim = lines.withLock { $0 }.filter { $0.1.contains("new call") && $0.1.hasSuffix("to sip:127.0.0.1:\(victim.sip)") }
        let lastRouted = routedToVictim.map(\.0).max().map { $0.timeIntervalSince(kill) }
        print("cluster: the last INVITE Kamailio routed to the killed node left \(lastRouted.map { String(format: "%.1f", $0) } ?? "-") s after the kill")
        #expect((lastRouted ?? 0) <= 3, "no new INVITE goes to the killed node 3 s after the kill")
        #expect(kamailio.log.contains("faxd node down"), "Kamailio marked a node down")
        let after = second.filter { $0.started > kill }
        let afterOK = after.filter { $0.outcome?.success == true }.count
        let lost = second.filter { $0.outcome?.success != true }
        print("cluster: kill -9 of \(victim.id) as fax \(killIndex.withLock { $0 }) of 150 started: \(afterOK) of \(after.count) started after the kill completed; \(lost.count) lost in all")
        #expect(afterOK == after.count, "every fax started after the kill completes on the other nodes")
        rows = try await settled(450 - lost.count)
        byNode = Dictionary(grouping: rows, by: { $0.nodeID ?? "-" }).mapValues(\.count)
        let completed = rows.filter { $0.status == .completed }
        var damagedAfter = 0
        for row in completed {
            if let file = row.filePath, !PageCheck.compare(sent: Fixtures.threePageLight, received: file).isEmpty { damagedAfter += 1 }
        }
        #expect(damagedAfter == 0, "every page of every completed fax intact")
        // A fax the sender saw confirmed is recorded with its three pages: completed, or, when the
        // killed node died before writing its record, partial with every page, finished from its
        // TIFF by a live node. Nothing is left "transmitting".
        let statuses = Dictionary(grouping: rows, by: \.status.rawValue).mapValues(\.count)
        print("cluster: received records \(statuses.sorted { $0.key < $1.key })")
        // Known gap (README): a fax the killed node confirmed (MCF) in its last moments may lack its
        // last page on disk; that can only be one of the calls the killed node had up.
        let cutOff = rows.filter { $0.nodeID == victim.id && $0.status != .completed }.count
        let confirmedWithoutPages = (450 - lost.count) - rows.filter { $0.pagesTransferred == 3 }.count
        print("cluster: \(cutOff) receives cut off on the killed node; \(max(0, confirmedWithoutPages)) faxes the sender saw confirmed lack pages")
        #expect(confirmedWithoutPages <= cutOff, "\(statuses)")
        #expect(!rows.contains { $0.status == .transmitting }, "the killed node's receives were finished by another node")
        #expect(Set(rows.map(\.uuid)).count == rows.count)
        // What the sender lost, the dead node was receiving when it died: nothing else.
        #expect(lost.count <= 40, "at most the calls in flight on the killed node: \(lost.count)")
        print("cluster: by node after both phases \(byNode.sorted { $0.key < $1.key })")

        // The sends: all completed; the dead node's dialled again once each by a live node, from
        // the first page the far end had not confirmed (or completed at the take-over when it had
        // confirmed them all); the others dialled once.
        var sends: [FaxTransmission] = []
        let sendDeadline = Date().addingTimeInterval(240)
        repeat {
            sends = try await offPool { try sendUUIDs.compactMap { uuid in try store.read { try $0.transmission(uuid: uuid) } } }
            if sends.count == 12 && sends.allSatisfy(\.status.isFinal) { break }
            try await Task.sleep(for: .milliseconds(500))
        } while Date() < sendDeadline
        let held = atKill.withLock { $0 } ?? (sends: [], leases: [])
        print("cluster: 12 sends queued during the load; \(held.sends.count) were in flight on the killed node, which held \(held.leases.count) webhook leases")
        #expect(sends.count == 12 && sends.allSatisfy { $0.status == .completed }, "\(sends.map { "\($0.status) \($0.error ?? "")" })")
        #expect(!held.sends.isEmpty, "the killed node had sends in flight")
        var dialled = 0
        var taken: [String] = []
        var retried = 0
        for t in sends {
            let attempts = try await offPool { try store.read { try $0.attempts(transmissionID: t.id) } }
            dialled += attempts.count
            if held.sends.contains(t.uuid) {
                let cut = try #require(attempts.first)
                taken.append(cut.result == "completed" ? "completed at the take-over" : "resumed from page \(cut.pagesConfirmed + 1)")
                if cut.result == "completed" {
                    #expect(attempts.count == 1 && cut.pagesConfirmed == 3, "completed at the take-over only with every page confirmed")
                } else {
                    #expect(cut.result == "interrupted" && attempts.count == 2 && attempts[1].result == "completed"
                            && attempts[1].firstPage == cut.pagesConfirmed, "\(attempts.map { "\($0.result ?? "-") from \($0.firstPage)" })")
                }
            } else {
                // Dialled once, or (a far end that failed a call under the load) again until done.
                #expect(attempts.last?.result == "completed" && !attempts.contains { $0.result == "interrupted" },
                        "\(attempts.map { $0.result ?? "-" })")
                retried += attempts.count - 1
            }
        }
        print("cluster: the killed node's sends: \(taken.sorted()); the others dialled again \(retried) times")
        // The far end saw one call per attempt, and each page at least once; a page twice only
        // when the dead node died between the far end's confirmation and writing it down.
        let farOutcomes = await far.outcomes.next(count: dialled, timeout: 60)
        let farPages = farOutcomes.map(\.pagesTransferred).reduce(0, +)
        print("cluster: the far end took \(farOutcomes.count) calls for \(dialled) attempts, \(farPages) pages for 36 sent")
        // Every send's last call succeeded at the far end, except one the dead node was carrying
        // when it died after the last page was confirmed (completed at the take-over, no new call).
        let completedAtTakeOver = taken.filter { $0.hasPrefix("completed") }.count
        let farSuccesses = farOutcomes.filter(\.success).count
        #expect(farOutcomes.count == dialled && farSuccesses >= 12 - completedAtTakeOver && farSuccesses <= 12 + retried,
                "\(farSuccesses) successful calls at the far end, \(completedAtTakeOver) sends completed at the take-over")
        #expect(farPages >= 36 && farPages - 36 <= held.sends.count + retried, "pages the far end received twice: \(farPages - 36)")

        // Webhooks: every event delivered, to a receiver that dedups nothing, once; twice only an
        // event the dead node was delivering when it died (its lease freed, so it went out again).
        var entries: [OutboxEntry] = []
        let outboxDeadline = Date().addingTimeInterval(120)
        repeat {
            entries = try await offPool { try store.read { try $0.outbox(status: nil, limit: 10_000) } }.filter { $0.channel == .webhook }
            if entries.allSatisfy({ $0.status != "pending" }) { break }
            try await Task.sleep(for: .milliseconds(500))
        } while Date() < outboxDeadline
        let logged = ((try? String(contentsOfFile: hookLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["id"] as? String
        }
        let times = Dictionary(logged.map { ($0, 1) }, uniquingKeysWith: +)
        let twice = times.filter { $0.value > 1 }.map(\.key)
        print("cluster: \(entries.count) webhook events, \(logged.count) requests received, \(twice.count) events twice")
        #expect(entries.allSatisfy { $0.status == "delivered" }, "\(entries.filter { $0.status != "delivered" }.prefix(5).map { "\($0.event) \($0.status)" })")
        #expect(Set(times.keys) == Set(entries.map(\.eventID)), "every event id reached the receiver")
        #expect(Set(twice).isSubset(of: Set(held.leases)), "only an event the dead node was delivering arrives twice: \(twice)")
    }
}
