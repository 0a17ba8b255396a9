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
/// sent document. First 300 faxes: each node takes within 15% of a third. Then 150 more, and one
/// node is killed (-9) while they run: Kamailio marks it down within 3 s, every fax started after
/// the kill completes on the two others, and the only faxes lost are those the dead node was
/// receiving.
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
        for n in 1...3 {
            let data = Fixtures.scratchDirectory("clusterload-\(n)")
            let ports = TestPorts.allocate(blocks: 4)
            let config = data + "/faxd.yaml"
            try """
                store: "\(url)"
                node_id: c\(n)
                processing:
                  node_lease_s: 5
                  account_inbound_calls: 0
                media:
                  silence_timeout_s: 5
                """.write(toFile: config, atomically: true, encoding: .utf8)
            if n == 1 {
                _ = try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--plan", "enterprise", "--config", config, "--data-dir", data])
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

        // Phase 2: 150 more; node c3 is killed when the 61st starts (20 have ended, 40 are up).
        let killedAt = Mutex<Date?>(nil)
        let victim = nodes[2]
        let second = await run(150, concurrent: 40) { i in
            if i == 60 {
                victim.process.signal(SIGKILL)
                killedAt.withLock { $0 = Date() }
            }
        }
        let kill = try #require(killedAt.withLock { $0 })
        let routedToVictim = lines.withLock { $0 }.filter { $0.1.contains("new call") && $0.1.hasSuffix("to sip:127.0.0.1:\(victim.sip)") }
        let lastRouted = routedToVictim.map(\.0).max().map { $0.timeIntervalSince(kill) }
        print("cluster: the last INVITE Kamailio routed to the killed node left \(lastRouted.map { String(format: "%.1f", $0) } ?? "-") s after the kill")
        #expect((lastRouted ?? 0) <= 3, "no new INVITE goes to the killed node 3 s after the kill")
        #expect(kamailio.log.contains("faxd node down"), "Kamailio marked a node down")
        let after = second.filter { $0.started > kill }
        let afterOK = after.filter { $0.outcome?.success == true }.count
        let lost = second.filter { $0.outcome?.success != true }
        print("cluster: kill -9 of \(victim.id) as the 61st of 150 faxes started: \(afterOK) of \(after.count) started after the kill completed; \(lost.count) lost in all")
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
    }
}
