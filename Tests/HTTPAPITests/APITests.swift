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

/// Every endpoint through a real listener (Hummingbird on 127.0.0.1), with real documents,
/// Ghostscript conversion and the SQLite store behind it.
@Suite struct APITests {
    let pdf = [UInt8](FileManager.default.contents(atPath: Fixtures.path("three-page-light.pdf"))!)
    let tiff = [UInt8](FileManager.default.contents(atPath: Fixtures.threePageLight)!)

    /// A service whose sends go to a trunk nobody answers (they stay in the queue, retrying).
    func api(_ label: String, configure: @escaping (inout FaxdConfiguration) -> Void = { _ in }) async throws -> TestAPI {
        try await TestAPI.sending(label, configure: configure)
    }

    @Test func uploadsAreCheckedAndStored() async throws {
        let api = try await api("api-upload") { $0.http.maxUploadBytes = 32 * 1024 }
        defer { api.stop() }
        let ok = try await api.request(.POST, "/api/fax/files/?filename=doc.pdf", token: api.alice.key, body: pdf)
        #expect(ok.status == 201 && ok.json?["filename"] as? String == "doc.pdf" && ok.json?["type"] as? String == "pdf", "\(ok.text)")
        let form = TestAPI.multipart(fields: [], file: ("file", "scan.tif", "image/tiff", tiff))
        let multipart = try await api.request(.POST, "/api/fax/files/", token: api.alice.key, headers: [("Content-Type", form.contentType)], body: form.body)
        #expect(multipart.status == 201 && multipart.json?["type"] as? String == "tiff", "\(multipart.text)")

        let text = try await api.request(.POST, "/api/fax/files/?filename=notes.txt", token: api.alice.key, body: Array("hello".utf8))
        #expect(text.status == 415 && text.errorCode == "unsupported_type" && text.errorMessage?.contains("application/pdf") == true)
        let big = try await api.request(.POST, "/api/fax/files/?filename=big.pdf", token: api.alice.key, body: pdf + [UInt8](repeating: 0x20, count: 40 * 1024))
        #expect(big.status == 413 && big.errorCode == "too_large", "\(big.text)")
        for name in ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", ".hidden.pdf", "a/b.pdf"] {
            let traversal = try await api.request(.POST, "/api/fax/files/?filename=\(name)", token: api.alice.key, body: pdf)
            #expect(traversal.status == 400 && traversal.errorMessage?.contains("plain file name") == true, "\(name): \(traversal.text)")
        }
        let unnamed = try await api.request(.POST, "/api/fax/files/", token: api.alice.key, body: pdf)
        #expect(unnamed.status == 400 && unnamed.errorMessage?.contains("filename") == true)
        let noKey = try await api.request(.POST, "/api/fax/files/?filename=doc.pdf", body: pdf)
        #expect(noKey.status == 401 && noKey.errorCode == "unauthorized" && noKey.header("WWW-Authenticate") != nil)
        let wrongKey = try await api.request(.POST, "/api/fax/files/?filename=doc.pdf", token: "fax_0000", body: pdf)
        #expect(wrongKey.status == 401)
        let stored = api.service.directory + "/fax_files/uploads"
        let files = try FileManager.default.subpathsOfDirectory(atPath: stored).filter { !$0.hasSuffix("/") && $0.contains(".") }
        #expect(Set(files.map { ($0 as NSString).lastPathComponent }) == ["doc.pdf", "scan.tif"], "only the good uploads, inside the account's folder: \(files)")
    }

    @Test func sendValidatesQueuesAndIsIdempotent() async throws {
        let api = try await api("api-send")
        defer { api.stop() }
        _ = try await api.request(.POST, "/api/fax/files/?filename=doc.pdf", token: api.alice.key, body: pdf)
        func send(_ json: String, key: String? = nil, token: String? = nil) async throws -> HTTPReply {
            try await api.request(.POST, "/api/fax/send/", token: token ?? api.alice.key,
                                  headers: key.map { [("Idempotency-Key", $0)] } ?? [], body: Array(json.utf8))
        }
        let wrongType = try await send(#"{"filename":"doc.pdf","numbers":15557654321}"#)
        #expect(wrongType.status == 400 && wrongType.errorMessage?.contains("numbers") == true)
        let badNumber = try await send(#"{"filename":"doc.pdf","numbers":"15557654321,12ab"}"#)
        #expect(badNumber.status == 400 && badNumber.errorMessage?.contains("'12ab' is not a phone number") == true, "\(badNumber.text)")
        let enhanced = try await send(#"{"filename":"doc.pdf","numbers":"15557654321","is_enhanced":"maybe"}"#)
        #expect(enhanced.status == 400 && enhanced.errorMessage?.contains("is_enhanced") == true)
        let otherUser = try await send(#"{"username":"15552220002","filename":"doc.pdf","numbers":"15557654321"}"#)
        #expect(otherUser.status == 403 && otherUser.errorCode == "wrong_account")
        let missing = try await send(#"{"filename":"never.pdf","numbers":"15557654321"}"#)
        #expect(missing.status == 404 && missing.errorMessage?.contains("was not uploaded") == true)
        let bobsView = try await send(#"{"filename":"doc.pdf","numbers":"15557654321"}"#, token: api.bob.key)
        #expect(bobsView.status == 404, "another account's upload is not there for bob")
        let notJSON = try await send("numbers=1")
        #expect(notJSON.status == 400)

        let body = #"{"username":"+1 555 111 0001","filename":"doc.pdf","numbers":"+1 (555) 765-4321, 442071234567","is_enhanced":false}"#
        let first = try await send(body, key: "order-7")
        #expect(first.status == 202, "\(first.text)")
        let uuids = try #require(first.json?["uuids"] as? [String])
        #expect(uuids.count == 2)
        let again = try await send(body, key: "order-7")
        #expect(again.status == 202 && again.body == first.body && again.header("Idempotent-Replayed") == "true")
        let reused = try await send(#"{"filename":"doc.pdf","numbers":"15550000000"}"#, key: "order-7")
        #expect(reused.status == 422 && reused.errorCode == "idempotency_key_reused")
        let rows = try api.service.store.read { try $0.transmissions(direction: .outbound) }
        #expect(rows.count == 2, "the repeat queued nothing")
        let uk = try #require(rows.first { $0.toNumber == "442071234567" })
        #expect(uk.pagesTotal == 3 && !uk.fine && uk.fromNumber == "15551110001")
        // The document was rendered at standard resolution, 1728 wide.
        let page = try TIFFDocument(path: try #require(uk.filePath)).page(0)
        #expect(page.width == 1728 && Int(page.yDPI.rounded()) == 98 && page.blackPixels > 1000)

        // Inline multipart with a TIFF.
        let form = TestAPI.multipart(fields: [("numbers", "15553334444"), ("is_enhanced", "true")], file: ("file", "scan.tif", "image/tiff", tiff))
        let inline = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", form.contentType)], body: form.body)
        #expect(inline.status == 202, "\(inline.text)")
        let textForm = TestAPI.multipart(fields: [("numbers", "15553334444")], file: ("file", "a.txt", "text/plain", Array("hi".utf8)))
        let badInline = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", textForm.contentType)], body: textForm.body)
        #expect(badInline.status == 415)
    }

    @Test func readsAreScopedToTheAccount() async throws {
        let api = try await api("api-read")
        defer { api.stop() }
        _ = try await api.request(.POST, "/api/fax/files/?filename=doc.pdf", token: api.alice.key, body: pdf)
        let sent = try await api.request(.POST, "/api/fax/send/", token: api.alice.key,
                                         body: Array(#"{"filename":"doc.pdf","numbers":"15557654321,15557654322,15557654323"}"#.utf8))
        let uuids = try #require(sent.json?["uuids"] as? [String])
        let uuid = uuids[0]

        let status = try await api.request(.GET, "/api/fax/status/\(uuid)/", token: api.alice.key)
        #expect(status.status == 200 && status.json?["uuid"] as? String == uuid && status.json?["pages_total"] as? Int == 3)
        #expect(status.json?["direction"] as? String == "outbound" && status.json?["created_at"] != nil && status.json?["file_path"] == nil)
        #expect(try await api.request(.GET, "/api/fax/status/\(uuid)/", token: api.bob.key).status == 404, "bob cannot see alice's fax")
        #expect(try await api.request(.GET, "/api/fax/status/nope/", token: api.alice.key).status == 404)
        #expect(try await api.request(.GET, "/api/fax/\(uuid)/document?format=pdf", token: api.bob.key).status == 404)

        let page1 = try await api.request(.GET, "/api/fax/list/?direction=outbound&limit=2", token: api.alice.key)
        let faxes = try #require(page1.json?["faxes"] as? [[String: Any]])
        let cursor = try #require(page1.json?["next_cursor"] as? String)
        #expect(faxes.count == 2)
        let page2 = try await api.request(.GET, "/api/fax/list/?direction=outbound&limit=2&cursor=\(cursor)", token: api.alice.key)
        #expect((page2.json?["faxes"] as? [[String: Any]])?.count == 1 && page2.json?["next_cursor"] == nil)
        let byNumber = try await api.request(.GET, "/api/fax/list/?to=%2B15557654322", token: api.alice.key)
        #expect((byNumber.json?["faxes"] as? [[String: Any]])?.count == 1)
        #expect((try await api.request(.GET, "/api/fax/list/", token: api.bob.key).json?["faxes"] as? [Any])?.isEmpty == true)
        #expect(try await api.request(.GET, "/api/fax/list/?direction=sideways", token: api.alice.key).status == 400)
        #expect(try await api.request(.GET, "/api/fax/list/?since=yesterday", token: api.alice.key).status == 400)

        let document = try await api.request(.GET, "/api/fax/\(uuid)/document?format=pdf", token: api.alice.key)
        #expect(document.status == 200 && document.header("Content-Type") == "application/pdf" && document.body.starts(with: Array("%PDF".utf8)))
        let tiff = try await api.request(.GET, "/api/fax/\(uuid)/document?format=tiff", token: api.alice.key)
        #expect(tiff.status == 200 && tiff.header("Content-Type") == "image/tiff" && DocumentConverter.kind(of: tiff.body) == .tiff)
        #expect(try await api.request(.GET, "/api/fax/\(uuid)/document?format=docx", token: api.alice.key).status == 400)
        let png = try await api.request(.GET, "/api/fax/\(uuid)/pages/1.png", token: api.alice.key)
        #expect(png.status == 200 && png.header("Content-Type") == "image/png" && png.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(try await api.request(.GET, "/api/fax/\(uuid)/pages/9.png", token: api.alice.key).status == 404)
        #expect(try await api.request(.GET, "/api/fax/\(uuid)/pages/one.png", token: api.alice.key).status == 400)

        // Cancel: a queued fax once; then 409. (Its first attempt failed at once; it waits an hour.)
        let target = uuids[2]
        _ = await api.service.transmission(target, timeout: 10) { $0.attempts >= 1 && $0.status == .queued }
        let cancel = try await api.request(.POST, "/api/fax/\(target)/cancel", token: api.alice.key)
        #expect(cancel.status == 200 && cancel.json?["status"] as? String == "cancelled", "\(cancel.text)")
        let twice = try await api.request(.POST, "/api/fax/\(target)/cancel", token: api.alice.key)
        #expect(twice.status == 409 && twice.errorCode == "not_cancellable")
        #expect(try await api.request(.POST, "/api/fax/\(uuids[1])/cancel", token: api.bob.key).status == 404)

        let usage = try await api.request(.GET, "/api/fax/usage/", token: api.alice.key)
        #expect(usage.status == 200 && usage.json?["plan"] as? String == "basic" && usage.json?["monthly_pages"] as? Int == 150)
        let contacts = try await api.request(.GET, "/api/fax/contacts/", token: api.alice.key)
        #expect(contacts.status == 200 && (contacts.json?["contacts"] as? [Any]) != nil)
    }

    @Test func webhooksArePerAccountAndTheSecretIsShownOnce() async throws {
        let api = try await api("api-hooks")
        defer { api.stop() }
        let created = try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key,
                                            body: Array(#"{"url":"https://crm.example/fax","on_received":true,"on_sent":false,"on_failed":true}"#.utf8))
        #expect(created.status == 201, "\(created.text)")
        #expect((created.json?["secret"] as? String)?.hasPrefix("whsec_") == true)
        #expect(created.json?["events"] as? [String] == ["fax.received", "fax.failed"])
        let uuid = try #require(created.json?["uuid"] as? String)
        let list = try await api.request(.GET, "/api/fax/webhooks/", token: api.alice.key)
        let hooks = try #require(list.json?["webhooks"] as? [[String: Any]])
        #expect(hooks.count == 1 && hooks[0]["secret"] == nil && hooks[0]["on_sent"] as? Bool == false)
        #expect((try await api.request(.GET, "/api/fax/webhooks/", token: api.bob.key).json?["webhooks"] as? [Any])?.isEmpty == true)
        #expect(try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key, body: Array(#"{"url":"ftp://x"}"#.utf8)).status == 400)
        #expect(try await api.request(.POST, "/api/fax/webhooks/", token: api.alice.key, body: Array(#"{"url":"https://x.example","on_sent":"yes"}"#.utf8)).status == 400)
        #expect(try await api.request(.DELETE, "/api/fax/webhooks/\(uuid)/", token: api.bob.key).status == 404)
        #expect(try await api.request(.DELETE, "/api/fax/webhooks/\(uuid)/", token: api.alice.key).status == 204)
        #expect((try await api.request(.GET, "/api/fax/webhooks/", token: api.alice.key).json?["webhooks"] as? [Any])?.isEmpty == true)
    }

    @Test func aKeyOverItsRateGets429WithRetryAfter() async throws {
        let api = try await api("api-rate") {
            $0.http.rateLimitBurst = 3
            $0.http.rateLimitPerSecond = 0.02  // one token per 50 s: a slow loaded machine cannot refill one between requests
        }
        defer { api.stop() }
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await api.request(.GET, "/api/fax/usage/", token: api.alice.key).status) }
        #expect(statuses == [200, 200, 200, 429])
        let limited = try await api.request(.GET, "/api/fax/usage/", token: api.alice.key)
        #expect(limited.errorCode == "rate_limited" && Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(try await api.request(.GET, "/api/fax/usage/", token: api.bob.key).status == 200, "limits are per key")
    }

    @Test func adminEndpointsNeedTheAdminToken() async throws {
        let api = try await api("api-admin")
        defer { api.stop() }
        #expect(try await api.request(.GET, "/healthz").status == 200)
        for path in ["/admin/status", "/metrics", "/admin/accounts", "/admin/"] {
            #expect(try await api.request(.GET, path).status == 401, "\(path) without a token")
            #expect(try await api.request(.GET, path, token: api.alice.key).status == 401, "\(path) with an account key")
        }
        let status = try await api.request(.GET, "/admin/status", token: api.adminToken)
        #expect(status.status == 200)
        let json = try #require(status.json)
        for key in ["version", "uptime_s", "sip", "http", "channels", "shards", "queue", "outbox_pending", "active_calls"] {
            #expect(json[key] != nil, "admin status has \(key)")
        }
        let metrics = try await api.request(.GET, "/metrics", token: api.adminToken)
        #expect(metrics.status == 200 && metrics.text.contains("# TYPE faxd_calls_total counter")
                && metrics.text.contains("faxd_tick_lateness_seconds_bucket{shard=\"0\",le=\"+Inf\"}"))

        let created = try await api.request(.POST, "/admin/accounts", token: api.adminToken,
                                            body: Array(#"{"fax_number":"+44 20 7123 4567","name":"London","plan":"pro","email":"l@example.com"}"#.utf8))
        #expect(created.status == 201 && created.json?["fax_number"] as? String == "442071234567", "\(created.text)")
        let key = try #require(created.json?["api_key"] as? String)
        let usage = try await api.request(.GET, "/api/fax/usage/", token: key)
        #expect(usage.status == 200 && usage.json?["plan"] as? String == "pro")
        #expect(try await api.request(.POST, "/admin/accounts", token: api.adminToken, body: Array(#"{"fax_number":"442071234567"}"#.utf8)).status == 409)
        #expect(try await api.request(.POST, "/admin/accounts", token: api.adminToken, body: Array(#"{"fax_number":"x"}"#.utf8)).status == 400)
        let disabled = try await api.request(.PATCH, "/admin/accounts/442071234567", token: api.adminToken, body: Array(#"{"status":"disabled"}"#.utf8))
        #expect(disabled.status == 200 && disabled.json?["status"] as? String == "disabled")
        #expect(try await api.request(.GET, "/api/fax/usage/", token: key).status == 403, "a disabled account's key is refused")
        #expect(try await api.request(.PATCH, "/admin/accounts/442071234567", token: api.adminToken, body: Array(#"{"plan":"gold"}"#.utf8)).status == 400)
        let newKey = try await api.request(.POST, "/admin/accounts/15551110001/keys", token: api.adminToken)
        #expect(newKey.status == 201 && (newKey.json?["api_key"] as? String).map { $0 != api.alice.key } == true)
        let accounts = try await api.request(.GET, "/admin/accounts", token: api.adminToken)
        #expect((accounts.json?["accounts"] as? [Any])?.count == 3)
    }

    /// The OpenAPI document lists every route, and every route it lists is served.
    @Test func theOpenAPIDocumentMatchesTheRoutes() async throws {
        let api = try await api("api-openapi")
        defer { api.stop() }
        let reply = try await api.request(.GET, "/api/openapi.json")
        let document = try #require(reply.json)
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var listed = 0
        for (path, operations) in paths {
            for method in operations.keys {
                listed += 1
                let concrete = path.replacingOccurrences(of: "{uuid}", with: "00000000-0000-0000-0000-000000000000")
                    .replacingOccurrences(of: "{number}", with: "15551110001").replacingOccurrences(of: "{page}", with: "1.png")
                let token = path.hasPrefix("/admin") || path == "/metrics" ? api.adminToken : api.alice.key
                let answer = try await api.request(.init(rawValue: method.uppercased()), concrete, token: token,
                                                   body: method == "get" || method == "delete" ? nil : Array("{}".utf8))
                // The router's own 404 for an unknown route has no body; ours always names what is missing.
                #expect(!(answer.status == 404 && answer.body.isEmpty), "\(method.uppercased()) \(path) is documented but not served")
            }
        }
        #expect(listed == OpenAPIDocument.routes.count)
        // Validated by an independent validator (scripts/setup installs it).
        let file = Fixtures.scratchDirectory("openapi") + "/openapi.json"
        try Data(reply.body).write(to: URL(fileURLWithPath: file))
        let check = try ChildProcess.run("python3", ["-m", "openapi_spec_validator", file])
        if check.stderr.contains("No module named") {
            Issue.record("openapi-spec-validator is not installed (scripts/setup installs it from PyPI); the document was not validated")
        } else {
            #expect(check.status == 0, "openapi-spec-validator: \(check.stdout) \(check.stderr)")
        }
    }
}
