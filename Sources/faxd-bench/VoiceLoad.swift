import AsyncHTTPClient
import ArgumentParser
import Engine
import FaxdTesting
import Foundation
import NIOCore
import NIOHTTP1

/// `faxd-bench voice`: N bridged pairs of voice legs (2N legs) in a `faxd serve` process, placed
/// through its public API (`POST /v2/calls`, the second leg of each pair `link_to` the first,
/// then `bridge`), every leg answered by SIPp with `-rtp_echo` (each packet faxd sends comes
/// back, so every leg receives 50 packets a second). Over a steady window it reads the daemon's
/// CPU (/proc), RSS and per-shard tick lateness (status-file histograms).
struct VoiceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voice",
        abstract: "Bridged voice calls through faxd serve's API into SIPp (-rtp_echo): CPU per leg, tick lateness, RSS.")

    @Option(help: "Bridged pairs (legs = 2 x pairs).")
    var pairs = 500

    @Option(help: "Dials per second (API requests to POST /v2/calls).")
    var rate = 50.0

    @Option(help: "Seconds of steady, bridged media measured.")
    var hold = 60

    @OptionGroup var receiverOptions: ReceiverOptions

    func run() throws {
        guard SIPp.isInstalled else { throw ValidationError("sipp is not installed (apt install sip-tester)") }
        let sippPort = receiverOptions.sipPort + 1
        let httpPort = receiverOptions.sipPort + 2
        let receiver = try ReceiverDaemon(executable: receiverOptions.executable, sipPort: receiverOptions.sipPort,
                                          rtpPorts: 20000...29999, shards: receiverOptions.shards, extraConfig: """
                                            trunks:
                                              - name: far
                                                domain: 127.0.0.1:\(sippPort)
                                            http:
                                              rate_limit_per_s: 100000
                                              rate_limit_burst: 1000000
                                            """, httpPort: httpPort)
        defer { receiver.stop() }
        guard !receiver.apiKey.isEmpty else { throw BenchError("faxd account add printed no api_key") }
        let legs = pairs * 2
        let sipp = SIPp.launch(scenario: "uas_voice_echo.xml", target: nil, localPort: sippPort, mediaPort: 39100, calls: legs,
                               timeout: 3600, extraArguments: ["-rtp_echo", "-l", String(legs + 10)])
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { try? client.syncShutdown() }
        let api = BenchAPI(client: client, base: "http://127.0.0.1:\(httpPort)", key: receiver.apiKey)
        Thread.sleep(forTimeInterval: 1)  // SIPp binds its port
        let idleRSS = receiver.probe.residentBytes() ?? 0
        print("# voice: \(pairs) bridged pairs (\(legs) legs) at \(rate) dials/s, \(hold) s measured; SIPp -rtp_echo answers")

        // Dial: A, then B linked to A, paced on absolute deadlines.
        var pairIDs: [(String, String)] = []
        var refused: [String: Int] = [:]
        let started = Date()
        for i in 0..<pairs {
            var ids: [String] = []
            for (j, to) in ["1555\(String(format: "%07d", 2 * i))", "1555\(String(format: "%07d", 2 * i + 1))"].enumerated() {
                let due = started.addingTimeInterval(Double(2 * i + j) / rate)
                if due.timeIntervalSinceNow > 0 { Thread.sleep(forTimeInterval: due.timeIntervalSinceNow) }
                var body: [String: Any] = ["to": to, "timeout_secs": 60]
                if let first = ids.first { body["link_to"] = first }
                let (status, json) = api.post("/v2/calls", body)
                if status == 200, let id = (json["data"] as? [String: Any])?["call_control_id"] as? String {
                    ids.append(id)
                } else {
                    refused["dial \(status)", default: 0] += 1
                }
                // B can link to A only once A is up: wait for it (bounded).
                if j == 0, let a = ids.first { _ = api.waitActive(a, timeout: 30) }
            }
            if ids.count == 2 { pairIDs.append((ids[0], ids[1])) }
            if i % 50 == 49 { print("  dialled \(i + 1)/\(pairs) pairs, \(Int(Date().timeIntervalSince(started))) s") }
        }
        var bridged = 0
        for (a, b) in pairIDs {
            guard api.waitActive(b, timeout: 30) else { refused["B not answered", default: 0] += 1; continue }
            let (status, _) = api.post("/v2/calls/\(a)/actions/bridge", ["call_control_id": b])
            if status == 200 { bridged += 1 } else { refused["bridge \(status)", default: 0] += 1 }
        }
        print("  \(bridged)/\(pairs) pairs bridged after \(Int(Date().timeIntervalSince(started))) s")
        Thread.sleep(forTimeInterval: 3)  // every bridge in place, status file rewritten

        guard let before = receiver.status(), let cpuBefore = receiver.probe.cpuSeconds() else {
            throw BenchError("the faxd under test stopped; its log: \(receiver.logPath)\n" + tail(of: receiver.logPath))
        }
        Thread.sleep(forTimeInterval: Double(hold))
        guard let after = receiver.status(), let cpuAfter = receiver.probe.cpuSeconds() else {
            throw BenchError("the faxd under test died during the window; its log: \(receiver.logPath)\n" + tail(of: receiver.logPath))
        }
        let rss = receiver.probe.residentBytes() ?? 0
        let liveLegs = after.activeChannels
        let lateness = zip(after.shards, before.shards).map { StepResult.Lateness($0.latenessCounts.subtracting($1.latenessCounts)) }
        let cpuPerLegSecond = (cpuAfter - cpuBefore) / Double(max(1, liveLegs) * hold)

        for (a, b) in pairIDs { _ = api.post("/v2/calls/\(a)/actions/hangup", [:]); _ = api.post("/v2/calls/\(b)/actions/hangup", [:]) }
        let sippResult = sipp.waitSynchronously()

        print("| pairs | legs bridged | legs with media in window | CPU ms per leg-s | tick lateness p50/p99/max ms per shard | RSS per leg |")
        print("|---:|---:|---:|---:|---|---:|")
        print(String(format: "| %d | %d | %d | %.3f | %@ | %.0f KB |", pairs, bridged * 2, liveLegs, cpuPerLegSecond * 1000,
                     lateness.map(Report.lateness).joined(separator: " · "), Double(max(0, rss - idleRSS)) / 1024 / Double(max(1, liveLegs))))
        if !refused.isEmpty { print("refused: " + refused.map { "\($0.value)x \($0.key)" }.joined(separator: ", ")) }
        print("SIPp exit \(sippResult.status); faxd log: \(receiver.logPath)")
        if bridged < pairs || liveLegs < legs { throw ExitCode(1) }
    }
}

/// The API calls the voice benchmark makes, synchronously.
struct BenchAPI {
    let client: HTTPClient
    let base: String
    let key: String

    func post(_ path: String, _ body: [String: Any]) -> (Int, [String: Any]) {
        request(.POST, path, body: body)
    }

    func request(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil) -> (Int, [String: Any]) {
        guard var request = try? HTTPClient.Request(url: base + path, method: method) else { return (0, [:]) }
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let body, let data = try? JSONSerialization.data(withJSONObject: body) {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .data(data)
        }
        guard let response = try? client.execute(request: request, deadline: .now() + .seconds(30)).wait() else { return (0, [:]) }
        let bytes = response.body.map { Data($0.readableBytesView) } ?? Data()
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] ?? [:])
    }

    /// Polls the call until it is active (true) or ended or `timeout` passes (false).
    func waitActive(_ id: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let (status, json) = request(.GET, "/api/call-status/status/\(id)")
            if status == 200, json["status"] as? String == "active" { return true }
            if status == 200, json["status"] as? String == "ended" { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}
