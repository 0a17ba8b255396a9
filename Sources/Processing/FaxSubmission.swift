import Engine
import Fax
import Foundation
import SIP
import Store

/// A fax to queue for sending.
public struct SendRequest: Sendable {
    /// The sending account: its fax number (the seed's `username`) or uuid.
    public var account: String
    /// Destination number.
    public var to: String
    public var toName: String?
    /// A fax TIFF; it is checked and copied into fax_files/tx, so the caller may delete it.
    public var document: String
    /// Fine resolution (the seed's `is_enhanced`).
    public var fine: Bool
    /// A repeat with the same key (and index) returns the first transmission instead of queueing
    /// another; kept in `fax_idempotency` with the transmission, in one transaction.
    public var idempotencyKey: String?
    /// Which transmission of the keyed request this is (the API queues one per number under one key).
    public var idempotencyIndex: Int

    public init(account: String, to: String, toName: String? = nil, document: String, fine: Bool = true, idempotencyKey: String? = nil,
                idempotencyIndex: Int = 0) {
        self.account = account
        self.to = to
        self.toName = toName
        self.document = document
        self.fine = fine
        self.idempotencyKey = idempotencyKey
        self.idempotencyIndex = idempotencyIndex
    }
}

/// Why a send was refused, with a stable code for APIs and a reason naming what was wrong.
public struct SubmissionError: Error, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable { case unknownAccount = "unknown_account", accountDisabled = "account_disabled",
                                         badNumber = "bad_number", badDocument = "bad_document", planLimit = "plan_limit",
                                         noTrunk = "no_trunk", storage,
                                         destinationRefused = "destination_refused" }
    public var code: Code
    public var reason: String
    public var description: String { reason }
    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

/// Puts sends into the durable queue. Used by the daemon's API and by `faxd fax send` in another
/// process: the daemon's scheduler finds the row either way.
public enum FaxSubmission {
    /// Validates `request`, copies its document into fax_files/tx and inserts a queued
    /// transmission (with its pending pages and `fax.queued` outbox entries) in one transaction.
    public static func enqueue(_ request: SendRequest, store: FaxStore, configuration: FaxdConfiguration,
                               now: Date = Date()) throws(SubmissionError) -> FaxTransmission {
        let account: FaxAccount
        do {
            guard let found = try store.read({ try $0.account(identifiedBy: request.account) }) else {
                throw SubmissionError(.unknownAccount, "account '\(request.account)' does not exist")
            }
            account = found
        } catch let error as SubmissionError { throw error } catch { throw SubmissionError(.storage, "\(error)") }
        guard account.status == .active else { throw SubmissionError(.accountDisabled, "account \(account.faxNumber) is disabled") }
        guard let number = PhoneNumber.normalize(request.to), number.count >= 3 else {
            throw SubmissionError(.badNumber, "to: \(PhoneNumber.problem(with: request.to))")
        }
        if let refusal = configuration.processing.destinations.refusal(number: number, account: account.faxNumber) {
            throw SubmissionError(.destinationRefused, "to: \(refusal)")
        }
        guard let trunk = sendTrunk(configuration) else {
            throw SubmissionError(.noTrunk, "no trunk can send: set processing.send_trunk, or give a trunk a domain or outbound_proxy")
        }
        if let key = request.idempotencyKey,
           let uuid = (try? store.read({ try $0.idempotentResponse(accountID: account.id, key: key) }))?.transmissionUUIDs
               .dropFirst(request.idempotencyIndex).first,
           let existing = try? store.read({ try $0.transmission(uuid: uuid) }) {
            return existing
        }
        let pageCount: Int
        do { pageCount = try FaxDocumentCheck.sendablePages(request.document) } catch {
            throw SubmissionError(.badDocument, error.reason)
        }
        let facts = PageFacts.read(request.document).pages
        let period = BillingPeriod.start(containing: now, cycleDay: account.billingCycleDay)
        if configuration.processing.planLimit == .reject, let limit = account.plan.monthlyPages {
            let used = (try? store.read { try $0.usage(accountID: account.id, periodStart: period) })?.pages ?? 0
            let pending = (try? store.read { try $0.pendingPages(accountID: account.id) }) ?? 0
            if used + pending + pageCount > limit {
                throw SubmissionError(.planLimit, "the \(account.plan.rawValue) plan allows \(limit) pages a month; \(used) are used since \(period)"
                                      + (pending > 0 ? ", \(pending) more are queued" : "") + " and this fax has \(pageCount)")
            }
        }
        var transmission = FaxTransmission(accountID: account.id, direction: .outbound, status: .queued,
                                           fromNumber: account.faxNumber, toNumber: number, fine: request.fine,
                                           maxAttempts: configuration.processing.retry.maxAttempts, now: now)
        transmission.toName = request.toName
        transmission.trunk = trunk
        transmission.pagesTotal = pageCount
        transmission.nextAttemptAt = now
        let destination = "\(configuration.transmitDirectory)/\(transmission.uuid).tif"
        transmission.filePath = destination
        transmission.fileSHA256 = PageFacts.fileHash(request.document)
        do {
            try FileManager.default.createDirectory(atPath: configuration.transmitDirectory, withIntermediateDirectories: true)
            try DurableFile.copy(request.document, to: destination)
        } catch {
            throw SubmissionError(.storage, "\(destination): cannot store the document (\(error))")
        }
        do {
            return try store.write { db in
                let saved = try db.insert(transmission)
                try db.wake("sends")
                if let key = request.idempotencyKey { try db.addIdempotentTransmission(accountID: account.id, key: key, uuid: saved.uuid, now: now) }
                for (index, page) in facts.enumerated() {
                    try db.insert(FaxPage(transmissionID: saved.id, number: index + 1, facts: page, status: .pending, at: nil))
                }
                try db.log(.info, "queued to \(number), \(pageCount) pages", transmissionID: saved.id, details: ["trunk": trunk])
                for entry in OutboxMessages.entries(for: .queued, transmission: saved, account: account,
                                                    webhooks: try db.webhooks(accountID: account.id), attempt: 0, now: now) {
                    try db.enqueue(entry)
                }
                return saved
            }
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw SubmissionError(.storage, "cannot queue the fax: \(error)")
        }
    }

    /// The trunk queued sends use.
    static func sendTrunk(_ configuration: FaxdConfiguration) -> String? {
        if let name = configuration.processing.sendTrunk { return name }
        return configuration.trunks.first { $0.domain != nil || $0.outboundProxy != nil }?.name
    }
}

/// Files written so a crash leaves either the old state or the whole new file.
public enum DurableFile {
    /// Copies `source` to `destination` through a temporary file, fsync and rename.
    public static func copy(_ source: String, to destination: String) throws {
        guard FileManager.default.isReadableFile(atPath: source) else {
            throw SubmissionError(.badDocument, "\((source as NSString).lastPathComponent): cannot read the file")
        }
        let temporary = destination + ".part"
        // copyItem streams the file (no whole document in the heap).
        unlink(temporary)
        do { try FileManager.default.copyItem(atPath: source, toPath: temporary) } catch {
            throw SubmissionError(.storage, "\((temporary as NSString).lastPathComponent): cannot write")
        }
        let fd = open(temporary, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(temporary, destination) == 0 else {
            throw SubmissionError(.storage, "\(destination): cannot rename into place (\(String(cString: strerror(errno))))")
        }
    }

    /// Moves a file, across file systems if needed (`files_dir` on NFS, the spool in `data_dir`).
    public static func move(_ source: String, to destination: String) throws {
        if rename(source, destination) == 0 { return }
        try copy(source, to: destination)
        unlink(source)
    }
}
