import Engine
import FaxdTesting
import Foundation
import HTTPAPI
import Processing
import SIP
import Store
import Testing

/// Issue 18: one idempotency layer (`fax_idempotency`), keyed on the parsed request, whose
/// claims name the service start that made them: a dead process's claim never blocks a key.
@Suite struct IdempotencyTests {
    let tiff = [UInt8](FileManager.default.contents(atPath: Fixtures.threePageLight)!)

    func api(_ label: String, configure: @escaping (inout FaxdConfiguration) -> Void = { _ in }) async throws -> TestAPI {
        try await TestAPI.sending(label, configure: configure)
    }

    @Test func curlFTwiceWithOneKeyIsOneSend() async throws {
        let api = try await api("idem-multipart")
        defer { api.stop() }
        // Two multipart bodies of one request differ in their boundary only (curl -F picks a new one each run).
        let fields = [("numbers", "15557654321"), ("is_enhanced", "false")]
        let first = TestAPI.multipart(fields: fields, file: ("file", "scan.tif", "image/tiff", tiff))
        let second = TestAPI.multipart(fields: fields, file: ("file", "scan.tif", "image/tiff", tiff))
        #expect(first.contentType != second.contentType)
        let a = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", first.contentType), ("Idempotency-Key", "scan-1")], body: first.body)
        #expect(a.status == 202, "\(a.text)")
        let b = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", second.contentType), ("Idempotency-Key", "scan-1")], body: second.body)
        #expect(b.status == 202 && b.body == a.body && b.header("Idempotent-Replayed") == "true", "\(b.text)")
        // Another document under the same key is another request.
        var changed = tiff
        changed[changed.count - 1] ^= 0xFF
        let other = TestAPI.multipart(fields: fields, file: ("file", "scan.tif", "image/tiff", changed))
        let c = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: [("Content-Type", other.contentType), ("Idempotency-Key", "scan-1")], body: other.body)
        #expect(c.status == 422 && c.errorCode == "idempotency_key_reused", "\(c.text)")
        #expect(try api.service.store.read { try $0.transmissions(direction: .outbound) }.count == 1)
        // The one layer: the key's record lists the transmission it queued.
        let account = try #require(try api.service.store.read { try $0.account(identifiedBy: api.alice.number) })
        let record = try #require(try api.service.store.read { try $0.idempotentResponse(accountID: account.id, key: "scan-1") })
        #expect(record.status == 202 && record.transmissionUUIDs == (a.json?["uuids"] as? [String]))
    }

    @Test func aClaimOfADeadProcessDoesNotBlockItsKey() async throws {
        let api = try await api("idem-orphan")
        defer { api.stop() }
        let account = try #require(try api.service.store.read { try $0.account(identifiedBy: api.alice.number) })
        // What a crash mid-request leaves: a claim of another service start, with nothing queued.
        try api.service.store.write {
            try $0.storeIdempotentResponse(accountID: account.id, key: "order-9",
                                           response: IdempotentResponse(requestHash: "of-the-crashed-request", status: 0, responseJSON: "",
                                                                        createdAt: Date(), instanceID: "a-process-that-died"))
        }
        let form = TestAPI.multipart(fields: [("numbers", "15557654321")], file: ("file", "scan.tif", "image/tiff", tiff))
        let sent = try await api.request(.POST, "/api/fax/send/", token: api.alice.key,
                                         headers: [("Content-Type", form.contentType), ("Idempotency-Key", "order-9")], body: form.body)
        #expect(sent.status == 202, "the orphaned claim is released on sight: \(sent.text)")
    }

    @Test func aRequestInProgressGets409WithATruthfulRetryAfter() async throws {
        let api = try await api("idem-running") { $0.http.conversionTimeoutSeconds = 20 }
        defer { api.stop() }
        let slow = TestAPI.multipart(fields: [("numbers", "15557654321")], file: ("file", "slow.pdf", "application/pdf", SyntheticPDF.make(pages: 4, lines: 100_000)))
        let headers = [("Content-Type", slow.contentType), ("Idempotency-Key", "slow-1")]
        let first = Task { try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: headers, body: slow.body) }
        let deadline = Date().addingTimeInterval(60)
        while api.service.service.documents.conversionsRunning == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        try #require(api.service.service.documents.conversionsRunning == 1, "the first request's conversion did not start")
        let again = try await api.request(.POST, "/api/fax/send/", token: api.alice.key, headers: headers, body: slow.body)
        #expect(again.status == 409 && again.errorCode == "in_progress", "\(again.text)")
        let retry = Int(again.header("Retry-After") ?? "") ?? 0
        #expect((1...10).contains(retry) && again.errorMessage?.contains("retry in \(retry) s") == true, "\(again.text)")
        _ = try await first.value
    }

    @Test func claimsOfAnEarlierRunAreReleasedAtStart() async throws {
        let first = try TestService(label: "idem-restart", provision: { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551110001"))
            try db.storeIdempotentResponse(accountID: account.id, key: "nothing-queued",
                                           response: IdempotentResponse(requestHash: "h1", status: 0, responseJSON: "", instanceID: "old-run"))
            try db.storeIdempotentResponse(accountID: account.id, key: "some-queued",
                                           response: IdempotentResponse(requestHash: "h2", status: 0, responseJSON: "", instanceID: "old-run",
                                                                        transmissionUUIDs: ["u1"]))
            try db.storeIdempotentResponse(accountID: account.id, key: "answered",
                                           response: IdempotentResponse(requestHash: "h3", status: 202, responseJSON: "{}", instanceID: "old-run"))
        })
        first.stop()
        let second = try TestService(label: "idem-restart", directory: first.directory)
        defer { second.stop() }
        let account = try #require(try second.store.read { try $0.account(identifiedBy: "15551110001") })
        let records = try second.store.read { db in
            try ["nothing-queued", "some-queued", "answered"].map { try db.idempotentResponse(accountID: account.id, key: $0) }
        }
        #expect(records[0] == nil, "a claim that queued nothing is forgotten")
        #expect(records[1]?.instanceID == nil && records[1]?.transmissionUUIDs == ["u1"], "one that queued some is kept for the retry to resume")
        #expect(records[2]?.status == 202, "answers stay")
    }
}
