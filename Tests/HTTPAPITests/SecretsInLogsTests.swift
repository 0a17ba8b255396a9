import AsyncHTTPClient
import FaxdTesting
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Secrets never reach the log: an operator's log at debug level, after API calls with a key,
/// admin calls with the token, a webhook delivery attempt and an SMTP attempt with a password,
/// contains none of them (issue 9).
@Suite struct SecretsInLogsTests {
    @Test func noSecretReachesTheLog() async throws {
        let data = Fixtures.scratchDirectory("secrets")
        let http = TestPorts.port()
        let smtp = TestPorts.port()
        let hook = TestPorts.port()
        let sipPorts = TestPorts.allocate()
        let adminToken = "admin-token-S3CR3T-0123456789"
        let smtpPassword = "smtp-password-S3CR3T-987"
        let config = data + "/faxd.yaml"
        try """
            trunks:
              - { name: loopback, inbound_sources: [127.0.0.0/8] }
              - { name: carrier, domain: "127.0.0.1:9" }
            processing:
              scheduler_interval_ms: 100
              retry: { max_attempts: 1 }
            delivery:
              smtp: { host: 127.0.0.1, port: \(smtp), username: faxd, password: \(smtpPassword), starttls: never, timeout_s: 2 }
              retry_delays_s: [1]
              poll_interval_ms: 100
              allow_private_targets: true
            http:
              listen: 127.0.0.1:\(http)
              admin_token: \(adminToken)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let added = try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--email", "desk@example.com",
                                               "--config", config, "--data-dir", data])
        let apiKey = try #require((try JSONSerialization.jsonObject(with: Data(added.utf8)) as? [String: Any])?["api_key"] as? String)
        let hooked = try await FaxdProcess.run(["webhook", "add", "--account", "15551234567", "--url", "http://127.0.0.1:\(hook)/h",
                                                "--events", "fax.queued,fax.failed", "--config", config, "--data-dir", data])
        let secret = try #require((try JSONSerialization.jsonObject(with: Data(hooked.utf8)) as? [String: Any])?["secret"] as? String)
        let log = data + "/faxd.log"
        let serve = try FaxdProcess(["serve", "--verbose", "--config", config, "--data-dir", data,
                                     "--sip-listen", "127.0.0.1:\(sipPorts.sip)", "--rtp-ports", "\(sipPorts.rtp.lowerBound)-\(sipPorts.rtp.upperBound)"],
                                    logFile: log)
        defer { serve.signal(SIGKILL) }
        try #require(await TestPorts.waitUntilBound(udpPort: sipPorts.sip), "faxd serve did not start")

        func call(_ method: HTTPMethod, _ path: String, token: String, body: [UInt8]? = nil) async throws -> Int {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(http)\(path)")
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            _ = try await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        }
        let pdf = [UInt8](FileManager.default.contents(atPath: Fixtures.path("three-page-light.pdf"))!)
        #expect(try await call(.POST, "/api/fax/files/?filename=doc.pdf", token: apiKey, body: pdf) == 201)
        #expect(try await call(.POST, "/api/fax/send/", token: apiKey, body: Array(#"{"filename":"doc.pdf","numbers":"15557654321"}"#.utf8)) == 202)
        #expect(try await call(.GET, "/admin/status", token: adminToken) == 200)
        #expect(try await call(.GET, "/api/fax/list/", token: "fax_wrong_key_S3CR3T") == 401)
        // Let the send fail (the trunk answers nothing), the webhook and the failure mail be tried.
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.contains("channel=email") && text.contains("channel=webhook") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        serve.signal(SIGTERM)
        _ = await serve.exit(timeout: 15)
        text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("delivery failed") && text.contains("channel=email") && text.contains("channel=webhook"),
                "the log shows the attempts: \(text.suffix(1500))")
        for (name, value) in [("API key", apiKey), ("webhook secret", secret), ("admin token", adminToken),
                              ("SMTP password", smtpPassword), ("wrong key", "fax_wrong_key_S3CR3T")] {
            #expect(!text.contains(value), "the \(name) is in the log")
        }
        #expect(!text.contains("S3CR3T"))
    }
}
