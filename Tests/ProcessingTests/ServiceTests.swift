import Engine
import Fax
import FaxdTesting
import Foundation
import Hashing
import Processing
import SIP
import Store
import Testing

/// faxd as a service on real sockets: received faxes become complete records, queued sends go out
/// through the durable queue to a second engine, busy destinations are retried on schedule and a
/// 404 never is.
@Suite struct ServiceTests {
    /// Polls the store until an inbound transmission is final.
    func finalInbound(_ service: TestService, timeout: Double = 30) async -> FaxTransmission? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let t = try? service.store.read({ try $0.transmissions(direction: .inbound, limit: 10) }).first, t.status.isFinal { return t }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    @Test func aReceivedFaxBecomesACompleteRecord() async throws {
        let receiver = try TestService(label: "svc-rx", provision: { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567", email: "rx@example.com"))
            _ = try db.insert(FaxWebhook(accountID: account.id, url: "http://127.0.0.1:9/hook", secret: "s", events: ["fax.received"]))
        })
        let sender = try TestEngine(label: "svc-rx-sender")
        defer {
            sender.stop()
            receiver.stop()
        }
        var options = sender.daemon.configuration.fax.options
        options.stationID = "15550001111"
        let sent = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "+15551234567"),
                                                               document: Fixtures.threePageFine, options: options,
                                                               callerID: "15550001111")))
        #expect(sent.success, "sender: \(sent.t30Name)")
        let t = try #require(await finalInbound(receiver))

        #expect(t.status == .completed, "\(t.error ?? "")")
        #expect(t.direction == .inbound && t.fromNumber == "15550001111" && t.toNumber == "15551234567")
        #expect(t.pagesTransferred == 3 && t.pagesTotal == 3)
        #expect(t.remoteStationID == "15550001111" && t.sipStatus == 200 && t.t30Name == "OK")
        let file = try #require(t.filePath)
        #expect(file == receiver.directory + "/fax_files/rx/\(t.uuid).tif")
        #expect(t.fileSHA256 == SHA256.hex(try #require(FileManager.default.contents(atPath: file))))

        // One row per page, each hash that of the page's bitmap, which equals the source page's.
        let pages = try receiver.store.read { try $0.pages(transmissionID: t.id) }
        let source = try TIFFDocument(path: Fixtures.threePageFine).pages()
        let received = try TIFFDocument(path: file).pages()
        try #require(pages.count == 3)
        for (index, page) in pages.enumerated() {
            #expect(page.pageNumber == index + 1 && page.status == .received)
            #expect(page.width == 1728 && page.height == received[index].height && page.xResolution == 204 && page.yResolution == 196)
            #expect(page.sha256 == SHA256.hex(received[index].bits))
            #expect(page.sha256 == SHA256.hex(source[index].bits), "page \(index + 1) arrived intact")
        }

        // The PDF renders to the TIFF's pages exactly.
        let pdf = try #require(t.pdfPath)
        let rendered = try PDFRender.pages(pdf, xDPI: 204, yDPI: 196)
        try #require(rendered.count == 3)
        for (index, image) in rendered.enumerated() {
            #expect(image.width == received[index].width && image.height == received[index].height)
            let differing = zip(image.bits, received[index].bits).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(differing.isEmpty && image.bits.count == received[index].bits.count,
                    "PDF page \(index + 1) renders like TIFF page \(index + 1): \(differing.count) bytes differ, first at \(differing.first ?? -1), sizes \(image.bits.count) \(received[index].bits.count)")
        }

        let account = try #require(try receiver.store.read { try $0.account(faxNumber: "15551234567") })
        let usage = try receiver.store.read { try $0.usage(accountID: account.id, periodStart: BillingPeriod.start(containing: Date(), cycleDay: 1)) }
        #expect(usage.pagesReceived == 3 && usage.pagesSent == 0)

        let outbox = try receiver.store.read { try $0.outbox(transmissionID: t.id) }
        #expect(outbox.count == 2)
        let email = try #require(outbox.first { $0.channel == .email })
        let mail = try #require(try JSONSerialization.jsonObject(with: Data(email.payloadJSON.utf8)) as? [String: Any])
        #expect(mail["subject"] as? String == "Fax Received from 15550001111")
        #expect(mail["attachment_name"] as? String == "fax_\(t.uuid).pdf" && mail["attachment_path"] as? String == pdf)
        let hook = try #require(outbox.first { $0.channel == .webhook })
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(hook.payloadJSON.utf8)) as? [String: Any])
        let data = try #require(payload["data"] as? [String: Any])
        #expect(payload["event"] as? String == "fax.received" && data["uuid"] as? String == t.uuid && data["pages"] as? Int == 3)
        #expect(data["from"] as? String == "15550001111" && data["status"] as? String == "completed" && data["t30_code"] as? Int == 0)
        // No SMTP server is configured here: email is off, so the dispatcher records the mail as
        // failed with that reason (at its next pass: wait for it); the webhook (to a closed port)
        // stays pending.
        #expect(hook.status == "pending")
        var settled = email
        for _ in 0..<100 where settled.status == "pending" {
            try await Task.sleep(for: .milliseconds(100))
            settled = try #require(try receiver.store.read { try $0.outbox(transmissionID: t.id) }.first { $0.channel == .email })
        }
        #expect(settled.status == "failed" && settled.lastError == "email is off: no delivery.smtp.host configured",
                "\(settled.status) \(settled.lastError ?? "")")
        let logs = try receiver.store.read { try $0.logs(transmissionID: t.id) }
        #expect(logs.contains { $0.message == "received 3 pages" })
    }

    @Test func anUnknownNumberIsRefusedBeforeAnswer() async throws {
        let receiver = try TestService(label: "svc-404", provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551234567")) })
        let sender = try TestEngine(label: "svc-404-sender")
        defer {
            sender.stop()
            receiver.stop()
        }
        let outcome = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "15559999999"),
                                                                  document: Fixtures.threePageLight, options: FaxOptions())))
        #expect(outcome.sipStatus == 404 && outcome.hangupCause == .sipFailure)
        receiver.service.drain()
        #expect(try receiver.store.read { try $0.transmissions() }.isEmpty, "nothing is recorded for a number nobody owns")
    }

    @Test func aQueuedSendReachesASecondEngine() async throws {
        let far = try TestEngine(label: "svc-far")
        let sender = try TestService(label: "svc-tx", configure: {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:\(far.sipPort)")]
        }, provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551112222", email: "tx@example.com")) })
        defer {
            sender.stop()
            far.stop()
        }
        let queued = try sender.service.enqueue(SendRequest(account: "15551112222", to: "+1 (555) 765-4321", toName: "Far",
                                                            document: Fixtures.threePageLight))
        #expect(queued.status == .queued && queued.pagesTotal == 3 && queued.toNumber == "15557654321")
        let t = try #require(await sender.transmission(queued.uuid, timeout: 90) { $0.status.isFinal })

        #expect(t.status == .completed, "\(t.error ?? "")")
        #expect(t.attempts == 1 && t.pagesTransferred == 3 && t.costCents == 30, "3 pages at $0.10 to +1")
        #expect(t.bitRate > 0 && t.sipStatus == 200 && t.trunk == "carrier")
        let archived = sender.directory + "/fax_files/archive/\(t.uuid).tif"
        #expect(t.filePath == archived)
        #expect(PageCheck.compare(sent: Fixtures.threePageLight, received: archived) == [], "the archive holds the document sent")
        #expect(!FileManager.default.fileExists(atPath: sender.directory + "/fax_files/tx/\(t.uuid).tif"))
        let contacts = try sender.store.read { try $0.contacts(accountID: t.accountID) }
        #expect(contacts.count == 1 && contacts[0].number == "15557654321" && contacts[0].usageCount == 1 && contacts[0].name == "Far")
        let pages = try sender.store.read { try $0.pages(transmissionID: t.id) }
        #expect(pages.count == 3 && pages.allSatisfy { $0.status == .sent })
        let attempts = try sender.store.read { try $0.attempts(transmissionID: t.id) }
        #expect(attempts.count == 1 && attempts[0].result == "completed" && attempts[0].pagesConfirmed == 3)
        let outbox = try sender.store.read { try $0.outbox(transmissionID: t.id) }
        let email = try #require(outbox.first { $0.channel == .email })
        #expect(email.event == "fax.sent" && email.payloadJSON.contains("Fax Sent Successfully to 15557654321"))
        #expect(email.payloadJSON.contains("Cost: $0.30"))
        let usage = try sender.store.read { try $0.usage(accountID: t.accountID, periodStart: BillingPeriod.start(containing: Date(), cycleDay: 1)) }
        #expect(usage.pagesSent == 3 && usage.costCents == 30)

        let received = try #require(await far.outcomes.next(count: 1, timeout: 10).first)
        #expect(received.success && received.remoteNumber == "15551112222")
        #expect(PageCheck.compare(sent: Fixtures.threePageLight, received: try #require(received.file)) == [])
    }

    /// Sends to a SIPp server scenario through a trunk; returns the final transmission and SIPp's result.
    func sendToSIPp(_ scenario: String, calls: Int, retry: (inout RetryPolicy) -> Void) async throws -> (FaxTransmission, SIPp.Result, TestService) {
        let ports = TestPorts.allocate()
        let sender = try TestService(label: "svc-\(scenario)", configure: {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:\(ports.sip)")]
            retry(&$0.processing.retry)
        }, provision: { db in _ = try db.insert(FaxAccount(faxNumber: "15551112222")) })
        let sipp = SIPp.launch(scenario: scenario, target: nil, localPort: ports.sip, mediaPort: Int(ports.rtp.lowerBound), calls: calls)
        try #require(await TestPorts.waitUntilBound(udpPort: ports.sip), "SIPp did not start listening")
        let queued = try sender.service.enqueue(SendRequest(account: "15551112222", to: "15557654321", document: Fixtures.threePageLight))
        let t = try #require(await sender.transmission(queued.uuid, timeout: 30) { $0.status.isFinal })
        return (t, await sipp.result(), sender)
    }

    @Test func aBusyDestinationIsRetriedOnSchedule() async throws {
        let (t, sipp, sender) = try await sendToSIPp("uas_busy.xml", calls: 2) {
            $0.maxAttempts = 2
            $0.delays[.busy] = 1.5
            $0.jitter = 0
        }
        defer { sender.stop() }
        #expect(sipp.status == 0, "\(sipp.output)")
        #expect(t.status == .failed && t.attempts == 2)
        #expect(t.error?.contains("486") == true && t.error?.contains("gave up after 2 attempts") == true, "\(t.error ?? "")")
        let attempts = try sender.store.read { try $0.attempts(transmissionID: t.id) }
        try #require(attempts.count == 2)
        #expect(attempts.allSatisfy { $0.failureClass == "busy" && $0.sipStatus == 486 })
        let gap = attempts[1].startedAt.timeIntervalSince(try #require(attempts[0].endedAt))
        #expect(gap >= 1.5 && gap < 3, "the second attempt waits the busy delay: \(gap) s")
        let events = try sender.store.read { try $0.outbox(transmissionID: t.id) }.map(\.event)
        #expect(events.isEmpty, "no webhooks configured and no email address: nothing to deliver")
        let logs = try sender.store.read { try $0.logs(transmissionID: t.id) }.map(\.message)
        #expect(logs.contains { $0.contains("attempt 1 failed (busy") && $0.contains("retry at") })
    }

    @Test func aNotFoundDestinationIsNeverRetried() async throws {
        let (t, sipp, sender) = try await sendToSIPp("uas_not_found.xml", calls: 1) { $0.maxAttempts = 5; $0.jitter = 0 }
        defer { sender.stop() }
        #expect(sipp.status == 0, "\(sipp.output)")
        #expect(t.status == .failed && t.attempts == 1 && t.sipStatus == 404, "\(t.error ?? "")")
        try await Task.sleep(for: .milliseconds(500))
        let attempts = try sender.store.read { try $0.attempts(transmissionID: t.id) }
        #expect(attempts.count == 1 && attempts[0].failureClass == "final")
        #expect(try sender.store.read { try $0.transmission(uuid: t.uuid) }?.status == .failed)
    }

    @Test func badSendsAreRefusedWithTheirReason() throws {
        let service = try TestService(label: "svc-bad", configure: {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:9")]
        }, provision: { db in
            _ = try db.insert(FaxAccount(faxNumber: "15551112222", plan: .basic))
            _ = try db.insert(FaxAccount(faxNumber: "15553334444", status: .disabled))
        })
        defer { service.stop() }
        func code(_ request: SendRequest) -> SubmissionError.Code? {
            do { _ = try service.service.enqueue(request); return nil } catch { return error.code }
        }
        #expect(code(SendRequest(account: "15550000000", to: "15557654321", document: Fixtures.threePageLight)) == .unknownAccount)
        #expect(code(SendRequest(account: "15553334444", to: "15557654321", document: Fixtures.threePageLight)) == .accountDisabled)
        #expect(code(SendRequest(account: "15551112222", to: "12ab", document: Fixtures.threePageLight)) == .badNumber)
        #expect(code(SendRequest(account: "15551112222", to: "15557654321", document: "/etc/hostname")) == .badDocument)
        // The plan's 150 pages: 148 used, a 3-page fax is refused naming the limit.
        let account = try #require(try service.store.read { try $0.account(faxNumber: "15551112222") })
        try service.store.write { try $0.addUsage(accountID: account.id, periodStart: BillingPeriod.start(containing: Date(), cycleDay: 1), received: 148) }
        do {
            _ = try service.service.enqueue(SendRequest(account: "15551112222", to: "15557654321", document: Fixtures.threePageLight))
            Issue.record("a send past the plan's limit must be refused")
        } catch {
            #expect(error.code == .planLimit && error.reason.contains("150 pages a month"), "\(error.reason)")
        }
        // An idempotent repeat returns the first transmission.
        try service.store.write { try $0.addUsage(accountID: account.id, periodStart: BillingPeriod.start(containing: Date(), cycleDay: 1), received: -148) }
        service.service.daemon.stop()  // keep the queue from dialling the unreachable trunk
        let first = try service.service.enqueue(SendRequest(account: "15551112222", to: "15557654321", document: Fixtures.threePageLight, idempotencyKey: "k"))
        let again = try service.service.enqueue(SendRequest(account: "15551112222", to: "15557654321", document: Fixtures.threePageLight, idempotencyKey: "k"))
        #expect(first.uuid == again.uuid)
        #expect(try service.store.read { try $0.transmissions(direction: .outbound) }.count == 1)
    }
}
