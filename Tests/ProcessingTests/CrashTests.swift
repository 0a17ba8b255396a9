import Engine
import Fax
import FaxdTesting
import Foundation
import Processing
import Store
import Testing

/// kill -9 during a receive and during a send, then restart: nothing queued is lost, the
/// interrupted send gets exactly one new attempt, the interrupted receive is recorded as partial
/// with the pages that arrived, and nothing is recorded twice. Real processes, real sockets.
@Suite struct CrashTests {
    func serveArguments(_ data: String, _ ports: (sip: Int, rtp: ClosedRange<UInt16>), config: String? = nil) -> [String] {
        var arguments = ["serve", "--http-listen", "127.0.0.1:0", "--data-dir", data, "--sip-listen", "127.0.0.1:\(ports.sip)",
                         "--rtp-ports", "\(ports.rtp.lowerBound)-\(ports.rtp.upperBound)"]
        if let config { arguments += ["--config", config] }
        return arguments
    }

    @Test func killDuringAReceiveKeepsThePagesThatArrived() async throws {
        let ports = TestPorts.allocate()
        let txPorts = TestPorts.allocate()
        let data = Fixtures.scratchDirectory("crash-rx")
        try await FaxdProcess.run(["account", "add", "--number", "15551234567", "--data-dir", data])
        let serve = try FaxdProcess(serveArguments(data, ports))
        defer { serve.signal(SIGKILL) }
        try #require(await TestPorts.waitUntilBound(udpPort: ports.sip), "faxd serve did not start listening")
        let send = try FaxdProcess(["send", "--to", "sip:15551234567@127.0.0.1:\(ports.sip)", "--file", Fixtures.threePageFine,
                                    "--caller-id", "15550001111", "--rtp-ports", "\(txPorts.rtp.lowerBound)-\(txPorts.rtp.upperBound)"])
        defer { send.signal(SIGKILL) }

        // Kill the receiver once the first page is in its TIFF.
        let rx = data + "/fax_files/rx"
        var pagesOnDisk = 0
        let deadline = Date().addingTimeInterval(60)
        while pagesOnDisk < 1 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            if let file = (try? FileManager.default.contentsOfDirectory(atPath: rx))?.first(where: { $0.hasSuffix(".tif") }) {
                pagesOnDisk = (try? TIFFPageCount.of(rx + "/" + file)) ?? 0
            }
        }
        try #require(pagesOnDisk >= 1, "no page reached the disk")
        serve.signal(SIGKILL)
        _ = await serve.exit(timeout: 5)
        send.signal(SIGKILL)
        let scratch = { (try? FileManager.default.contentsOfDirectory(atPath: rx))?.filter { $0.hasSuffix(".spandsp") } ?? [] }
        #expect(scratch().count == 1, "spandsp's empty scratch TIFF is left by the kill")

        // Restart: recovery runs before SIP listens.
        for _ in 0..<2 {
            let again = try FaxdProcess(serveArguments(data, ports))
            defer { again.signal(SIGKILL) }
            try #require(await TestPorts.waitUntilBound(udpPort: ports.sip), "restarted faxd serve did not listen")
            again.signal(SIGTERM)
            #expect(await again.exit(timeout: 15) == 0)
        }
        #expect(scratch() == [], "recovery removed the scratch TIFF")
        let store = try FaxStore(path: data + "/faxd.sqlite")
        let rows = try store.read { try $0.transmissions() }
        try #require(rows.count == 1, "one call, one record: \(rows.map(\.status))")
        let t = rows[0]
        #expect(t.status == .partial, "\(t.status) \(t.error ?? "")")
        #expect(t.error?.contains("faxd stopped during the call") == true)
        #expect(t.fromNumber == "15550001111" && t.pagesTransferred >= 1 && t.pagesTransferred < 3)
        let pages = try store.read { try $0.pages(transmissionID: t.id) }
        #expect(pages.count == t.pagesTransferred && pages.allSatisfy { $0.status == .received && $0.sha256 != nil })
        let source = try TIFFDocument(path: Fixtures.threePageFine).pages()
        let kept = try TIFFDocument(path: try #require(t.filePath)).pages()
        #expect(kept.count == pages.count)
        for (index, page) in kept.enumerated() { #expect(page.bits == source[index].bits, "page \(index + 1) kept intact") }
        #expect(t.pdfPath.map { FileManager.default.fileExists(atPath: $0) } == true)
        let warnings = try store.read { try $0.logs(transmissionID: t.id) }.filter { $0.message.contains("reception partial") }
        #expect(warnings.count == 1, "recovered once, not on every restart")
    }

    @Test func killDuringASendRetriesItOnceAndKeepsTheQueue() async throws {
        let far = try TestEngine(label: "crash-far") { $0.media.silenceTimeoutSeconds = 3 }
        defer { far.stop() }
        let ports = TestPorts.allocate()
        let data = Fixtures.scratchDirectory("crash-tx")
        let config = data + "/faxd.yaml"
        try """
            trunks:
              - name: carrier
                domain: 127.0.0.1:\(far.sipPort)
            processing:
              account_concurrency: 1
              scheduler_interval_ms: 200
            """.write(toFile: config, atomically: true, encoding: .utf8)
        try await FaxdProcess.run(["account", "add", "--number", "15551112222", "--config", config, "--data-dir", data])
        var uuids: [String] = []
        for _ in 0..<2 {
            let json = try await FaxdProcess.run(["fax", "send", "--account", "15551112222", "--to", "15557654321",
                                                  "--file", Fixtures.threePageLight, "--config", config, "--data-dir", data])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            uuids.append(try #require(object["uuid"] as? String))
        }
        let store = try FaxStore(path: data + "/faxd.sqlite")
        func status(_ uuid: String) throws -> FaxTransmission.Status? { try store.read { try $0.transmission(uuid: uuid) }?.status }

        let serve = try FaxdProcess(serveArguments(data, ports, config: config))
        defer { serve.signal(SIGKILL) }
        // Kill it once the far end confirmed the first page (written as it is confirmed).
        func confirmedSoFar() throws -> Int {
            guard let t = try store.read({ try $0.transmission(uuid: uuids[0]) }) else { return 0 }
            return try store.read { try $0.attempts(transmissionID: t.id) }.first?.pagesConfirmed ?? 0
        }
        var confirmed = 0
        let deadline = Date().addingTimeInterval(90)
        while confirmed == 0 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            confirmed = try confirmedSoFar()
        }
        try #require(confirmed > 0, "the first send never had a page confirmed")
        serve.signal(SIGKILL)
        _ = await serve.exit(timeout: 5)
        confirmed = try confirmedSoFar()
        #expect(try status(uuids[1]) == .queued, "the second send waits for the account's one line")

        let again = try FaxdProcess(serveArguments(data, ports, config: config))
        defer { again.signal(SIGKILL) }
        var finals: [FaxTransmission] = []
        let end = Date().addingTimeInterval(120)
        while Date() < end {
            finals = try uuids.compactMap { uuid in try store.read { try $0.transmission(uuid: uuid) } }.filter { $0.status.isFinal }
            if finals.count == 2 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        again.signal(SIGTERM)
        #expect(await again.exit(timeout: 15) == 0)
        try #require(finals.count == 2, "both sends finish after the restart")
        #expect(try store.read { try $0.transmissions() }.count == 2, "no send was duplicated")
        let first = try #require(finals.first { $0.uuid == uuids[0] })
        let second = try #require(finals.first { $0.uuid == uuids[1] })
        #expect(second.status == .completed && second.attempts == 1)
        let attempts = try store.read { try $0.attempts(transmissionID: first.id) }
        let account = try #require(try store.read { try $0.account(faxNumber: "15551112222") })
        let usage = try store.read { try $0.usage(accountID: account.id, periodStart: BillingPeriod.start(containing: Date(), cycleDay: 1)) }
        #expect(usage.pagesSent == 6, "every page billed once: \(usage.pagesSent)")
        print("crash: killed after \(confirmed) of 3 pages were confirmed")
        if confirmed < 3 {
            // Dialled again for the pages the far end had not confirmed, and only those.
            #expect(first.status == .completed && first.attempts == 2, "\(first.status) after \(first.attempts) attempts: \(first.error ?? "")")
            #expect(attempts.map(\.result) == ["interrupted", "completed"])
            #expect(attempts.first?.failureClass == "interrupted")
            #expect(attempts.map(\.firstPage) == [0, confirmed] && attempts.last?.pagesConfirmed == 3 - confirmed)
            // The far engine saw three calls: the one cut by the kill, the rest of the first fax,
            // and the second fax.
            let received = await far.outcomes.next(count: 3, timeout: 20)
            #expect(received.filter(\.success).count == 2 && received.count == 3)
            #expect(received.filter(\.success).map(\.pagesTransferred).sorted() == [3 - confirmed, 3].sorted())
        } else {
            // Every page confirmed before the kill: completed without another call. The far
            // engine saw two calls (the one cut by the kill and the second fax), not a third.
            #expect(first.status == .completed && first.attempts == 1 && attempts.map(\.result) == ["completed"])
            let received = await far.outcomes.next(count: 3, timeout: 10)
            #expect(received.count == 2, "\(received.map(\.pagesTransferred))")
        }
    }
}
