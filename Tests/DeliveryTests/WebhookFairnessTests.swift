import Delivery
import Engine
import FaxdTesting
import Foundation
import Store
import Testing

/// Deliveries flow continuously and fairly (issue 18): one account's slow endpoints hold at most
/// `delivery.account_concurrency` slots, and a slot is refilled as soon as it frees, so another
/// account's event (or the same account's fast endpoint) is not kept waiting behind them.
/// Against a real threaded HTTP receiver that answers paths with "/slow" after a delay.
@Suite struct WebhookFairnessTests {
    struct Line: Decodable {
        var phase: String
        var path: String
        var id: String
        var host: String
        var time: Double
    }

    static func lines(_ log: String) -> [Line] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }

    /// Polls the receiver's log until `done` holds (or `timeout` seconds pass); returns the last read.
    static func wait(_ log: String, timeout: Double, until done: ([Line]) -> Bool) async -> [Line] {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = lines(log)
        while !done(seen) && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            seen = lines(log)
        }
        return seen
    }

    /// The most requests open at once among `lines` matching `include` (a start opens, an end closes).
    static func peak(_ lines: [Line], _ include: (Line) -> Bool) -> Int {
        var open = 0, most = 0
        for line in lines.filter(include).sorted(by: { ($0.time, $0.phase == "end" ? 0 : 1) < ($1.time, $1.phase == "end" ? 0 : 1) }) {
            open += line.phase == "start" ? 1 : -1
            most = max(most, open)
        }
        return most
    }

    static let payload = #"{"data":{"pages":1,"uuid":"u"},"event":"fax.received","timestamp":"2026-11-21T00:00:00Z"}"#

    static func configure(_ c: inout FaxdConfiguration) {
        c.delivery.concurrency = 8
        c.delivery.accountConcurrency = 4
        c.delivery.endpointConcurrency = 2
        c.delivery.webhookTimeoutSeconds = 120
        c.delivery.retryDelaysSeconds = [60]
        c.delivery.pollIntervalMilliseconds = 100
        c.delivery.allowPrivateTargets = true  // the receiver is on 127.0.0.1
    }

    /// The audit's case: account A has 40 slow endpoints with an event each, queued before
    /// account B's one event. B's event reaches its receiver at once, not after A's backlog
    /// (with batches of 8 it waited for four rounds of A's 8-second answers); A never has more
    /// than its 4 deliveries open.
    @Test func oneAccountsSlowEndpointsDoNotDelayAnothersEvent() async throws {
        let delay = 8.0
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("hook-fair") + "/requests.jsonl"
        let receiver = try ScriptServer("slow_webhook_receiver.py", [String(port), log, String(delay)])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let service = try TestService(label: "hook-fair", configure: Self.configure, provision: { db in
            let a = try db.insert(FaxAccount(faxNumber: "15551110001"))
            let b = try db.insert(FaxAccount(faxNumber: "15552220002"))
            let earlier = Date().addingTimeInterval(-60)
            for i in 0..<40 {
                let hook = try db.insert(FaxWebhook(accountID: a.id, url: "http://127.0.0.1:\(port)/slow/\(i)", secret: "whsec_AAAA",
                                                    events: ["fax.received"]))
                try db.enqueue(OutboxEntry(eventID: "a-\(i)", channel: .webhook, event: "fax.received", accountID: a.id, transmissionID: nil,
                                           webhookID: hook.id, payloadJSON: Self.payload, now: earlier))
            }
            let hook = try db.insert(FaxWebhook(accountID: b.id, url: "http://127.0.0.1:\(port)/fast/b", secret: "whsec_BBBB", events: ["fax.received"]))
            try db.enqueue(OutboxEntry(eventID: "b-0", channel: .webhook, event: "fax.received", accountID: b.id, transmissionID: nil,
                                       webhookID: hook.id, payloadJSON: Self.payload))
        })
        defer { service.stop() }

        let seen = await Self.wait(log, timeout: 90) { $0.contains { $0.id == "b-0" && $0.phase == "end" } }
        let first = try #require(seen.map(\.time).min(), "nothing reached the receiver: \(receiver.log)")
        let b = try #require(seen.first { $0.id == "b-0" && $0.phase == "start" }, "B's event never arrived")
        #expect(b.time - first < delay / 2, "B's event arrived \(b.time - first) s after the first of A's; A's endpoints answer after \(delay) s")

        // A's fifth request starts only when one of its first four has ended.
        let more = await Self.wait(log, timeout: 90) { lines in lines.filter { $0.id.hasPrefix("a-") && $0.phase == "start" }.count >= 5 }
        #expect(more.filter { $0.id.hasPrefix("a-") && $0.phase == "start" }.count >= 5, "A's deliveries go on")
        #expect(Self.peak(more) { $0.id.hasPrefix("a-") } == 4, "account A had \(Self.peak(more) { $0.id.hasPrefix("a-") }) deliveries open at once")
        #expect(Self.peak(more) { _ in true } <= 8)
    }

    /// One account, a slow endpoint and a fast one whose 10 events must go in order: the fast
    /// ones follow each other while the slow request is still open (the dispatcher used to wait
    /// for its whole batch, the slow one included, before taking the next event).
    @Test func aSlowDeliveryDoesNotHoldTheNextOnes() async throws {
        let delay = 20.0  // 10 fast deliveries in a row took over 12 s once, early in a loaded suite
        let port = TestPorts.port()
        let log = Fixtures.scratchDirectory("hook-flow") + "/requests.jsonl"
        let receiver = try ScriptServer("slow_webhook_receiver.py", [String(port), log, String(delay)])
        defer { receiver.stop() }
        try #require(await receiver.waitUntilReady(), "receiver: \(receiver.log)")
        let service = try TestService(label: "hook-flow", configure: Self.configure, provision: { db in
            let a = try db.insert(FaxAccount(faxNumber: "15551110001"))
            let slow = try db.insert(FaxWebhook(accountID: a.id, url: "http://127.0.0.1:\(port)/slow", secret: "whsec_AAAA", events: ["fax.received"]))
            let fast = try db.insert(FaxWebhook(accountID: a.id, url: "http://127.0.0.1:\(port)/fast", secret: "whsec_AAAA", events: ["fax.received"]))
            let earlier = Date().addingTimeInterval(-60)
            try db.enqueue(OutboxEntry(eventID: "slow", channel: .webhook, event: "fax.received", accountID: a.id, transmissionID: nil,
                                       webhookID: slow.id, payloadJSON: Self.payload, now: earlier))
            for i in 0..<10 {
                try db.enqueue(OutboxEntry(eventID: "fast-\(i)", channel: .webhook, event: "fax.received", accountID: a.id, transmissionID: nil,
                                           webhookID: fast.id, payloadJSON: Self.payload, now: earlier.addingTimeInterval(Double(i + 1))))
            }
        })
        defer { service.stop() }

        let seen = await Self.wait(log, timeout: 90) { lines in
            lines.filter { $0.path == "/fast" && $0.phase == "end" }.count >= 10 && lines.contains { $0.id == "slow" && $0.phase == "end" }
        }
        let fast = seen.filter { $0.path == "/fast" && $0.phase == "start" }
        #expect(fast.map(\.id) == (0..<10).map { "fast-\($0)" }, "in order, each once")
        let slowStart = try #require(seen.first { $0.id == "slow" && $0.phase == "start" }, "the slow event was sent")
        let slowEnd = try #require(seen.first { $0.id == "slow" && $0.phase == "end" }, "the slow event was answered")
        let lastFast = try #require(fast.last)
        // Causal, not timed: the 10th fast request went out while the slow one was still open.
        #expect(lastFast.time < slowEnd.time,
                "the 10th fast event started \(lastFast.time - slowStart.time) s after the slow one, which was answered after \(slowEnd.time - slowStart.time) s")
    }
}

/// The store's side of fairness: due entries come round-robin by account and leave out what the
/// dispatcher is busy with.
@Suite struct DueOutboxTests {
    @Test(arguments: SQLDialect.allCases) func dueEntriesComeRoundRobinByAccountWithoutBusyOnes(_ dialect: SQLDialect) async throws {
        let store = try await TestStores.fresh(dialect, "dueoutbox")
        let (a, hooks, bHook) = try store.write { db -> (Int64, [Int64], Int64) in
            let a = try db.insert(FaxAccount(faxNumber: "15551110001")).id
            let b = try db.insert(FaxAccount(faxNumber: "15552220002")).id
            var hooks: [Int64] = []
            let earlier = Date().addingTimeInterval(-60)
            for i in 0..<40 {
                let hook = try db.insert(FaxWebhook(accountID: a, url: "https://a.example/\(i)", secret: "s", events: ["fax.received"])).id
                hooks.append(hook)
                try db.enqueue(OutboxEntry(eventID: "a-\(i)", channel: .webhook, event: "fax.received", accountID: a, transmissionID: nil,
                                           webhookID: hook, payloadJSON: "{}", now: earlier.addingTimeInterval(Double(i))))
            }
            let bHook = try db.insert(FaxWebhook(accountID: b, url: "https://b.example/", secret: "s", events: ["fax.received"])).id
            try db.enqueue(OutboxEntry(eventID: "b-0", channel: .webhook, event: "fax.received", accountID: b, transmissionID: nil,
                                       webhookID: bHook, payloadJSON: "{}"))
            return (a, hooks, bHook)
        }
        let now = Date().addingTimeInterval(1)
        let two = try store.read { try $0.dueOutbox(now: now, limit: 2) }
        #expect(two.map(\.eventID) == ["a-0", "b-0"], "each account's oldest first, though A has 40 older entries")
        let firstA = try #require(two.first)
        let notA = try store.read { try $0.dueOutbox(now: now, limit: 8, busy: OutboxBusy(accounts: [a])) }
        #expect(notA.map(\.eventID) == ["b-0"])
        let notB = try store.read { try $0.dueOutbox(now: now, limit: 3, busy: OutboxBusy(entries: [firstA.id], webhooks: [bHook, hooks[1]])) }
        #expect(notB.map(\.eventID) == ["a-2", "a-3", "a-4"])
        #expect(try store.read { try $0.dueOutbox(now: now, limit: 100) }.count == 41)
    }
}
