import AsyncHTTPClient
import FaxdTesting
import Foundation
import NIOCore
import NIOHTTP1
import Store
import Testing

/// Three `faxd serve` nodes on one PostgreSQL database take 1,000 sends through their three APIs
/// (ten requests of 100 numbers, spread over the nodes) and dial each exactly once: the far end
/// (SIPp, answering every INVITE 404, a final failure faxd never retries) takes exactly 1,000
/// calls, and the database holds 1,000 attempts, one per send. Real processes, real sockets.
/// A thousand calls in about 20 s load both cores: it runs in `./scripts/test --cluster`
/// (FAXD_CLUSTER=1), not beside the real-time tests of the main run.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["FAXD_CLUSTER"] != nil, "the cluster run: ./scripts/test --cluster"))
struct ClusterSendTests {
    @Test func aThousandSendsOnThreeNodesAreAThousandDials() async throws {
        let location = try await TestStores.freshLocation(.postgres, "thousand")
        guard case .postgres(let place) = location else { Issue.record("not a PostgreSQL location"); return }
        let url = try await offPool { try PostgresServer.running().url(database: place.database) }
        let far = TestPorts.allocate()
        let sipp = SIPp.launch(scenario: "uas_not_found.xml", target: nil, localPort: far.sip, mediaPort: Int(far.rtp.lowerBound),
                               calls: 1000, timeout: 400)
        try #require(await TestPorts.waitUntilBound(udpPort: far.sip), "SIPp did not start listening")

        var nodes: [(process: FaxdProcess, http: Int, sip: Int)] = []
        defer { for node in nodes { node.process.signal(SIGKILL) } }
        var apiKey = ""
        for n in 1...3 {
            let data = Fixtures.scratchDirectory("thousand-\(n)")
            let ports = TestPorts.allocate()
            let http = TestPorts.port()
            let config = data + "/faxd.yaml"
            try """
                store: "\(url)"
                node_id: n\(n)
                trunks:
                  - { name: carrier, domain: "127.0.0.1:\(far.sip)" }
                processing:
                  scheduler_interval_ms: 200
                  node_lease_s: 10
                http:
                  listen: 127.0.0.1:\(http)
                  rate_limit_burst: 100
                """.write(toFile: config, atomically: true, encoding: .utf8)
            if n == 1 {
                let added = try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--plan", "enterprise", "--max-sends", "30",
                                                       "--config", config, "--data-dir", data])
                apiKey = try #require((try JSONSerialization.jsonObject(with: Data(added.utf8)) as? [String: Any])?["api_key"] as? String)
            }
            let process = try FaxdProcess(["serve", "--config", config, "--data-dir", data, "--sip-listen", "127.0.0.1:\(ports.sip)",
                                           "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)"], logFile: data + "/faxd.log")
            nodes.append((process, http, ports.sip))
        }
        for node in nodes { try #require(await TestPorts.waitUntilBound(udpPort: node.sip), "a node did not start listening") }

        func call(_ http: Int, _ path: String, body: [UInt8]) async throws -> (Int, String) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(http)\(path)")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            return (Int(response.status.code), text)
        }
        let document = [UInt8](FileManager.default.contents(atPath: Fixtures.threePageLight)!)
        for node in nodes {
            // Uploads stay on the node that took them: each node gets its own copy.
            var uploaded = (0, "")
            let deadline = Date().addingTimeInterval(60)
            repeat {
                uploaded = (try? await call(node.http, "/api/fax/files/?filename=doc.tif", body: document)) ?? (0, "")
                if uploaded.0 == 0 { try await Task.sleep(for: .milliseconds(200)) }
            } while uploaded.0 == 0 && Date() < deadline
            try #require(uploaded.0 == 201, "upload: \(uploaded)")
        }
        for request in 0..<10 {
            let numbers = (0..<100).map { "1555\(String(format: "%03d", request))\(String(format: "%04d", $0))" }.joined(separator: ",")
            let body = Array(#"{"filename":"doc.tif","numbers":"\#(numbers)"}"#.utf8)
            let (status, text) = try await call(nodes[request % 3].http, "/api/fax/send/", body: body)
            try #require(status == 202, "send \(request): \(status) \(text.prefix(300))")
        }

        let store = try await TestStores.open(location)
        var finished = 0
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            finished = try await offPool {
                try store.read { try $0.query("SELECT COUNT(*) AS n FROM fax_transmissions WHERE status = 'failed'").first?.int("n") ?? 0 }
            }
            if finished == 1000 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let result = await sipp.result()
        #expect(finished == 1000, "sends finished: \(finished) of 1000")
        let (attempts, sends, byNode, statuses) = try await offPool { () throws -> (Int, Int, [String: Int], [Int: Int]) in
            try store.read { db in
                let attempts = try db.query("SELECT COUNT(*) AS n FROM fax_attempts").first?.int("n") ?? 0
                let sends = try db.query("SELECT COUNT(*) AS n FROM fax_transmissions WHERE attempts = 1").first?.int("n") ?? 0
                var byNode: [String: Int] = [:]
                for row in try db.query("SELECT node_id, COUNT(*) AS n FROM fax_transmissions GROUP BY node_id") {
                    byNode[row.optionalString("node_id") ?? "-"] = row.int("n")
                }
                var statuses: [Int: Int] = [:]
                for row in try db.query("SELECT sip_status, COUNT(*) AS n FROM fax_transmissions GROUP BY sip_status") {
                    statuses[row.optionalInt("sip_status") ?? 0] = row.int("n")
                }
                return (attempts, sends, byNode, statuses)
            }
        }
        print("cluster: 1,000 API sends on 3 nodes: \(attempts) attempts, dialled by \(byNode.sorted { $0.key < $1.key }), SIP statuses \(statuses)")
        #expect(attempts == 1000 && sends == 1000, "\(attempts) attempts; \(sends) sends with exactly one")
        #expect(statuses == [404: 1000])
        #expect(result.status == 0, "SIPp took exactly 1,000 calls, each answered 404: \(result.output.suffix(1500))")
        // SIPp's own count, from its final statistics screen ("Incoming calls created | period | total").
        let incoming = result.output.split(separator: "\n").last { $0.contains("Incoming calls created") }
            .flatMap { Int($0.split(separator: "|").last?.trimmingCharacters(in: .whitespaces) ?? "") }
        #expect(incoming == 1000, "SIPp counted \(incoming.map(String.init) ?? "nothing") incoming calls")
    }
}
