import ChildProcess
import Delivery
import Engine
import Fax
import FaxdTesting
import Foundation
import Processing
import Store
import Testing

/// The outbox against real receivers: a Python HTTP server that verifies both signatures itself,
/// and an aiosmtpd SMTP server with STARTTLS and AUTH.
@Suite struct DeliveryTests {
    struct Request: Decodable {
        var id: String
        var event: String?
        var fax_ok: Bool
        var std_ok: Bool
        var fresh: Bool
        var status: Int
    }

    func requests(_ log: String) -> [Request] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }

    /// A service whose account has one webhook to a receiver on `port`, and one queued event.
    func serviceWithEvent(label: String, port: Int, secret: String, directory: String? = nil,
                          configure: @escaping (inout FaxdConfiguration) -> Void = { _ in }) throws -> (TestService, String) {
        let eventID = "t-\(UUID().uuidString.prefix(8)):fax.received:1:webhook"
        let service = try TestService(label: label, configure: {
            $0.delivery.retryDelaysSeconds = [0.3]
            $0.delivery.jitter = 0
            $0.delivery.pollIntervalMilliseconds = 100
            $0.delivery.allowPrivateTargets = true  // the receiver is on 127.0.0.1
            configure(&$0)
        }, provision: { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            let hook = try db.insert(FaxWebhook(accountID: account.id, url: "http://127.0.0.1:\(port)/faxd", secret: secret,
                                                events: ["fax.received"]))
            try db.enqueue(OutboxEntry(eventID: eventID, channel: .webhook, event: "fax.received", accountID: account.id,
                                       transmissionID: nil, webhookID: hook.id,
                                       payloadJSON: #"{"data":{"pages":3,"uuid":"u"},"event":"fax.received","timestamp":"2026-11-21T00:00:00Z"}"#))
        })
        return (service, eventID)
    }

    func entry(_ service: TestService, _ eventID: String, timeout: Double, until: @escaping (OutboxEntry) -> Bool) async -> OutboxEntry? {
        // Wall time and turns of this task both (TestClock): early in the parallel suite the
        // cooperative pool, which the dispatcher runs on too, can be busy for many seconds.
        var clock = TestClock(timeout)
        var last: OutboxEntry?
        while !clock.done {
            last = try? service.store.read { try $0.outboxEntry(eventID: eventID) }
            if let last, until(last) { return last }
            try? await clock.pause()
        }
        return last
    }

    @Test func aFailingReceiverGetsTheEventAgainUntilItAcceptsIt() async throws {
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("hook") + "/requests.jsonl"
        let secret = WebhookSignature.newSecret()
        let receiver = try ScriptServer("webhook_receiver.py", [String(port), secret, log, "--fail-first", "3"])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let (service, eventID) = try serviceWithEvent(label: "hook-retry", port: port, secret: secret)
        defer { service.stop() }

        let delivered = try #require(await entry(service, eventID, timeout: 20) { $0.status != "pending" })
        #expect(delivered.status == "delivered" && delivered.attempts == 4, "\(delivered.status) after \(delivered.attempts): \(delivered.lastError ?? "")")
        let seen = requests(log)
        #expect(seen.map(\.status) == [500, 500, 500, 200])
        #expect(seen.allSatisfy { $0.fax_ok && $0.std_ok && $0.fresh }, "both signatures verify on every attempt")
        #expect(Set(seen.map(\.id)) == [eventID], "one event, one id, however often it is sent")
        let attempts = try service.store.read { try $0.deliveries(outboxID: delivered.id) }
        #expect(attempts.map(\.statusCode) == [500, 500, 500, 200])
        #expect(attempts.prefix(3).allSatisfy { $0.error?.contains("500") == true } && attempts.dropFirst(3).first?.error == nil && attempts.count == 4)
        let hook = try #require(try service.store.read { try $0.webhooks(accountID: 1) }.first)
        #expect(hook.consecutiveFailures == 0 && hook.enabled, "the success resets the endpoint's failure count")

        // An operator's redelivery sends it once more, under the same id.
        try service.store.write { try $0.redeliver(id: delivered.id, now: Date()) }
        service.service.delivery.poke()
        let again = try #require(await entry(service, eventID, timeout: 10) { $0.status == "delivered" && $0.attempts == 5 })
        #expect(again.attempts == 5)
        #expect(requests(log).map(\.id) == Array(repeating: eventID, count: 5) && requests(log).last?.status == 200)
    }

    @Test func aRedirectIsNotFollowed() async throws {
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("hook") + "/requests.jsonl"
        let secret = WebhookSignature.newSecret()
        let receiver = try ScriptServer("webhook_receiver.py", [String(port), secret, log, "--redirect", "http://198.51.100.7/steal"])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let (service, eventID) = try serviceWithEvent(label: "hook-redirect", port: port, secret: secret)
        defer { service.stop() }
        let failed = try #require(await entry(service, eventID, timeout: 10) { $0.attempts >= 1 })
        #expect(failed.status == "pending")
        #expect(failed.lastError?.contains("redirect to http://198.51.100.7/steal not followed") == true, "\(failed.lastError ?? "")")
        let attempts = try service.store.read { try $0.deliveries(outboxID: failed.id) }
        #expect(attempts.first?.statusCode == 302)
    }

    @Test func aRestartDuringBackoffStillDeliversUnderTheSameID() async throws {
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("hook") + "/requests.jsonl"
        let secret = WebhookSignature.newSecret()
        let receiver = try ScriptServer("webhook_receiver.py", [String(port), secret, log, "--fail-first", "1"])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let (first, eventID) = try serviceWithEvent(label: "hook-restart", port: port, secret: secret) { $0.delivery.retryDelaysSeconds = [3] }
        let failed = try #require(await entry(first, eventID, timeout: 10) { $0.attempts == 1 })
        #expect(failed.status == "pending" && failed.nextAttemptAt > Date())
        first.stop()

        let second = try TestService(label: "hook-restart", directory: first.directory, configure: {
            $0.delivery.retryDelaysSeconds = [3]
            $0.delivery.pollIntervalMilliseconds = 100
            $0.delivery.allowPrivateTargets = true
        })
        defer { second.stop() }
        let delivered = try #require(await entry(second, eventID, timeout: 15) { $0.status != "pending" })
        #expect(delivered.status == "delivered" && delivered.attempts == 2)
        let seen = requests(log)
        #expect(seen.map(\.status) == [500, 200])
        #expect(seen.map(\.id) == [eventID, eventID], "never under two ids")
        #expect(seen.allSatisfy { $0.fax_ok && $0.std_ok })
    }

    @Test func anEndpointFailingTooOftenIsDisabledWithTheReason() async throws {
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("hook") + "/requests.jsonl"
        let secret = WebhookSignature.newSecret()
        let receiver = try ScriptServer("webhook_receiver.py", [String(port), secret, log, "--fail-first", "1000"])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let (service, eventID) = try serviceWithEvent(label: "hook-disable", port: port, secret: secret) { $0.delivery.disableAfterFailures = 3 }
        defer { service.stop() }
        _ = await entry(service, eventID, timeout: 15) { $0.attempts >= 3 }
        try await Task.sleep(for: .seconds(1))
        let hook = try #require(try service.store.read { try $0.webhooks(accountID: 1) }.first)
        #expect(!hook.enabled && hook.consecutiveFailures == 3)
        #expect(hook.disabledReason?.contains("3 consecutive failed deliveries") == true && hook.disabledReason?.contains("500") == true,
                "\(hook.disabledReason ?? "")")
        let waiting = try #require(try service.store.read { try $0.outboxEntry(eventID: eventID) })
        #expect(waiting.status == "pending" && waiting.attempts == 3, "the entry waits for the endpoint to be enabled again")
        #expect(requests(log).count == 3)
    }

    @Test func aWrongSecretIsRefusedByTheReceiver() async throws {
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("hook") + "/requests.jsonl"
        let receiver = try ScriptServer("webhook_receiver.py", [String(port), WebhookSignature.newSecret(), log])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let (service, eventID) = try serviceWithEvent(label: "hook-secret", port: port, secret: WebhookSignature.newSecret())
        defer { service.stop() }
        let failed = try #require(await entry(service, eventID, timeout: 10) { $0.attempts >= 1 })
        #expect(failed.status == "pending" && failed.lastError?.contains("401") == true)
        #expect(requests(log).first.map { !$0.fax_ok && !$0.std_ok } == true, "the receiver's own check fails both signatures")
    }

    /// A received fax reaches the account's inbox: SMTP down at first, then up with STARTTLS and AUTH.
    @Test func aReceivedFaxArrivesByEmailEvenWhenTheServerWasDown() async throws {
        let smtpPort = TestPorts.port()
        let certs = Fixtures.scratchDirectory("smtp-tls")
        let openssl = try ChildProcess.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", certs + "/key.pem",
                                                                "-out", certs + "/cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1",
                                                                "-addext", "subjectAltName=IP:127.0.0.1"])
        try #require(openssl.status == 0, "openssl could not make a certificate: \(openssl.stderr)")

        let receiver = try TestService(label: "mail-rx", configure: {
            $0.delivery.smtp.host = "127.0.0.1"
            $0.delivery.smtp.port = smtpPort
            $0.delivery.smtp.from = "faxd <fax@faxd.example>"
            $0.delivery.smtp.username = "faxd"
            $0.delivery.smtp.password = "s3cret"
            $0.delivery.smtp.startTLS = .required
            $0.delivery.smtp.caFile = certs + "/cert.pem"
            $0.delivery.retryDelaysSeconds = [1]
            $0.delivery.jitter = 0
            $0.delivery.pollIntervalMilliseconds = 100
        }, provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551234567", email: "desk@acme.example")) })
        let sender = try TestEngine(label: "mail-tx")
        defer {
            sender.stop()
            receiver.stop()
        }
        let sent = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "15551234567"), document: Fixtures.threePageLight,
                                                               options: FaxOptions(), callerID: "15550001111")))
        #expect(sent.success)
        // The mail is tried while nothing listens, and fails.
        var pending: OutboxEntry?
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            pending = try receiver.store.read { try $0.outbox(status: nil, limit: 5) }.first { $0.channel == .email }
            if (pending?.attempts ?? 0) >= 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let failed = try #require(pending)
        #expect(failed.status == "pending" && failed.attempts >= 1 && failed.lastError?.contains("connect") == true, "\(failed.lastError ?? "")")

        let maildir = Fixtures.scratchDirectory("maildir")
        let smtp = try ScriptServer("smtp_server.py", [String(smtpPort), maildir, "--tls", certs + "/cert.pem", certs + "/key.pem",
                                                       "--auth", "faxd", "s3cret"])
        defer { smtp.stop() }
        try #require(await smtp.waitUntilReady(), "smtp server: \(smtp.log)")
        var delivered: OutboxEntry?
        let end = Date().addingTimeInterval(20)
        while Date() < end {
            delivered = try receiver.store.read { try $0.outboxEntry(id: failed.id) }
            if delivered?.status != "pending" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(delivered?.status == "delivered", "\(delivered?.lastError ?? "") \(smtp.log)")

        let envelope = try #require(FileManager.default.contents(atPath: maildir + "/1.json"))
        let facts = try #require(try JSONSerialization.jsonObject(with: envelope) as? [String: Any])
        #expect(facts["rcpt_tos"] as? [String] == ["desk@acme.example"] && facts["mail_from"] as? String == "fax@faxd.example")
        #expect(facts["tls"] as? Bool == true && facts["authenticated"] as? Bool == true, "STARTTLS and AUTH were used")
        let mail = try String(contentsOfFile: maildir + "/1.eml", encoding: .utf8)
        #expect(mail.contains("Subject: Fax Received from 15550001111"))
        let t = try #require(try receiver.store.read { try $0.transmissions(direction: .inbound) }.first)
        #expect(mail.contains("filename=\"fax_\(t.uuid).pdf\""))
        // The attachment is the PDF with every page.
        let pdf = try #require(Self.attachment(in: mail))
        let path = maildir + "/attachment.pdf"
        try Data(pdf).write(to: URL(fileURLWithPath: path))
        let text = try ChildProcess.run("/usr/bin/pdfinfo", [path]).stdout
        let pages = text.split(separator: "\n").first { $0.hasPrefix("Pages:") }?.split(separator: " ").last
        #expect(pages == "3", "\(text)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir).filter { $0.hasSuffix(".eml") }.count == 1, "one mail, not two")
    }

    /// The base64 body of the first attachment part.
    static func attachment(in mail: String) -> [UInt8]? {
        let lines = mail.components(separatedBy: "\r\n").map { $0.trimmingCharacters(in: .newlines) }
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Content-Disposition: attachment") }),
              let blank = lines[start...].firstIndex(of: "") else { return nil }
        let body = lines[(blank + 1)...].prefix { !$0.hasPrefix("--") }.joined()
        return Data(base64Encoded: body).map { [UInt8]($0) }
    }
}
