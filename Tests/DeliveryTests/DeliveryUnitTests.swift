@testable import Delivery
import Engine
import Foundation
import Store
import Testing

@Suite struct DeliveryUnitTests {
    /// The Standard Webhooks specification's own example (standard-webhooks/spec).
    @Test func standardSignatureMatchesTheSpecificationsVector() {
        let signature = WebhookSignature.standardSignature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                                                            body: Array(#"{"test": 2432232314}"#.utf8),
                                                            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func faxSignatureIsHexHMACOfTheBody() {
        // RFC 4231 test case 2: key "Jefe".
        #expect(WebhookSignature.faxSignature(body: Array("what do ya want for nothing?".utf8), secret: "Jefe")
                == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let secret = WebhookSignature.newSecret()
        #expect(secret.hasPrefix("whsec_") && Data(base64Encoded: String(secret.dropFirst(6)))?.count == 24)
    }

    @Test func mailWithAnAttachmentIsMultipartBase64() throws {
        let message = MailMessage(from: "faxd <fax@example.com>", to: ["a@example.com"], subject: "Fax Received from 15550001111",
                                  body: "Pages: 3\n.\n", attachments: [.init(filename: "fax_1.pdf", contentType: "application/pdf",
                                                                               data: Array(repeating: 0x25, count: 100))],
                                  messageID: "u:fax.received:1:email@faxd", date: Date(timeIntervalSince1970: 0))
        let text = message.rendered()
        #expect(text.contains("Subject: Fax Received from 15550001111\r\n"))
        #expect(text.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
        #expect(text.contains("Content-Type: multipart/mixed; boundary="))
        #expect(text.contains("Content-Disposition: attachment; filename=\"fax_1.pdf\"\r\n"))
        #expect(text.split(separator: "\r\n").allSatisfy { $0.count <= 998 })
        #expect(MailMessage.encodedWord("Fax von Müller") == "=?utf-8?B?RmF4IHZvbiBNw7xsbGVy?=")
        #expect(SMTPClient.dotStuffed("a\r\n.b\r\n..\r\nc") == "a\r\n..b\r\n...\r\nc")
        #expect(try SMTPClient.address("Fax Desk <fax@example.com>") == "fax@example.com")
        #expect(throws: SMTPError.self) { try SMTPClient.address("a@example.com\r\nRCPT TO:<b@example.com>") }
    }

    @Test func internalAddressesAreRecognised() {
        for host in ["127.0.0.1", "169.254.169.254", "10.1.2.3", "192.168.0.1", "[::1]", "localhost", "198.51.100.7"] {
            #expect(throws: WebhookTarget.Refusal.self, "\(host)") { try WebhookTarget.resolveBlocking(host: host, port: 80) }
        }
        #expect(throws: Never.self, "a public address is fine") { try WebhookTarget.resolveBlocking(host: "93.184.216.34", port: 80) }
    }

    @Test func aWebhookToAnInternalAddressIsNotDelivered() async {
        let sender = WebhookSender(timeoutSeconds: 2, userAgent: "faxd-test")
        let result = await sender.deliver(url: "http://169.254.169.254/latest/meta-data", body: Array("{}".utf8), id: "e", secret: "whsec_AAAA")
        #expect(!result.succeeded && result.error?.contains("internal address") == true, "\(result)")
        await sender.shutdown()
    }

    @Test func retryDelaysFollowTheScheduleThenRepeatTheLast() {
        let settings = DeliverySettings()
        #expect((1...8).map { settings.delay(afterAttempts: $0) } == [5, 30, 120, 600, 3600, 21600, 21600, 21600])
    }
}
