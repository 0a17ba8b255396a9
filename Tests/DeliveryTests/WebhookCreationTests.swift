import Delivery
import Engine
import FaxdTesting
import Foundation
import Logging
import Store
import Synchronization
import Testing

/// Creating webhook endpoints (issue 18): a cap per account, and no internal targets, through the
/// API and the CLI; and no credentials from a webhook URL in the log.
@Suite struct WebhookCreationTests {
    static func body(_ url: String) -> [UInt8] { Array("{\"url\":\"\(url)\"}".utf8) }

    @Test func theAPIRefusesOneEndpointMoreThanTheLimit() async throws {
        let api = try await TestAPI(label: "hook-cap") {
            $0.delivery.maxWebhooksPerAccount = 2
            $0.delivery.allowPrivateTargets = true
        }
        defer { api.stop() }
        for i in 0..<2 {
            let made = try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key, body: Self.body("http://127.0.0.1:9/\(i)"))
            #expect(made.status == 201, "\(made.text)")
        }
        let third = try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key, body: Self.body("http://127.0.0.1:9/3"))
        #expect(third.status == 409 && third.errorCode == "too_many_webhooks", "\(third.text)")
        #expect(third.errorMessage?.contains("2 webhook endpoints") == true && third.errorMessage?.contains("max_webhooks_per_account") == true,
                "\(third.text)")
        // Per account: Bob still may; and Alice may again once she deleted one.
        #expect(try await api.request(.POST, "/api/fax/webhooks/", token: api.bob.key, body: Self.body("http://127.0.0.1:9/b")).status == 201)
        let list = try await api.request(.GET, "/api/fax/webhooks/", token: api.alice.key)
        let uuid = try #require((list.json?["webhooks"] as? [[String: Any]])?.first?["uuid"] as? String)
        #expect(try await api.request(.DELETE, "/api/fax/webhooks/\(uuid)/", token: api.alice.key).status == 204)
        #expect(try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key, body: Self.body("http://127.0.0.1:9/4")).status == 201)
    }

    @Test func theAPIRefusesAnInternalTargetNamingItsAddress() async throws {
        let api = try await TestAPI(label: "hook-ssrf")
        defer { api.stop() }
        for (url, address) in [("http://127.0.0.1:8080/admin", "127.0.0.1"), ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
                               ("http://[::ffff:10.0.0.1]/x", "::ffff:10.0.0.1"), ("http://[fd00::1]/x", "fd00::1"),
                               ("http://203.0.113.5/x", "203.0.113.5"), ("http://localhost:8080/x", "localhost resolves to")] {
            let refused = try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key, body: Self.body(url))
            #expect(refused.status == 400 && refused.errorCode == "internal_target", "\(url): \(refused.text)")
            #expect(refused.errorMessage?.contains(address) == true && refused.errorMessage?.contains("allow_private_targets") == true,
                    "\(url): \(refused.text)")
        }
        #expect((try await api.request(.GET, "/api/fax/webhooks/", token: api.alice.key).json?["webhooks"] as? [Any])?.isEmpty == true)
        // A name that does not resolve yet is taken (each delivery checks it); its credentials are not shown back.
        let made = try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key,
                                         body: Self.body("https://crm:S3CR3T@crm.invalid/fax?token=S3CR3T"))
        #expect(made.status == 201, "\(made.text)")
        #expect(made.json?["url"] as? String == "https://***@crm.invalid/fax?token=***" && !made.text.contains("S3CR3T"), "\(made.text)")
    }

    @Test func theCLIRefusesAnInternalTargetAndOneEndpointMoreThanTheLimit() async throws {
        let data = Fixtures.scratchDirectory("hook-cli")
        let strict = data + "/strict.yaml", open = data + "/open.yaml"
        try "delivery:\n  max_webhooks_per_account: 1\n".write(toFile: strict, atomically: true, encoding: .utf8)
        try "delivery:\n  max_webhooks_per_account: 1\n  allow_private_targets: true\n".write(toFile: open, atomically: true, encoding: .utf8)
        try await FaxdProcess.run(["account", "add", "--number", "15551112222", "--config", strict, "--data-dir", data])
        func add(_ url: String, _ config: String) async -> (Int32?, String) {
            guard let command = try? FaxdProcess(["webhook", "add", "--account", "15551112222", "--url", url, "--config", config, "--data-dir", data])
            else { return (nil, "") }
            let status = await command.exit(timeout: 30)
            return (status, command.standardError())
        }
        let refused = await add("http://127.0.0.1:8080/admin", strict)
        #expect(refused.0 != 0 && refused.1.contains("127.0.0.1") && refused.1.contains("allow_private_targets"), "\(refused)")
        let first = await add("http://127.0.0.1:9/hook", open)
        #expect(first.0 == 0, "\(first)")
        let second = await add("http://127.0.0.1:9/other", open)
        #expect(second.0 != 0 && second.1.contains("1 webhook endpoints") && second.1.contains("max_webhooks_per_account"), "\(second)")
        let store = try FaxStore(path: data + "/faxd.sqlite")
        #expect(try store.read { try $0.webhookCount(accountID: 1) } == 1)
    }

    /// A URL with a user and password, and a token in its query, delivered once with a failure
    /// and once with success: the log has every attempt, and neither credential.
    @Test func credentialsInAWebhookURLStayOutOfTheLog() async throws {
        let port = TestPorts.port()
        let directory = Fixtures.scratchDirectory("hook-log")
        let secret = WebhookSignature.newSecret()
        let receiver = try ScriptServer("webhook_receiver.py", [String(port), secret, directory + "/requests.jsonl", "--fail-first", "1"])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let store = try FaxStore(path: directory + "/faxd.sqlite")
        let eventID = "log-1"
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            let hook = try db.insert(FaxWebhook(accountID: account.id, url: "http://faxd:pa55-S3CR3T@127.0.0.1:\(port)/h?token=tok-S3CR3T&tenant=7",
                                                secret: secret, events: ["fax.received"]))
            try db.enqueue(OutboxEntry(eventID: eventID, channel: .webhook, event: "fax.received", accountID: account.id, transmissionID: nil,
                                       webhookID: hook.id, payloadJSON: #"{"event":"fax.received"}"#))
        }
        var settings = DeliverySettings()
        settings.allowPrivateTargets = true
        settings.retryDelaysSeconds = [0.2]
        settings.jitter = 0
        settings.pollIntervalMilliseconds = 100
        let capture = LogCapture()
        let dispatcher = OutboxDispatcher(store: store, settings: settings, userAgent: "faxd-test",
                                          logger: Logger(label: "faxd-test") { _ in CapturingLogHandler(capture: capture) })
        dispatcher.start()
        defer { dispatcher.stop() }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, try store.read({ try $0.outboxEntry(eventID: eventID) })?.status != "delivered" {
            try await Task.sleep(for: .milliseconds(50))
        }
        let entry = try #require(try store.read { try $0.outboxEntry(eventID: eventID) })
        #expect(entry.status == "delivered" && entry.attempts == 2, "\(entry)")
        let text = capture.text
        #expect(text.contains("delivery failed") && text.contains("delivered"), "\(text)")
        #expect(text.contains("to=http://***@127.0.0.1:\(port)/h?token=***&tenant=7"), "\(text)")
        #expect(!text.contains("S3CR3T"), "\(text)")
    }
}

/// Log lines kept in memory.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    /// Keeps `line`.
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    /// Everything so far, one record a line.
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

/// A swift-log handler writing `LEVEL message key=value...` into a `LogCapture`.
struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.append("\(event.level) \(event.message) " + merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " "))
    }
}
