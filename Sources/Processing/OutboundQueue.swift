import Dispatch
import Engine
import Fax
import Foundation
import Logging
import Store
import Synchronization

/// The send scheduler: dials due transmissions within the per-account and per-trunk limits,
/// moves them queued -> dialing -> transmitting -> completed | failed (or back to queued for a
/// retry), and writes each transition with its outbox entries in one transaction. Runs on the
/// processing queue only; the orchestrator's callbacks hop back onto it.
final class OutboundQueue: @unchecked Sendable {  // confined to the processing queue
    let store: FaxStore
    let configuration: FaxdConfiguration
    let orchestrator: CallOrchestrator
    let logger: Logger
    let queue: DispatchQueue
    let planner: RetryPlanner
    /// Sends with a call in progress, by transmission uuid.
    private var active: [String: ActiveSend] = [:] {
        didSet { activeGauge.store(active.count, ordering: .relaxed) }
    }
    /// `active.count` for other threads (the admin status) without a hop onto the processing queue.
    private let activeGauge = Atomic<Int>(0)
    /// False once faxd is stopping: nothing new is dialled.
    var dialing = true
    var random: () -> Double = { Double.random(in: 0..<1) }
    /// Called after an attempt's result (and its outbox entries) is written.
    var onRecorded: () -> Void = {}

    struct ActiveSend {
        var accountID: Int64
        var trunk: String?
        var attemptID: Int64
    }

    init(store: FaxStore, configuration: FaxdConfiguration, orchestrator: CallOrchestrator, logger: Logger, queue: DispatchQueue) {
        self.store = store
        self.configuration = configuration
        self.orchestrator = orchestrator
        self.logger = logger
        self.queue = queue
        planner = RetryPlanner(policy: configuration.processing.retry)
    }

    /// Sends in progress; any thread.
    var activeCount: Int { activeGauge.load(ordering: .relaxed) }

    /// Dials every due transmission the limits allow; none while the node drains, and no more
    /// than this node's share: `processing.node_max_sends` sends and `sip.max_calls` calls in all
    /// (the sends left wait in the queue for this node or another).
    func tick(now: Date = Date()) {
        guard dialing, orchestrator.availability == .taking, let budget = nodeRoom else { return }
        let due: [FaxTransmission]
        do { due = try store.read { try $0.dueTransmissions(now: now, limit: 200) } } catch {
            logger.error("send queue unreadable", metadata: ["error": "\(error)"])
            return
        }
        var accounts: [Int64: FaxAccount?] = [:]
        var room = budget
        for transmission in due where active[transmission.uuid] == nil {
            guard room > 0 else { break }
            let account: FaxAccount?
            if let known = accounts[transmission.accountID] {
                account = known
            } else {
                do { account = try store.read { try $0.account(id: transmission.accountID) } } catch {
                    logger.error("send queue: cannot read an account; trying again next tick", metadata: ["error": "\(error)"])
                    return
                }
                accounts[transmission.accountID] = account
            }
            guard let account, account.status == .active else {
                fail(transmission, reason: account == nil ? "the account no longer exists" : "the account is disabled", now: now)
                continue
            }
            let limit = account.maxConcurrentSends ?? configuration.processing.accountConcurrency
            guard active.values.filter({ $0.accountID == account.id }).count < limit else { continue }
            if let name = transmission.trunk, let max = configuration.trunk(named: name)?.maxCalls,
               active.values.filter({ $0.trunk == name }).count >= max { continue }
            if dial(transmission, account: account, now: now) { room -= 1 }
        }
    }

    /// How many more sends this node may dial now (nil: none), by `processing.node_max_sends`
    /// and `sip.max_calls`. A send counts from its claim; its call counts once the SIP thread
    /// placed it, so the larger of the two counts is used against the call limit.
    private var nodeRoom: Int? {
        var room = Int.max
        let sends = configuration.processing.nodeMaxSends
        if sends > 0 { room = sends - active.count }
        let calls = configuration.sip.maxCalls
        if calls > 0 { room = min(room, calls - max(orchestrator.activeCalls, active.count)) }
        return room > 0 ? room : nil
    }

    /// Claims and dials one send; false when another node took it first, a limit counting
    /// every node's sends was reached, or the store refused.
    @discardableResult
    private func dial(_ queued: FaxTransmission, account: FaxAccount, now: Date) -> Bool {
        var base = configuration.fax.options
        base.firstPage = queued.resumePage
        let (options, transport) = planner.options(base: base, transport: nil, ladderStep: queued.ladderStep)
        var t = queued
        t.status = .dialing
        t.nodeID = configuration.nodeID
        t.attempts += 1
        t.startedAt = t.startedAt ?? now
        t.nextAttemptAt = nil
        let attempt: FaxAttempt
        do {
            let accountLimit = account.maxConcurrentSends ?? configuration.processing.accountConcurrency
            let trunkLimit = t.trunk.flatMap { configuration.trunk(named: $0)?.maxCalls }
            let claimed = try store.write { db -> FaxAttempt? in
                // Cancelled or taken by another node since it was read, or the account or trunk is
                // at its limit counting every node's sends: leave it.
                guard try db.claimForDialing(id: t.id, node: configuration.nodeID, accountLimit: accountLimit,
                                             trunkLimit: trunkLimit) == .claimed else { return nil }
                try db.update(t)
                let attempt = try db.insert(FaxAttempt(transmissionID: t.id, number: t.attempts, startedAt: now, firstPage: t.resumePage,
                                                       ecm: options.ecm, v17: options.modems.contains(.v17), t38: transport != .g711))
                try db.log(.info, "attempt \(t.attempts) dialing \(t.toNumber ?? "")", transmissionID: t.id,
                           details: ["first_page": "\(t.resumePage + 1)", "ecm": "\(options.ecm)", "v17": "\(options.modems.contains(.v17))",
                                     "t38": "\(transport != .g711)"])
                return attempt
            }
            guard let claimed else { return false }
            attempt = claimed
        } catch {
            logger.error("cannot start a send", metadata: ["uuid": "\(t.uuid)", "error": "\(error)"])
            return false
        }
        active[t.uuid] = ActiveSend(accountID: account.id, trunk: t.trunk, attemptID: attempt.id)
        let uuid = t.uuid
        var fax = OutboundFax(uuid: uuid, destination: t.toNumber ?? "", trunk: t.trunk, document: t.filePath ?? "",
                              options: options, callerID: account.faxNumber, transport: transport)
        fax.record = account.recordCalls
        fax.onAnswered = { [queue, self] in queue.async { self.answered(uuid) } }
        fax.onPagesConfirmed = { [queue, self] pages in queue.async { self.pagesConfirmed(uuid, pages: pages) } }
        logger.info("dialing queued fax", metadata: ["uuid": "\(uuid)", "to": "\(t.toNumber ?? "")", "attempt": "\(t.attempts)"])
        orchestrator.send(fax) { [queue, self] outcome in queue.async { self.ended(outcome) } }
        return true
    }

    /// The far end answered: the transmission is transmitting.
    func answered(_ uuid: String) {
        do {
            try store.write { db in
                guard var t = try db.transmission(uuid: uuid), t.status == .dialing else { return }
                t.status = .transmitting
                try db.update(t)
            }
        } catch {
            logger.error("cannot record an answer", metadata: ["uuid": "\(uuid)", "error": "\(error)"])
        }
    }

    /// The far end confirmed `pages` pages of the attempt so far: written at once, so a restart
    /// or another node resumes after them (and bills them) if this node dies mid-call.
    func pagesConfirmed(_ uuid: String, pages: Int) {
        guard let send = active[uuid] else { return }
        do { try store.write { try $0.recordPagesConfirmed(attemptID: send.attemptID, pages: pages) } } catch {
            logger.error("cannot record a confirmed page", metadata: ["uuid": "\(uuid)", "error": "\(error)"])
        }
    }

    /// The attempt's call ended: record it and decide (completed, retry, failed). A call cut off
    /// after the far end confirmed the last page (a shutdown, a lost BYE) delivered the fax: it
    /// is completed, as recovery completes it, not dialled again for a page it already has.
    func ended(_ outcome: FaxOutcome, now: Date = Date()) {
        guard let send = active.removeValue(forKey: outcome.uuid) else { return }
        do {
            guard var t = try store.read({ try $0.transmission(uuid: outcome.uuid) }), !t.status.isFinal else { return }
            // The larger of the call's count and the pages written as they were confirmed (a
            // terminal started afresh on a switch to T.38 counts from 0 again).
            let written = try store.read { try $0.attempts(transmissionID: t.id) }.first { $0.id == send.attemptID }?.pagesConfirmed ?? 0
            var confirmed = max(0, outcome.pagesTransferred, written)
            if t.pagesTotal > 0 { confirmed = min(confirmed, max(0, t.pagesTotal - t.resumePage)) }
            var decision = planner.decide(outcome, transmission: FaxTransmissionState(attempts: t.attempts, resumePage: t.resumePage,
                                                                                       ladderStep: t.ladderStep),
                                          now: now, random: random())
            if t.pagesTotal > 0 && t.resumePage + confirmed >= t.pagesTotal { decision = .completed }
            t.apply(outcome)
            // Written only while the send is still this node's, never over another's take-over.
            try record(AttemptEnd(transmission: t, owner: configuration.nodeID, attemptID: send.attemptID, accountID: send.accountID, decision: decision,
                                  confirmed: confirmed, outcome: outcome), now: now)
        } catch {
            logger.error("cannot record an outbound attempt", metadata: ["uuid": "\(outcome.uuid)", "error": "\(error)"])
        }
        onRecorded()
        tick()
    }

    /// How an attempt ended, as the send's record takes it: from the call's outcome (`ended`), or
    /// from the pages it had confirmed when the process or node carrying it died (`recover`).
    struct AttemptEnd {
        /// The send as read before the attempt ended (with the outcome applied, if any).
        var transmission: FaxTransmission
        /// The node the send was claimed by; nothing is written when that changed meanwhile.
        var owner: String?
        var attemptID: Int64
        var accountID: Int64
        var decision: RetryDecision
        /// Pages the far end confirmed in this attempt, from `transmission.resumePage` on.
        var confirmed: Int
        /// For a cut-off call: the attempt's `pages_confirmed` as read; nothing is written when
        /// it grew since (the node only looked dead and is still confirming pages).
        var written: Int? = nil
        /// The call's outcome, for the attempt's SIP and T.30 fields (nil: the call was cut off).
        var outcome: FaxOutcome?
    }

    /// Writes an attempt's end and what follows from it in one transaction: the send's state,
    /// the attempt, the confirmed pages (billed once), the events and emails. False, with nothing
    /// written, when the send is no longer in flight under `end.owner` or the attempt was already
    /// closed (another node, or this one's recovery, took it over first): an attempt ends once.
    @discardableResult
    func record(_ end: AttemptEnd, now: Date) throws -> Bool {
        var t = end.transmission
        let confirmed = end.confirmed
        let rate = configuration.processing.rates.centsPerPage(to: t.toNumber ?? "")
        t.costCents += confirmed * rate
        let firstPage = t.resumePage
        t.pagesTransferred = min(t.pagesTotal, firstPage + confirmed)
        guard let account = try store.read({ try $0.account(id: end.accountID) }) else { return false }
        var event: FaxEvent
        var email: OutboxMessages.Email?
        var archiveMove: (String, String)?
        var attemptResult = "failed"
        var failureClass: FailureClass?
        switch end.decision {
        case .completed:
            t.status = .completed
            t.pagesTransferred = t.pagesTotal
            t.error = nil
            t.resumePage = t.pagesTotal
            t.completedAt = t.completedAt ?? now
            event = .sent
            attemptResult = "completed"
            // The record points at the archive first; the file moves after the commit (a crash
            // in between is finished by `archiveSent` at the next start).
            if let file = t.filePath {
                archiveMove = (file, "\(configuration.archiveDirectory)/\(t.uuid).tif")
                t.filePath = archiveMove!.1
            }
            email = OutboxMessages.sentEmail(t)
        case .retry(let at, let failure, let resume, let ladder):
            failureClass = failure
            attemptResult = failure == .interrupted ? "interrupted" : "failed"
            t.status = .queued
            t.nextAttemptAt = at
            t.resumePage = min(resume, max(0, t.pagesTotal - 1))
            t.ladderStep = ladder
            if let outcome = end.outcome { t.error = RetryPlanner.reason(outcome) }
            event = .retryScheduled
        case .failed(let failure, let reason):
            failureClass = failure
            attemptResult = failure == .interrupted ? "interrupted" : "failed"
            t.status = .failed
            t.error = reason
            t.completedAt = t.completedAt ?? now
            t.resumePage = min(t.pagesTotal, firstPage + confirmed)
            event = .failed
            email = OutboxMessages.failedEmail(t, reason: reason)
        }
        let finished = t
        let period = BillingPeriod.start(containing: now, cycleDay: account.billingCycleDay)
        let written = try store.write { db -> Bool in
            guard let current = try db.transmission(uuid: finished.uuid), current.status == .dialing || current.status == .transmitting,
                  current.nodeID == end.owner, current.attempts == finished.attempts,
                  var attempt = try db.attempts(transmissionID: finished.id).first(where: { $0.id == end.attemptID }),
                  attempt.endedAt == nil, end.written.map({ $0 == attempt.pagesConfirmed }) ?? true else { return false }
            try db.update(finished)
            attempt.endedAt = now
            attempt.result = attemptResult
            attempt.failureClass = failureClass?.rawValue
            attempt.pagesConfirmed = confirmed
            if let outcome = end.outcome {
                attempt.sipStatus = outcome.sipStatus
                attempt.t30Code = outcome.t30Code
                attempt.t30Name = outcome.t30Name
                attempt.hangupCause = outcome.hangupCause.rawValue
                attempt.outcomeJSON = outcome.jsonLine
            }
            try db.update(attempt)
            if confirmed > 0 {
                try db.setPageStatus(transmissionID: finished.id, pages: (firstPage + 1)...(firstPage + confirmed), status: .sent, at: now)
                let usage = try db.usage(accountID: account.id, periodStart: period)
                let overage = Usage.overage(adding: confirmed, to: usage.pages, limit: account.plan.monthlyPages)
                try db.addUsage(accountID: account.id, periodStart: period, sent: confirmed, overage: overage, costCents: confirmed * rate)
            }
            if finished.status == .failed, finished.pagesTransferred < finished.pagesTotal {
                try db.setPageStatus(transmissionID: finished.id, pages: (finished.pagesTransferred + 1)...finished.pagesTotal, status: .failed, at: nil)
            }
            if finished.status == .completed {
                try db.touchContact(accountID: account.id, number: finished.toNumber ?? "", name: finished.toName, at: now)
            }
            switch end.decision {
            case .completed:
                try db.log(.info, "sent \(finished.pagesTotal) pages on attempt \(finished.attempts)", transmissionID: finished.id,
                           details: ["cost_cents": "\(finished.costCents)", "bit_rate": "\(finished.bitRate)"])
            case .retry(let at, let failure, _, _):
                try db.log(.warning, "attempt \(finished.attempts) failed (\(failure.rawValue): \(finished.error ?? "")); retry at \(OutboxMessages.timestamp(at)) from page \(finished.resumePage + 1)",
                           transmissionID: finished.id, details: ["ladder_step": "\(finished.ladderStep)"])
            case .failed(let failure, let reason):
                try db.log(.error, "failed (\(failure.rawValue)): \(reason)", transmissionID: finished.id)
            }
            if case .retry = end.decision { try db.wake("sends") }
            var extra: [String: Any] = ["attempt": finished.attempts]
            if case .retry(let at, let failure, _, _) = end.decision {
                extra["next_attempt_at"] = OutboxMessages.timestamp(at)
                extra["failure_class"] = failure.rawValue
            }
            for entry in OutboxMessages.entries(for: event, transmission: finished, account: account,
                                                webhooks: try db.webhooks(accountID: account.id), attempt: finished.attempts,
                                                extra: extra, email: email, now: now) {
                try db.enqueue(entry)
            }
            return true
        }
        guard written else { return false }
        if let (from, to) = archiveMove { archive(from, to) }
        logger.info("outbound fax attempt recorded", metadata: ["uuid": "\(t.uuid)", "status": "\(t.status.rawValue)",
                                                                "attempt": "\(t.attempts)", "pages": "\(t.pagesTransferred)/\(t.pagesTotal)"])
        return true
    }

    /// At start, before dialling: sends that were dialling or transmitting when faxd died get
    /// their open attempt closed as interrupted. The pages the far end had confirmed in it (each
    /// written as it was confirmed) count as sent and are billed; a send whose every page was
    /// confirmed is completed without another call, any other is queued again from its first
    /// unconfirmed page. With `liveNodes` (the nodes sharing the database whose heartbeat is
    /// current), sends of a node not among them are taken over the same way at once; this node's
    /// own are recovered only when they have no call here and have been quiet for `age` seconds.
    func recover(now: Date = Date(), olderThan age: TimeInterval = 0, liveNodes: Set<String> = []) {
        let me = configuration.nodeID
        let ownership = NodeOwnership(me: me, alive: liveNodes)
        var anyRecorded = false
        // Their events (fax.sent, fax.retry_scheduled) go out at once, not at the next poll.
        defer { if anyRecorded { onRecorded() } }
        do {
            let stuck = try store.read { try $0.sendsInFlight() }.filter { send in
                active[send.transmission.uuid] == nil
                    && ownership.isCutOff(send.node, own: now.timeIntervalSince(send.transmission.updatedAt) >= age)
            }
            for (var t, owner) in stuck {
                let who = owner == nil || owner == me ? "faxd" : "node \(owner!)"
                guard let open = try store.read({ try $0.attempts(transmissionID: t.id) }).last(where: { $0.endedAt == nil }) else {
                    // No open attempt (written before attempts were): queued again as it is,
                    // or failed when that was its last attempt.
                    try store.write { db in
                        guard let current = try db.transmission(uuid: t.uuid), current.status == t.status, current.nodeID == owner else { return }
                        if t.attempts >= t.maxAttempts {
                            let reason = "\(who) stopped during attempt \(t.attempts), the last one allowed"
                            t.status = .failed
                            t.error = reason
                            t.completedAt = now
                            try Self.recordFailure(t, reason: reason, in: db, now: now)
                        } else {
                            t.status = .queued
                            t.nextAttemptAt = now
                            try db.update(t)
                            try db.wake("sends")
                        }
                    }
                    continue
                }
                let confirmed = max(0, min(open.pagesConfirmed, t.pagesTotal - open.firstPage))
                t.resumePage = open.firstPage
                let decision: RetryDecision
                if t.pagesTotal > 0 && open.firstPage + confirmed >= t.pagesTotal {
                    decision = .completed
                } else if t.attempts >= t.maxAttempts {
                    decision = .failed(failure: .interrupted, reason: "\(who) stopped during attempt \(t.attempts), the last one allowed")
                } else {
                    t.error = "\(who) stopped during attempt \(t.attempts); queued again"
                    decision = .retry(at: now, failure: .interrupted, resumePage: open.firstPage + confirmed, ladderStep: t.ladderStep)
                }
                let recorded = try record(AttemptEnd(transmission: t, owner: owner, attemptID: open.id, accountID: t.accountID,
                                                     decision: decision, confirmed: confirmed, written: open.pagesConfirmed, outcome: nil), now: now)
                if recorded {
                    anyRecorded = true
                    logger.notice("interrupted send recovered", metadata: ["uuid": "\(t.uuid)", "node": "\(owner ?? "-")",
                                                                          "pages_confirmed": "\(open.firstPage + confirmed)/\(t.pagesTotal)"])
                }
            }
        } catch {
            logger.error("send queue recovery failed", metadata: ["error": "\(error)"])
        }
    }

    /// Marks a queued transmission failed without a call.
    private func fail(_ queued: FaxTransmission, reason: String, now: Date) {
        do {
            try store.write { db in
                // Cancelled or taken since it was read: leave it.
                guard var t = try db.transmission(uuid: queued.uuid), t.status == .queued else { return }
                t.status = .failed
                t.error = reason
                t.completedAt = now
                try Self.recordFailure(t, reason: reason, in: db, now: now)
            }
        } catch {
            logger.error("cannot fail a send", metadata: ["uuid": "\(queued.uuid)", "error": "\(error)"])
        }
    }

    /// Writes a transmission that will not be sent: the row, its unsent pages failed, a log line,
    /// and the `fax.failed` webhook and failure email entries.
    static func recordFailure(_ t: FaxTransmission, reason: String, in db: Database, now: Date) throws {
        try db.update(t)
        if t.pagesTransferred < t.pagesTotal {
            try db.setPageStatus(transmissionID: t.id, pages: (t.pagesTransferred + 1)...t.pagesTotal, status: .failed, at: nil)
        }
        try db.log(.error, "not sent: \(reason)", transmissionID: t.id)
        guard let account = try db.account(id: t.accountID) else { return }
        let email = OutboxMessages.failedEmail(t, reason: reason)
        for entry in OutboxMessages.entries(for: .failed, transmission: t, account: account, webhooks: try db.webhooks(accountID: account.id),
                                            attempt: t.attempts, email: email, now: now) {
            try db.enqueue(entry)
        }
    }

    private func archive(_ from: String, _ to: String) {
        do {
            try FileManager.default.createDirectory(atPath: configuration.archiveDirectory, withIntermediateDirectories: true)
            try DurableFile.move(from, to: to)
        } catch {
            logger.error("cannot archive a sent fax", metadata: ["file": "\(from)", "error": "\(error)"])
        }
    }

    /// At start: documents of completed sends still in fax_files/tx (a crash between the commit
    /// and the move) go to the archive their records point at.
    func archiveSent() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: configuration.transmitDirectory) else { return }
        for name in names where name.hasSuffix(".tif") {
            let uuid = String(name.dropLast(4))
            if let t = try? store.read({ try $0.transmission(uuid: uuid) }), t.status == .completed,
               let target = t.filePath, target != "\(configuration.transmitDirectory)/\(name)" {
                archive("\(configuration.transmitDirectory)/\(name)", target)
            }
        }
    }

}
