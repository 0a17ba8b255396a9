import FaxdTesting
import Foundation
import Hashing
@testable import Store
import Testing

@Suite struct StoreTests {
    @Test(arguments: SQLDialect.allCases) func migrationsApplyToAnEmptyDatabaseOnce(_ dialect: SQLDialect) async throws {
        let store = try await TestStores.fresh(dialect, "store")
        #expect(try store.appliedMigrations() == Migrations.all.map(\.name))
        let reopened = try FaxStore(location: store.location)
        #expect(try reopened.appliedMigrations() == Migrations.all.map(\.name))
        if dialect == .sqlite {
            let journal = try store.read { try $0.query("PRAGMA journal_mode").first?.string("journal_mode") }
            #expect(journal == "wal")
        }
    }

    /// A database made by an older faxd (only the first two migrations) gets the rest and keeps its rows.
    @Test(arguments: SQLDialect.allCases) func migrationsUpgradeAnExistingDatabase(_ dialect: SQLDialect) async throws {
        let location = try await TestStores.freshLocation(dialect, "store")
        do {
            let db = try Database(location: location)
            try db.execute(Migrations.sql("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)", for: dialect))
            for migration in Migrations.all.prefix(2) {
                try db.execute(Migrations.sql(migration.sql, for: dialect))
                try db.query("INSERT INTO schema_migrations VALUES (?, ?)", [migration.name, Date()])
            }
            // As an older faxd wrote it (its own columns only).
            try db.query("INSERT INTO fax_accounts (uuid, fax_number, name, created_at, updated_at) VALUES ('u1', '15551230000', 'old', 0, 0)")
        }
        let store = try FaxStore(location: location)
        #expect(try store.appliedMigrations() == Migrations.all.map(\.name))
        let old = try #require(try store.read { try $0.account(faxNumber: "15551230000") })
        #expect(old.name == "old" && old.recordCalls == false && old.plan == .basic, "new columns take their defaults")
        #expect(try store.read { try $0.pendingOutboxCount() } == 0, "the outbox table exists now")
    }

    @Test(arguments: SQLDialect.allCases) func everyModelRoundTrips(_ dialect: SQLDialect) async throws {
        let store = try await TestStores.fresh(dialect, "store")
        let now = Date(timeIntervalSince1970: 1_790_000_000.25)
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567", name: "Acme", email: "fax@example.com", emailFormat: .tiff,
                                                   plan: .pro, status: .disabled, billingCycleDay: 15, maxConcurrentSends: 3,
                                                   createdAt: now, updatedAt: now))
            #expect(try db.account(id: account.id) == account)
            #expect(try db.account(identifiedBy: account.uuid) == account)

            var t = FaxTransmission(accountID: account.id, direction: .outbound, status: .queued, fromNumber: "15551234567",
                                    toNumber: "442071234567", filePath: "/x/y.tif", fine: false, maxAttempts: 4, now: now)
            t.fromName = "Acme"; t.toName = "London"; t.fileSHA256 = "ab"; t.pdfPath = "/x/y.pdf"; t.pagesTotal = 3
            t.pagesTransferred = 2; t.durationSeconds = 31.5; t.bitRate = 14400; t.ecm = true; t.resolution = "fine"
            t.compression = "T.6"; t.remoteStationID = "REMOTE"; t.transport = "t38"; t.trunk = "carrier"; t.sipStatus = 200
            t.sipReason = "OK"; t.t30Code = 0; t.t30Name = "OK"; t.hangupCause = "fax_complete"; t.error = "e"; t.costCents = 30
            t.attempts = 2; t.nextAttemptAt = now; t.resumePage = 2; t.ladderStep = 1
            t.startedAt = now; t.completedAt = now; t.outcomeJSON = "{}"
            let saved = try db.insert(t)
            #expect(try db.transmission(uuid: t.uuid) == saved)
            try db.addIdempotentTransmission(accountID: account.id, key: "k1", uuid: saved.uuid)
            #expect(try db.idempotentResponse(accountID: account.id, key: "k1")?.transmissionUUIDs == [saved.uuid])

            var attempt = try db.insert(FaxAttempt(transmissionID: saved.id, number: 1, startedAt: now, firstPage: 0, ecm: true, v17: false, t38: true))
            attempt.endedAt = now; attempt.result = "failed"; attempt.failureClass = "busy"; attempt.pagesConfirmed = 1
            attempt.sipStatus = 486; attempt.t30Code = 3; attempt.t30Name = "x"; attempt.hangupCause = "sip_failure"; attempt.outcomeJSON = "{}"
            try db.update(attempt)
            #expect(try db.attempts(transmissionID: saved.id) == [attempt])

            let page = FaxPage(transmissionID: saved.id, pageNumber: 1, status: .sent, width: 1728, height: 2156, xResolution: 204,
                               yResolution: 196, compression: "T.6", sha256: "cd", badRows: 2, transferredAt: now)
            try db.insert(page)
            var read = try #require(try db.pages(transmissionID: saved.id).first)
            read.id = 0
            #expect(read == page)

            try db.touchContact(accountID: account.id, number: "442071234567", name: "London", at: now)
            try db.touchContact(accountID: account.id, number: "442071234567", name: nil, at: now.addingTimeInterval(5))
            let contact = try #require(try db.contacts(accountID: account.id).first)
            #expect(contact.usageCount == 2 && contact.name == "London" && contact.lastUsedAt == now.addingTimeInterval(5))

            let hook = try db.insert(FaxWebhook(accountID: account.id, url: "http://127.0.0.1:9/h", secret: "s", events: ["fax.sent", "fax.failed"], createdAt: now))
            #expect(try db.webhooks(accountID: account.id) == [hook])

            try db.log(.warning, "careful", transmissionID: saved.id, details: ["k": "v"])
            let log = try #require(try db.logs(transmissionID: saved.id).first)
            #expect(log.level == .warning && log.message == "careful" && log.detailsJSON == #"{"k":"v"}"#)

            let entry = OutboxEntry(eventID: "e1", channel: .webhook, event: "fax.sent", accountID: account.id,
                                    transmissionID: saved.id, webhookID: hook.id, payloadJSON: "{}", now: now)
            #expect(try db.enqueue(entry))
            #expect(try db.enqueue(entry) == false, "the same event id is never queued twice")
            var stored = try #require(try db.outbox(transmissionID: saved.id).first)
            stored.id = 0
            #expect(stored == entry)

            try db.addUsage(accountID: account.id, periodStart: "2026-11-15", sent: 3, costCents: 30)
            try db.addUsage(accountID: account.id, periodStart: "2026-11-15", received: 2, overage: 1)
            let usage = try db.usage(accountID: account.id, periodStart: "2026-11-15")
            #expect(usage.pagesSent == 3 && usage.pagesReceived == 2 && usage.overagePages == 1 && usage.costCents == 30 && usage.pages == 5)
        }
    }

    @Test(arguments: SQLDialect.allCases) func constraintsRejectBadRows(_ dialect: SQLDialect) async throws {
        let store = try await TestStores.fresh(dialect, "store")
        _ = try store.write { try $0.insert(FaxAccount(faxNumber: "15550000001")) }
        #expect(throws: StoreError.self) { try store.write { try $0.insert(FaxAccount(faxNumber: "15550000001")) } }
        #expect(throws: StoreError.self) { try store.write { try $0.insert(FaxAccount(faxNumber: "+1555")) } }
        do {
            _ = try store.write { try $0.insert(FaxAccount(faxNumber: "15550000001")) }
        } catch let error as StoreError {
            #expect(error.isConstraint)
        }
    }

    /// Known answers (FIPS 180-4 example, RFC 4231 test case 2).
    @Test func digests() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.encode(HMACSHA256.authenticate(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(SecureRandom.token(bytes: 16).count == 32)
    }
}

@Suite struct QueueWindowTests {
    /// One account with many due sends does not fill the scheduler's window (review finding 2.2).
    @Test(arguments: SQLDialect.allCases) func dueSendsAreCappedPerAccount(_ dialect: SQLDialect) async throws {
        let store = try await TestStores.fresh(dialect, "store")
        let now = Date()
        try store.write { db in
            let busy = try db.insert(FaxAccount(faxNumber: "15550000001"))
            let quiet = try db.insert(FaxAccount(faxNumber: "15550000002"))
            for i in 0..<50 {
                var t = FaxTransmission(accountID: busy.id, direction: .outbound, status: .queued, toNumber: "1555000\(1000 + i)",
                                        now: now.addingTimeInterval(-100 + Double(i)))
                t.nextAttemptAt = now.addingTimeInterval(-100 + Double(i))
                _ = try db.insert(t)
            }
            var late = FaxTransmission(accountID: quiet.id, direction: .outbound, status: .queued, toNumber: "15559999999", now: now)
            late.nextAttemptAt = now.addingTimeInterval(-1)
            _ = try db.insert(late)
        }
        let due = try store.read { try $0.dueTransmissions(now: now, limit: 21, perAccount: 20) }
        #expect(due.count == 21 && due.filter { $0.toNumber == "15559999999" }.count == 1, "the quiet account's send is in the window")
    }
}
