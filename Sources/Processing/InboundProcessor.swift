import Engine
import Fax
import Foundation
import Logging
import Store

/// Turns received calls into records: the transmission (created when the call is taken, so a
/// crash mid-call leaves a trace), one FaxPage per page with its hash, the PDF, usage, logs and
/// the outbox entries for email and webhooks. Runs on the processing queue only.
final class InboundProcessor: @unchecked Sendable {  // confined to the processing queue
    let store: FaxStore
    let configuration: FaxdConfiguration
    let logger: Logger
    /// The account a DID belongs to (the service's directory).
    var accountFor: (String) -> Int64? = { _ in nil }

    init(store: FaxStore, configuration: FaxdConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// The router took a call for `accountID`: record it as transmitting.
    func callStarted(_ offer: InboundOffer, accountID: Int64) {
        do {
            try store.write { db in
                var t = FaxTransmission(uuid: offer.uuid, accountID: accountID, direction: .inbound, status: .transmitting,
                                        fromNumber: offer.fromNumber, toNumber: offer.did, filePath: offer.file)
                t.fromName = offer.fromName
                t.trunk = offer.trunk
                t.startedAt = Date()
                t.nodeID = configuration.nodeID
                t.attempts = 1
                t = try db.insert(t)
                try db.log(.info, "call answered from \(offer.fromNumber ?? "unknown")", transmissionID: t.id,
                           details: ["trunk": offer.trunk, "did": offer.did])
            }
        } catch {
            logger.error("cannot record an inbound call", metadata: ["uuid": "\(offer.uuid)", "error": "\(error)"])
        }
    }

    /// The call ended: finish its record from the outcome.
    func callEnded(_ outcome: FaxOutcome) {
        finish(uuid: outcome.uuid, outcome: outcome, interruption: nil)
    }

    /// At start: a receive that was in progress when faxd died is recorded with what arrived.
    /// `node`: another node's receive, taken over because that node died.
    func recover(_ transmission: FaxTransmission, node: String? = nil) {
        FaxJob.removeScratchFiles(ofReceiveInto: transmission.filePath ?? "\(configuration.receiveDirectory)/\(transmission.uuid).tif")
        let who = node.map { "node \($0)" } ?? "faxd"
        finish(uuid: transmission.uuid, outcome: nil, interruption: "\(who) stopped during the call (crash or kill); the pages written before it are kept")
    }

    private func finish(uuid: String, outcome: FaxOutcome?, interruption: String?) {
        do {
            var existing = try store.read { try $0.transmission(uuid: uuid) }
            // Only for answered calls: one refused before answer (404, 486, 503) has no record by design.
            if existing == nil, let outcome, outcome.answeredAt != nil, let did = outcome.localNumber, let accountID = accountFor(did) {
                // The row written when the call was taken is missing (that write failed): make it
                // now, so the received pages still reach their account.
                let offer = InboundOffer(uuid: uuid, did: did, fromNumber: outcome.remoteNumber, fromName: outcome.remoteName,
                                         trunk: outcome.trunk ?? "", file: outcome.file ?? "\(configuration.receiveDirectory)/\(uuid).tif")
                callStarted(offer, accountID: accountID)
                existing = try store.read { try $0.transmission(uuid: uuid) }
            }
            guard var t = existing, t.status == .transmitting else { return }
            let account = try store.read { try $0.account(id: t.accountID) }
            guard let account else { return }
            let file = t.filePath ?? "\(configuration.receiveDirectory)/\(uuid).tif"
            let (pages, problem) = PageFacts.read(file)
            let now = Date()
            if let outcome { t.apply(outcome) } else { t.completedAt = now }
            t.pagesTransferred = pages.count
            t.pagesTotal = max(t.pagesTotal, pages.count)
            let success = outcome?.success == true && !pages.isEmpty
            t.status = success ? .completed : (pages.isEmpty ? .failed : .partial)
            if !success {
                t.error = interruption ?? outcome.map(RetryPlanner.reason) ?? "unknown"
                if outcome?.hangupCause == .shutdown { t.error = "faxd was shut down during the call" }
            }
            t.fileSHA256 = pages.isEmpty ? nil : PageFacts.fileHash(file)
            var pdfProblem: String?
            if !pages.isEmpty && configuration.processing.pdf {
                let pdf = file.hasSuffix(".tif") ? String(file.dropLast(4)) + ".pdf" : file + ".pdf"
                do {
                    try FaxPDF.write(try TIFFDocument(path: file), to: pdf)
                    t.pdfPath = pdf
                } catch {
                    pdfProblem = error.reason
                }
            }
            let period = BillingPeriod.start(containing: t.startedAt ?? now, cycleDay: account.billingCycleDay)
            let finished = t
            try store.write { db in
                try db.update(finished)
                for (index, page) in pages.enumerated() {
                    try db.insert(FaxPage(transmissionID: finished.id, number: index + 1, facts: page, status: .received, at: finished.completedAt))
                }
                let usage = try db.usage(accountID: account.id, periodStart: period)
                let overage = Usage.overage(adding: pages.count, to: usage.pages, limit: account.plan.monthlyPages)
                try db.addUsage(accountID: account.id, periodStart: period, received: pages.count, overage: overage)
                try db.log(success ? .info : .warning,
                           success ? "received \(pages.count) pages" : "reception \(finished.status.rawValue): \(finished.error ?? "")",
                           transmissionID: finished.id,
                           details: ["pages": "\(pages.count)", "t30": finished.t30Name ?? "-", "sip_status": "\(finished.sipStatus ?? 0)"])
                if let problem, outcome != nil || !pages.isEmpty { try db.log(.warning, "TIFF: \(problem)", transmissionID: finished.id) }
                if let pdfProblem { try db.log(.error, "PDF not written: \(pdfProblem)", transmissionID: finished.id) }
                if overage > 0 { try db.log(.warning, "\(overage) pages beyond the \(account.plan.rawValue) plan's monthly allowance", transmissionID: finished.id) }
                let webhooks = try db.webhooks(accountID: account.id)
                let event: FaxEvent = pages.isEmpty ? .failed : .received
                var email: OutboxMessages.Email?
                if !pages.isEmpty {
                    let usePDF = account.emailFormat == .pdf && finished.pdfPath != nil
                    email = OutboxMessages.Email(
                        subject: "Fax Received from \(finished.fromNumber ?? "unknown")",
                        body: "Status: \(finished.status.rawValue)\nPages: \(pages.count)\nDuration: \(Int(finished.durationSeconds)) s\nFrom: \(finished.fromNumber ?? "unknown")\nTo: \(finished.toNumber ?? "")\n",
                        attachment: usePDF ? finished.pdfPath : file,
                        attachmentName: "fax_\(finished.uuid).\(usePDF ? "pdf" : "tif")")
                }
                for entry in OutboxMessages.entries(for: event, transmission: finished, account: account, webhooks: webhooks,
                                                    attempt: 1, email: email, now: now) {
                    try db.enqueue(entry)
                }
            }
            logger.info("inbound fax recorded", metadata: ["uuid": "\(uuid)", "status": "\(finished.status.rawValue)",
                                                           "pages": "\(pages.count)", "account": "\(account.faxNumber)"])
        } catch {
            logger.error("cannot record an inbound fax", metadata: ["uuid": "\(uuid)", "error": "\(error)"])
        }
    }
}

/// Plan arithmetic.
enum Usage {
    /// Pages of `adding` that fall beyond `limit` when `used` pages are already counted.
    static func overage(adding pages: Int, to used: Int, limit: Int?) -> Int {
        guard let limit else { return 0 }
        return max(0, used + pages - limit) - max(0, used - limit)
    }
}

extension FaxTransmission {
    /// Copies an outcome's facts into the record.
    mutating func apply(_ outcome: FaxOutcome) {
        durationSeconds = outcome.durationSeconds
        bitRate = outcome.bitRate
        ecm = outcome.ecm
        resolution = outcome.resolution
        compression = outcome.compression
        remoteStationID = outcome.remoteStationID
        transport = outcome.transport
        sipStatus = outcome.sipStatus
        sipReason = outcome.sipReason
        t30Code = outcome.t30Code
        t30Name = outcome.t30Name
        hangupCause = outcome.hangupCause.rawValue
        startedAt = startedAt ?? outcome.startedAt
        completedAt = outcome.endedAt
        outcomeJSON = outcome.jsonLine
        if trunk == nil { trunk = outcome.trunk }
    }
}
