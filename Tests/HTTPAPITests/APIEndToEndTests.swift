import ChildProcess
import Engine
import Fax
import FaxdTesting
import Foundation
import HTTPAPI
import Processing
import SIP
import Store
import Testing

/// The API with real faxes: a send through the API reaches a second engine, and the operators'
/// page in headless Chromium shows a live call and page thumbnails.
@Suite struct APIEndToEndTests {
    @Test func aFaxSentThroughTheAPIReachesCompleted() async throws {
        let far = try TestEngine(label: "api-far")
        defer { far.stop() }
        // G.711 between two engines on a loaded 2-core machine can lose an attempt (CI saw the far
        // end give up once); the service's own retry then finishes the fax. The retry comes after a
        // second rather than a minute, and keeps ECM, so this test stays about the API.
        let api = try await TestAPI(label: "api-e2e") {
            $0.trunks = [Trunk(name: "carrier", domain: "127.0.0.1:\(far.sipPort)")]
            $0.processing.retry.delays[.protocol] = 1
            $0.processing.retry.ladder = []
        }
        defer { api.stop() }
        let tiff = [UInt8](FileManager.default.contents(atPath: Fixtures.threePageLight)!)
        let form = TestAPI.multipart(fields: [("username", api.alice.number), ("numbers", "+1 555 765 4321"), ("is_enhanced", "false")],
                                     file: ("file", "light.tif", "image/tiff", tiff))
        let sent = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", form.contentType)], body: form.body)
        #expect(sent.status == 202, "\(sent.text)")
        let uuid = try #require((sent.json?["uuids"] as? [String])?.first)
        var last: [String: Any] = [:]
        var seen: Set<String> = []
        let deadline = Date().addingTimeInterval(240)
        while Date() < deadline {
            last = try await api.request(.GET, "/api/fax/status/\(uuid)/", token: api.alice.key).json ?? [:]
            if let status = last["status"] as? String { seen.insert(status) }
            if ["completed", "failed"].contains(last["status"] as? String ?? "") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(last["status"] as? String == "completed", "\(last)")
        #expect(last["pages"] as? Int == 3 && last["cost_cents"] as? Int == 30 && last["sip_status"] as? Int == 200)
        #expect(seen.contains("transmitting"), "status went through transmitting: \(seen)")
        let attempts = last["attempts"] as? Int ?? 1
        if attempts > 1 { print("api e2e: completed on attempt \(attempts) (\(last["error"] ?? "no error kept"))") }
        // The far end's outcome for the attempt that completed is its last one.
        let received = try #require(await far.outcomes.next(count: attempts, timeout: 10).last)
        let file = try #require(received.file)
        // A retry resumes at the first page the far end did not confirm, so the last attempt
        // carries the last pages; together with the earlier attempts' they make the document.
        let sentPages = try TIFFDocument(path: Fixtures.threePageLight).pages()
        #expect(received.success && PageCheck.compare(sentPages: Array(sentPages.suffix(received.pagesTransferred)), received: file) == [])
        #expect(await far.outcomes.next(count: attempts, timeout: 0).reduce(0) { $0 + max(0, $1.pagesTransferred) } >= 3, "no page lost across attempts")
    }

    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: chromium != nil, "needs Debian's chromium (scripts/setup installs it)"))
    func theStatusPageShowsALiveCallAndThumbnails() async throws {
        let api = try await TestAPI(label: "api-page") { $0.trunks = [FaxdConfiguration.loopbackTrunk, Trunk(name: "carrier", domain: "127.0.0.1:9")] }
        defer { api.stop() }
        // A fax in the list (queued to a trunk nobody answers) gives a thumbnail.
        let pdf = [UInt8](FileManager.default.contents(atPath: Fixtures.path("three-page-light.pdf"))!)
        _ = try await api.request(.POST, "/api/fax/files/?filename=doc.pdf", token: api.alice.key, body: pdf)
        let queued = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, body: Array(#"{"filename":"doc.pdf","numbers":"15557654321"}"#.utf8))
        #expect(queued.status == 202)
        // A live call: a 3-page fine fax into alice's number, about 30 s long.
        let sender = try TestEngine(label: "api-page-tx")
        defer { sender.stop() }
        let call = Task { await sender.send(OutboundFax(destination: api.service.uri(number: api.alice.number), document: Fixtures.threePageFine,
                                                         options: FaxOptions(), callerID: "15550001111")) }
        defer { call.cancel() }
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            let status = try await api.request(.GET, "/admin/status", token: api.adminToken).json
            if ((status?["channels"] as? [[String: Any]]) ?? []).contains(where: { $0["state"] as? String == "answered" }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let url = "http://127.0.0.1:\(api.port)/admin/?token=\(api.adminToken)"
        let directory = Fixtures.scratchDirectory("chromium")
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                     "--user-data-dir=\(directory)/profile", "--window-size=1280,1100"]
        let dom = try ChildProcess.run(Self.chromium!, flags + ["--dump-dom", url])
        #expect(dom.status == 0, "\(dom.stderr.suffix(500))")
        #expect(dom.stdout.contains("<table id=\"channels\">"), "the live channel table is there")
        #expect(dom.stdout.contains("15550001111") && dom.stdout.contains("answered"), "the live call is in it: \(dom.stdout.prefix(3000))")
        #expect(dom.stdout.contains("data:image/png;base64,"), "a page thumbnail is shown")
        let shot = directory + "/admin.png"
        let screenshot = try ChildProcess.run(Self.chromium!, flags + ["--screenshot=\(shot)", url])
        #expect(screenshot.status == 0 && ((try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0) > 10_000,
                "a screenshot of the page: \(shot)")
        print("admin page screenshot: \(shot)")
    }
}
