import ArgumentParser
import Engine
import Foundation
import Processing
import SIP
import Store

struct FaxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fax",
        abstract: "Operators' view of the fax records, and queueing a send.",
        subcommands: [List.self, Show.self, Send.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List transmissions, newest first.")
        @Option(help: "inbound or outbound.") var direction: String?
        @Option(help: "queued, dialing, transmitting, completed, partial, failed, cancelled.") var status: String?
        @Option(help: "Only this account (fax number or uuid).") var account: String?
        @Option(help: "At most this many.") var limit: Int = 50
        @OptionGroup var store: StoreOptions

        func run() throws {
            let direction = try self.direction.map {
                guard let d = FaxTransmission.Direction(rawValue: $0) else { throw ValidationError("--direction: '\($0)' must be inbound or outbound") }
                return d
            }
            let status = try self.status.map {
                guard let s = FaxTransmission.Status(rawValue: $0) else {
                    throw ValidationError("--status: '\($0)' must be one of \(FaxTransmission.Status.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return s
            }
            let (db, _) = try store.open()
            var accountID: Int64?
            if let account {
                guard let found = try db.read({ try $0.account(identifiedBy: PhoneNumber.normalize(account) ?? account) }) else {
                    throw CLIError("--account: no account '\(account)'")
                }
                accountID = found.id
            }
            let rows = try db.read { try $0.transmissions(accountID: accountID, direction: direction, status: status, limit: limit) }
            let formatter = ISO8601DateFormatter()
            print(CLITable.render(["UUID", "DIRECTION", "STATUS", "FROM", "TO", "PAGES", "ATTEMPTS", "CREATED", "ERROR"], rows.map {
                [$0.uuid, $0.direction.rawValue, $0.status.rawValue, $0.fromNumber ?? "-", $0.toNumber ?? "-",
                 "\($0.pagesTransferred)/\($0.pagesTotal)", "\($0.attempts)", formatter.string(from: $0.createdAt), $0.error ?? ""]
            }))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one transmission with its pages, attempts, log and outbox.")
        @Argument(help: "The transmission's uuid.") var uuid: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            guard let t = try db.read({ try $0.transmission(uuid: uuid) }) else { throw CLIError("no transmission '\(uuid)'") }
            let view = try db.read { db in
                TransmissionView(transmission: t, pages: try db.pages(transmissionID: t.id), attempts: try db.attempts(transmissionID: t.id),
                                 logs: try db.logs(transmissionID: t.id), outbox: try db.outbox(transmissionID: t.id))
            }
            print(CLIJSON.render(view))
        }

        struct TransmissionView: Encodable {
            var transmission: FaxTransmission
            var pages: [FaxPage]
            var attempts: [FaxAttempt]
            var logs: [FaxLog]
            var outbox: [OutboxEntry]
        }
    }

    struct Send: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a fax for sending; a running `faxd serve` dials it within a second. Prints the transmission.")
        @Option(help: "The sending account (fax number or uuid).") var account: String
        @Option(help: "Destination number.") var to: String
        @Option(help: "Fax TIFF to send (checked and copied into the queue).") var file: String
        @Flag(help: "Standard resolution instead of fine.") var standard = false
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, configuration) = try store.open()
            do {
                let t = try FaxSubmission.enqueue(SendRequest(account: PhoneNumber.normalize(account) ?? account, to: to, document: file,
                                                              fine: !standard), store: db, configuration: configuration)
                print(CLIJSON.render(t))
            } catch {
                throw CLIError("\(error.code.rawValue): \(error.reason)")
            }
        }
    }
}
