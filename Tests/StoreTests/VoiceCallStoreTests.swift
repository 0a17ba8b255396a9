import FaxdTesting
import Foundation
@testable import Store
import Testing

@Suite struct VoiceCallStoreTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000) // 2027-01-15T08:00:00Z

    func freshStore(_ dialect: SQLDialect) async throws -> FaxStore { try await TestStores.fresh(dialect, "voicestore") }

    func newCall(_ id: String, account: Int64, direction: VoiceCall.Direction = .outbound, at date: Date) -> VoiceCall {
        VoiceCall(callControlID: id, callLegID: "leg-\(id)", callSessionID: "session-\(id)", accountID: account, direction: direction,
                  fromNumber: "+15551234567", toNumber: "+15557654321", clientState: "YQ==", webhookURL: "https://app.example/hook",
                  connectionID: "conn", trunk: "carrier", now: date)
    }

    @Test(arguments: SQLDialect.allCases) func everyFieldRoundTrips(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            var call = try db.insert(newCall("v3:one", account: account.id, at: t0))
            #expect(call.id > 0 && call.state == .dialing)
            #expect(try db.voiceCall(callControlID: "v3:one", accountID: account.id) == call)
            call.state = .ended
            call.answeredAt = t0.addingTimeInterval(3)
            call.endedAt = t0.addingTimeInterval(63.5)
            call.durationSeconds = 60.5
            call.hangupCause = .userBusy
            call.hangupSource = .callee
            call.sipHangupCause = "486"
            call.recordingPath = "/data/voice/v3-one.wav"
            call.muted = true
            call.held = true
            call.clientState = "Yg=="
            call.webhookURL = nil
            try db.update(call, now: t0.addingTimeInterval(64))
            call.updatedAt = t0.addingTimeInterval(64)
            #expect(try db.voiceCall(callControlID: "v3:one") == call)
            let inbound = try db.insert(newCall("v3:two", account: account.id, direction: .inbound, at: t0))
            #expect(inbound.state == .ringing, "an inbound call starts ringing (parked)")
        }
    }

    @Test(arguments: SQLDialect.allCases) func constraints(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        let account = try store.write { try $0.insert(FaxAccount(faxNumber: "15551234567")) }
        _ = try store.write { try $0.insert(newCall("v3:dup", account: account.id, at: t0)) }
        do {
            _ = try store.write { try $0.insert(newCall("v3:dup", account: account.id, at: t0)) }
            Issue.record("a call_control_id is unique")
        } catch let error as StoreError {
            #expect(error.isConstraint)
        }
        do {
            _ = try store.write { try $0.query("UPDATE voice_calls SET state = 'parked' WHERE call_control_id = 'v3:dup'") }
            Issue.record("state has a CHECK")
        } catch let error as StoreError {
            #expect(error.isConstraint)
        }
        do {
            _ = try store.write { try $0.query("UPDATE fax_accounts SET number_mode = 'sms' WHERE id = ?", [account.id]) }
            Issue.record("number_mode has a CHECK")
        } catch let error as StoreError {
            #expect(error.isConstraint)
        }
    }

    @Test(arguments: SQLDialect.allCases) func stateChangesStampTimesAndEndOnce(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            _ = try db.insert(newCall("v3:a", account: account.id, at: t0))
            #expect(try db.setVoiceCallState(callControlID: "v3:a", to: .ringing, at: t0.addingTimeInterval(1)))
            #expect(try db.setVoiceCallState(callControlID: "v3:a", to: .active, at: t0.addingTimeInterval(4)))
            #expect(try db.setVoiceCallState(callControlID: "v3:a", to: .active, at: t0.addingTimeInterval(9)), "a repeat keeps the first answer time")
            #expect(try db.voiceCall(callControlID: "v3:a")?.answeredAt == t0.addingTimeInterval(4))
            #expect(try db.setVoiceCallState(callControlID: "v3:a", to: .ringing, at: t0.addingTimeInterval(10)) == false, "never backwards")
            #expect(try db.voiceCall(callControlID: "v3:a")?.state == .active)
            #expect(try db.setVoiceCallState(callControlID: "v3:a", to: .ended, at: t0.addingTimeInterval(34),
                                             hangup: (cause: .normalClearing, source: .caller, sipCause: "unspecified")))
            let ended = try #require(try db.voiceCall(callControlID: "v3:a"))
            #expect(ended.state == .ended && ended.endedAt == t0.addingTimeInterval(34) && ended.durationSeconds == 30)
            #expect(ended.hangupCause == .normalClearing && ended.hangupSource == .caller && ended.sipHangupCause == "unspecified")
            #expect(try db.setVoiceCallState(callControlID: "v3:a", to: .active, at: t0.addingTimeInterval(40)) == false,
                    "an ended call never comes back")
            #expect(try db.setVoiceCallState(callControlID: "v3:a", to: .ended, at: t0.addingTimeInterval(40),
                                             hangup: (cause: .timeout, source: .callee, sipCause: "408")) == false)
            #expect(try db.voiceCall(callControlID: "v3:a")?.hangupCause == .normalClearing)
            #expect(try db.setVoiceCallState(callControlID: "v3:unknown", to: .active, at: t0) == false)

            _ = try db.insert(newCall("v3:b", account: account.id, at: t0))
            try db.setVoiceCallState(callControlID: "v3:b", to: .ended, at: t0.addingTimeInterval(20),
                                     hangup: (cause: .userBusy, source: .callee, sipCause: "486"))
            let busy = try #require(try db.voiceCall(callControlID: "v3:b"))
            #expect(busy.durationSeconds == 0 && busy.answeredAt == nil && busy.sipHangupCause == "486", "never answered: no talk time")
        }
    }

    @Test(arguments: SQLDialect.allCases) func anotherAccountsCallIsNotFound(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        try store.write { db in
            let mine = try db.insert(FaxAccount(faxNumber: "15550000001"))
            let theirs = try db.insert(FaxAccount(faxNumber: "15550000002"))
            _ = try db.insert(newCall("v3:mine", account: mine.id, at: t0))
            _ = try db.insert(newCall("v3:theirs", account: theirs.id, at: t0))
            try db.setVoiceCallRecording(callControlID: "v3:theirs", path: "/data/theirs.wav")
            #expect(try db.voiceCall(callControlID: "v3:mine", accountID: mine.id) != nil)
            #expect(try db.voiceCall(callControlID: "v3:theirs", accountID: mine.id) == nil)
            #expect(try db.voiceCall(callControlID: "v3:nobody", accountID: mine.id) == nil)
            #expect(try db.voiceCallRecordingPath(callControlID: "v3:theirs", accountID: mine.id) == nil)
            #expect(try db.voiceCallRecordingPath(callControlID: "v3:theirs", accountID: theirs.id) == "/data/theirs.wav")
            #expect(try db.voiceCallRecordingPath(callControlID: "v3:mine", accountID: mine.id) == nil, "no recording yet")
            #expect(try db.voiceCalls(accountID: mine.id).map(\.callControlID) == ["v3:mine"])
            #expect(try db.activeVoiceCalls(accountID: mine.id).map(\.callControlID) == ["v3:mine"])
            #expect(try db.activeVoiceCalls().map(\.callControlID) == ["v3:mine", "v3:theirs"])
            #expect(try db.voiceCallStats(accountID: mine.id, now: t0).total == 1)
            #expect(try db.voiceCommand(accountID: mine.id, callControlID: "v3:theirs", commandID: "c", now: t0) == nil)
        }
    }

    @Test(arguments: SQLDialect.allCases) func listsFilterByStateAndPage(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            for i in 0..<5 { _ = try db.insert(newCall("v3:\(i)", account: account.id, at: t0.addingTimeInterval(Double(i)))) }
            try db.setVoiceCallState(callControlID: "v3:1", to: .active, at: t0)
            try db.setVoiceCallState(callControlID: "v3:3", to: .ended, at: t0, hangup: (cause: .timeout, source: .caller, sipCause: "unspecified"))
            #expect(try db.voiceCalls(accountID: account.id).map(\.callControlID) == ["v3:4", "v3:3", "v3:2", "v3:1", "v3:0"])
            #expect(try db.voiceCalls(accountID: account.id, state: .dialing).map(\.callControlID) == ["v3:4", "v3:2", "v3:0"])
            #expect(try db.voiceCalls(accountID: account.id, state: .ended).map(\.callControlID) == ["v3:3"])
            let first = try db.voiceCalls(accountID: account.id, limit: 2)
            #expect(first.map(\.callControlID) == ["v3:4", "v3:3"])
            #expect(try db.voiceCalls(accountID: account.id, before: first.last?.id, limit: 2).map(\.callControlID) == ["v3:2", "v3:1"])
            #expect(try db.activeVoiceCalls(accountID: account.id).map(\.callControlID) == ["v3:0", "v3:1", "v3:2", "v3:4"])
        }
    }

    @Test(arguments: SQLDialect.allCases) func stats(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        let now = t0.addingTimeInterval(3600) // 09:00 UTC; midnight is 8 hours before t0... t0 is 08:00
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            let other = try db.insert(FaxAccount(faxNumber: "15550000009"))
            let empty = try db.voiceCallStats(accountID: account.id, now: now)
            #expect(empty == VoiceCallStats(byState: [.dialing: 0, .ringing: 0, .active: 0, .ended: 0], total: 0,
                                            totalDurationSeconds: 0, averageDurationSeconds: 0, today: 0))
            // Yesterday: answered, 60 s.
            _ = try db.insert(newCall("v3:y", account: account.id, at: t0.addingTimeInterval(-86_400)))
            try db.setVoiceCallState(callControlID: "v3:y", to: .active, at: t0.addingTimeInterval(-86_400 + 5))
            try db.setVoiceCallState(callControlID: "v3:y", to: .ended, at: t0.addingTimeInterval(-86_400 + 65))
            // Today: answered, 30 s; busy (never answered); one live; one ringing inbound.
            _ = try db.insert(newCall("v3:t", account: account.id, at: t0))
            try db.setVoiceCallState(callControlID: "v3:t", to: .active, at: t0.addingTimeInterval(10))
            try db.setVoiceCallState(callControlID: "v3:t", to: .ended, at: t0.addingTimeInterval(40))
            _ = try db.insert(newCall("v3:busy", account: account.id, at: t0.addingTimeInterval(100)))
            try db.setVoiceCallState(callControlID: "v3:busy", to: .ended, at: t0.addingTimeInterval(101),
                                     hangup: (cause: .userBusy, source: .callee, sipCause: "486"))
            _ = try db.insert(newCall("v3:live", account: account.id, at: t0.addingTimeInterval(200)))
            try db.setVoiceCallState(callControlID: "v3:live", to: .active, at: t0.addingTimeInterval(201))
            _ = try db.insert(newCall("v3:in", account: account.id, direction: .inbound, at: t0.addingTimeInterval(300)))
            _ = try db.insert(newCall("v3:other", account: other.id, at: t0))
            let stats = try db.voiceCallStats(accountID: account.id, now: now)
            #expect(stats.byState == [.dialing: 0, .ringing: 1, .active: 1, .ended: 3])
            #expect(stats.total == 5)
            #expect(stats.totalDurationSeconds == 90)
            #expect(stats.averageDurationSeconds == 45, "the mean of the answered ended calls (60 and 30), the busy one left out")
            #expect(stats.today == 4)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            encoder.keyEncodingStrategy = .convertToSnakeCase
            let json = String(decoding: try encoder.encode(stats), as: UTF8.self)
            #expect(json == #"{"average_duration_seconds":45,"by_state":{"active":1,"dialing":0,"ended":3,"ringing":1},"today":4,"total":5,"total_duration_seconds":90}"#)
        }
    }

    @Test(arguments: SQLDialect.allCases) func mediaFlagsClientStateAndRecording(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            _ = try db.insert(newCall("v3:m", account: account.id, at: t0))
            try db.setVoiceCallMedia(callControlID: "v3:m", muted: true)
            var call = try #require(try db.voiceCall(callControlID: "v3:m"))
            #expect(call.muted && !call.held)
            try db.setVoiceCallMedia(callControlID: "v3:m", held: true)
            call = try #require(try db.voiceCall(callControlID: "v3:m"))
            #expect(call.muted && call.held, "nil leaves a flag as it was")
            try db.setVoiceCallMedia(callControlID: "v3:m", muted: false, held: false)
            call = try #require(try db.voiceCall(callControlID: "v3:m"))
            #expect(!call.muted && !call.held)
            try db.setVoiceCallClientState(callControlID: "v3:m", clientState: "bmV3")
            try db.setVoiceCallRecording(callControlID: "v3:m", path: "/data/m.wav")
            call = try #require(try db.voiceCall(callControlID: "v3:m"))
            #expect(call.clientState == "bmV3" && call.recordingPath == "/data/m.wav")
        }
    }

    @Test(arguments: SQLDialect.allCases) func commandIDsAreAnsweredTheSameWithinFiveMinutes(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            let other = try db.insert(FaxAccount(faxNumber: "15550000002"))
            #expect(try db.claimVoiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1", command: "hangup", now: t0) == .claimed)
            guard case .running(let running) = try db.claimVoiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1",
                                                                        command: "hangup", now: t0.addingTimeInterval(1)) else {
                Issue.record("a repeat while the first runs is told so")
                return
            }
            #expect(running.status == 0 && running.responseJSON == "")
            try db.storeVoiceCommandResponse(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1", status: 200,
                                             responseJSON: #"{"data":{"result":"ok"}}"#)
            guard case .answered(let answer) = try db.claimVoiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1",
                                                                        command: "hangup", now: t0.addingTimeInterval(299)) else {
                Issue.record("a repeat within 5 minutes is answered from the record")
                return
            }
            #expect(answer.status == 200 && answer.responseJSON == #"{"data":{"result":"ok"}}"# && answer.command == "hangup"
                    && answer.createdAt == t0 && answer.accountID == account.id && answer.callControlID == "v3:c" && answer.commandID == "cmd-1")
            guard case .mismatch(let stored) = try db.claimVoiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1",
                                                                        command: "mute", now: t0.addingTimeInterval(10)) else {
                Issue.record("the same id for another action is refused")
                return
            }
            #expect(stored.command == "hangup")
            // The same id on another call, or for another account, is a different command.
            #expect(try db.claimVoiceCommand(accountID: account.id, callControlID: "v3:d", commandID: "cmd-1", command: "hangup", now: t0) == .claimed)
            #expect(try db.claimVoiceCommand(accountID: other.id, callControlID: "v3:c", commandID: "cmd-1", command: "hangup", now: t0) == .claimed)
            // After 5 minutes the id may be used again.
            #expect(try db.voiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1", now: t0.addingTimeInterval(300)) == nil)
            #expect(try db.claimVoiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1", command: "mute",
                                             now: t0.addingTimeInterval(301)) == .claimed)
            let renewed = try #require(try db.voiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1",
                                                           now: t0.addingTimeInterval(302)))
            #expect(renewed.command == "mute" && renewed.status == 0 && renewed.createdAt == t0.addingTimeInterval(301))
            // A claim whose command never ran is released.
            try db.releaseVoiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1")
            #expect(try db.voiceCommand(accountID: account.id, callControlID: "v3:c", commandID: "cmd-1", now: t0.addingTimeInterval(302)) == nil)
            // Pruning drops only the old records.
            #expect(try db.pruneVoiceCommands(now: t0.addingTimeInterval(300)) == 2, "v3:d and the other account's, both from t0")
            #expect(try db.query("SELECT COUNT(*) AS n FROM voice_commands").first?.int("n") == 0)
        }
    }

    @Test(arguments: SQLDialect.allCases) func numberModeDefaultsToFaxAndChanges(_ dialect: SQLDialect) async throws {
        let store = try await freshStore(dialect)
        try store.write { db in
            let account = try db.insert(FaxAccount(faxNumber: "15551234567"))
            #expect(try db.account(id: account.id)?.numberMode == .fax)
            try db.setNumberMode(accountID: account.id, .auto)
            #expect(try db.account(id: account.id)?.numberMode == .auto)
            try db.setNumberMode(accountID: account.id, .voice)
            #expect(try db.account(faxNumber: "15551234567")?.numberMode == .voice)
            // The account's own insert and update carry the mode too.
            var voice = FaxAccount(faxNumber: "15559990000")
            voice.numberMode = .voice
            var saved = try db.insert(voice)
            #expect(try db.account(id: saved.id)?.numberMode == .voice)
            saved.numberMode = .auto
            try db.update(saved)
            #expect(try db.account(id: saved.id)?.numberMode == .auto)
        }
    }

    /// A database from before the voice migrations gets them; its accounts answer as fax and
    /// stream nothing.
    @Test(arguments: SQLDialect.allCases) func voiceMigrationsUpgradeAnOlderDatabase(_ dialect: SQLDialect) async throws {
        let location = try await TestStores.freshLocation(dialect, "voicestore")
        let older = Migrations.all.prefix { $0.name != "009_voice_calls" }
        #expect(older.count == Migrations.all.count - 4)
        do {
            let db = try Database(location: location)
            try db.execute(Migrations.sql("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)", for: dialect))
            for migration in older {
                try db.execute(Migrations.sql(migration.sql, for: dialect))
                try db.query("INSERT INTO schema_migrations VALUES (?, ?)", [migration.name, Date()])
            }
            try db.query("INSERT INTO fax_accounts (uuid, fax_number, created_at, updated_at) VALUES ('u1', '15551230000', 0, 0)")
        }
        let store = try FaxStore(location: location)
        #expect(try store.appliedMigrations().suffix(4) == ["009_voice_calls", "010_number_mode", "011_voice_stream", "012_nodes"])
        let account = try store.read { try $0.account(faxNumber: "15551230000") }
        #expect(account?.numberMode == .fax && account?.voiceStream == nil)
        #expect(try store.read { try $0.activeVoiceCalls() }.isEmpty, "voice_calls exists")
    }
}
