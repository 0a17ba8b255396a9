import ChildProcess
import FaxdTesting
import Foundation
import Store
import Testing

/// The outbox across a real kill -9 of `faxd serve`.
@Suite struct DeliveryProcessTests {
    @Test func killDuringBackoffStillDeliversAfterRestart() async throws {
        let data = Fixtures.scratchDirectory("outbox-kill")
        let config = data + "/faxd.yaml"
        // Sends go to a trunk nobody answers; only the fax.queued event matters here.
        try """
            trunks:
              - name: carrier
                domain: 127.0.0.1:9
            delivery:
              allow_private_targets: true
              retry_delays_s: [3]
              jitter: 0
              poll_interval_ms: 100
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let hookPort = TestPorts.port()
        try await FaxdProcess.run(["account", "add", "--number", "15551112222", "--config", config, "--data-dir", data])
        let added = try await FaxdProcess.run(["webhook", "add", "--account", "15551112222", "--url", "http://127.0.0.1:\(hookPort)/hook",
                                               "--events", "fax.queued", "--config", config, "--data-dir", data])
        let hook = try #require(try JSONSerialization.jsonObject(with: Data(added.utf8)) as? [String: Any])
        let secret = try #require(hook["secret"] as? String)
        let log = data + "/requests.jsonl"
        let receiver = try ScriptServer("webhook_receiver.py", [String(hookPort), secret, log, "--fail-first", "1"])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        try await FaxdProcess.run(["fax", "send", "--account", "15551112222", "--to", "15557654321", "--file", Fixtures.threePageLight,
                                   "--config", config, "--data-dir", data])

        func lines() -> [[String: Any]] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        let ports = TestPorts.allocate()
        let arguments = ["serve", "--http-listen", "127.0.0.1:0", "--config", config, "--data-dir", data, "--sip-listen", "127.0.0.1:\(ports.sip)",
                         "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)"]
        let first = try FaxdProcess(arguments)
        defer { first.signal(SIGKILL) }
        let deadline = Date().addingTimeInterval(20)
        while lines().isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        try #require(lines().count == 1, "the first attempt reached the receiver: \(first.standardError())")
        // Kill it in the backoff, that is once the failed attempt is on record (killed between the
        // receiver's answer and that write, the attempt is simply made again: at least once).
        let store = try FaxStore(path: data + "/faxd.sqlite")
        var recorded = false
        while !recorded && Date() < deadline {
            recorded = try store.read { try $0.outbox(status: "pending", limit: 5) }.contains { $0.attempts == 1 }
            if !recorded { try await Task.sleep(for: .milliseconds(20)) }
        }
        try #require(recorded, "the failed attempt was recorded")
        first.signal(SIGKILL)
        _ = await first.exit(timeout: 5)

        let second = try FaxdProcess(arguments)
        defer { second.signal(SIGKILL) }
        let end = Date().addingTimeInterval(20)
        while lines().count < 2 && Date() < end { try await Task.sleep(for: .milliseconds(50)) }
        // The receiver logs before it answers: wait for faxd to record the answer, then stop it
        // (stopped in between, the delivery would be made again after the next start: at least once).
        while (try store.read { try $0.outbox(status: "delivered", limit: 5) }).isEmpty && Date() < end {
            try await Task.sleep(for: .milliseconds(50))
        }
        second.signal(SIGTERM)
        #expect(await second.exit(timeout: 15) == 0)
        let seen = lines()
        #expect(seen.map { $0["status"] as? Int } == [500, 200], "\(seen)")
        #expect(Set(seen.compactMap { $0["id"] as? String }).count == 1, "one event id across the kill")
        #expect(seen.allSatisfy { $0["fax_ok"] as? Bool == true && $0["std_ok"] as? Bool == true && $0["event"] as? String == "fax.queued" })
        let entry = try #require(try store.read { try $0.outbox(status: "delivered", limit: 5) }.first)
        #expect(entry.attempts == 2 && entry.event == "fax.queued")
    }
}
