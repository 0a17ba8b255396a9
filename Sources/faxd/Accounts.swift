import ArgumentParser
import Engine
import Foundation
import Processing
import SIP
import Store

/// Options for commands that only touch the database.
struct StoreOptions: ParsableArguments {
    @Option(help: "YAML configuration file; its data_dir holds the database.")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Data directory (the database is DATA/faxd.sqlite).")
    var dataDir: String?

    func configuration() throws -> FaxdConfiguration {
        var configuration = try config.map(FaxdConfiguration.load(path:)) ?? FaxdConfiguration()
        if let dataDir { configuration.dataDirectory = dataDir }
        return configuration
    }

    func open() throws -> (FaxStore, FaxdConfiguration) {
        let configuration = try configuration()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        return (try FaxStore(location: try configuration.storeLocation()), configuration)
    }
}

struct Account: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage fax accounts (a fax number, a plan, an email address).",
        subcommands: [Add.self, List.self, Show.self, Disable.self, Enable.self, Mode.self, Stream.self, Keys.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account; calls to its number are answered and recorded. Prints it with an API key (shown once).")
        @Option(help: "The account's fax number (its DID), e.g. +1 555 123 4567.") var number: String
        @Option(help: "Display name.") var name: String = ""
        @Option(help: "Email address for received faxes and send confirmations.") var email: String?
        @Option(help: "Email attachment format: pdf or tiff.") var format: String = "pdf"
        @Option(help: "Plan: basic (150 pages/month), plus (300), pro (500), enterprise (unlimited).") var plan: String = "basic"
        @Option(name: .customLong("cycle-day"), help: "Day of the month (1-28) the page counter resets.") var cycleDay: Int = 1
        @Option(name: .customLong("max-sends"), help: "Outbound calls at once (default: processing.account_concurrency).") var maxSends: Int?
        @Flag(name: .customLong("record-calls"), help: "Record both directions of this account's audio calls as stereo WAVs (for `faxd lab decode`).")
        var recordCalls = false
        @Option(help: "How the number is answered: fax, voice (a call-control call with webhooks) or auto (voice until a fax's CNG is heard).")
        var mode: String = "fax"
        @OptionGroup var store: StoreOptions

        func run() throws {
            guard let number = PhoneNumber.normalize(self.number) else { throw ValidationError("--number: \(PhoneNumber.problem(with: self.number))") }
            guard let format = FaxAccount.EmailFormat(rawValue: format) else { throw ValidationError("--format: '\(format)' must be pdf or tiff") }
            guard let plan = FaxAccount.Plan(rawValue: plan.lowercased()) else {
                throw ValidationError("--plan: '\(plan)' must be basic, plus, pro or enterprise")
            }
            guard (1...28).contains(cycleDay) else { throw ValidationError("--cycle-day: \(cycleDay) must be 1...28") }
            if let email, !EmailAddress.isValid(email) { throw ValidationError("--email: '\(email)' is not one email address such as fax@example.com") }
            guard let mode = FaxAccount.NumberMode(rawValue: mode) else { throw ValidationError("--mode: '\(self.mode)' must be fax, voice or auto") }
            let (db, _) = try store.open()
            do {
                let (account, key) = try db.write { db in
                    var new = FaxAccount(faxNumber: number, name: name, email: email, emailFormat: format,
                                         plan: plan, billingCycleDay: cycleDay, maxConcurrentSends: maxSends)
                    new.recordCalls = recordCalls
                    var account = try db.insert(new)
                    if mode != .fax {
                        try db.setNumberMode(accountID: account.id, mode)
                        account.numberMode = mode
                    }
                    return (account, try APIKeys.create(accountID: account.id, in: db))
                }
                print(CLIJSON.render(NewAccount(account: account, apiKey: key)))
            } catch let error as StoreError where error.isConstraint {
                throw CLIError("--number: an account with the fax number \(number) exists already")
            }
        }
    }

    /// The account with its first API key (shown this once; only its hash is stored).
    struct NewAccount: Encodable {
        var account: FaxAccount
        var apiKey: String
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            let accounts = try db.read { try $0.accounts() }
            print(CLITable.render(["NUMBER", "NAME", "PLAN", "STATUS", "EMAIL", "UUID"],
                                  accounts.map { [$0.faxNumber, $0.name, $0.plan.rawValue, $0.status.rawValue, $0.email ?? "-", $0.uuid] }))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an account with this period's usage.")
        @Argument(help: "Fax number or uuid.") var account: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            let key = PhoneNumber.normalize(account) ?? account
            guard let found = try db.read({ try $0.account(identifiedBy: key) }) else { throw CLIError("no account '\(account)'") }
            let period = BillingPeriod.start(containing: Date(), cycleDay: found.billingCycleDay)
            let usage = try db.read { try $0.usage(accountID: found.id, periodStart: period) }
            print(CLIJSON.render(AccountView(account: found, usage: usage, monthlyPages: found.plan.monthlyPages)))
        }

        struct AccountView: Encodable {
            var account: FaxAccount
            var usage: UsagePeriod
            var monthlyPages: Int?
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account: its number is answered 403 and its sends are refused.")
        @Argument(help: "Fax number or uuid.") var account: String
        @OptionGroup var store: StoreOptions
        func run() throws { try setStatus(account, .disabled, store) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account.")
        @Argument(help: "Fax number or uuid.") var account: String
        @OptionGroup var store: StoreOptions
        func run() throws { try setStatus(account, .active, store) }
    }

    struct Mode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How the account's number is answered: fax, voice (parked for the application, webhooks) or auto (voice until a fax's CNG is heard, then a fax).")
        @Argument(help: "Fax number or uuid.") var account: String
        @Argument(help: "fax, voice or auto.") var mode: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            guard let mode = FaxAccount.NumberMode(rawValue: mode) else { throw ValidationError("'\(self.mode)' must be fax, voice or auto") }
            let (db, _) = try store.open()
            let lookup = PhoneNumber.normalize(account) ?? account
            try db.write { db in
                guard let found = try db.account(identifiedBy: lookup) else { throw CLIError("no account '\(account)'") }
                try db.setNumberMode(accountID: found.id, mode)
            }
            print("account \(lookup): number mode \(mode.rawValue) (a running faxd serve picks it up within a second)")
        }
    }

    struct Stream: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream a voice number's calls to an application over WebSocket: each call is answered at once and its audio streamed (Twilio or Telnyx media stream messages).",
            discussion: "Example: faxd account stream 15551234567 --url ws://127.0.0.1:8765/echo --dialect twilio --track inbound --bidirectional. --off parks calls for the application again.")
        @Argument(help: "Fax number or uuid.") var account: String
        @Option(help: "The application's ws:// or wss:// URL.") var url: String?
        @Option(help: "twilio or telnyx (the messages' shape).") var dialect: String = "telnyx"
        @Option(help: "inbound (the caller), outbound (what faxd sends) or both.") var track: String = "inbound"
        @Flag(help: "Play the application's audio to the caller.") var bidirectional = false
        @Option(name: .customLong("param"), help: "A custom parameter for the start message, NAME=VALUE (repeatable).") var parameters: [String] = []
        @Flag(help: "Stop streaming this number's calls.") var off = false
        @OptionGroup var store: StoreOptions

        func run() throws {
            var json: String?
            if !off {
                guard let url else { throw ValidationError("--url is required (or --off)") }
                var custom: [String: String] = [:]
                for parameter in parameters {
                    guard let eq = parameter.firstIndex(of: "="), eq != parameter.startIndex else {
                        throw ValidationError("--param: '\(parameter)' must be NAME=VALUE")
                    }
                    custom[String(parameter[..<eq])] = String(parameter[parameter.index(after: eq)...])
                }
                let body: [String: Any] = ["stream_url": url, "dialect": dialect, "stream_track": track, "bidirectional": bidirectional,
                                           "custom_parameters": custom]
                let start: StreamingStart
                do { start = try StreamingStart(body: body) } catch { throw ValidationError(error.reason) }
                json = String(decoding: try JSONSerialization.data(withJSONObject: start.body, options: [.sortedKeys]), as: UTF8.self)
            }
            let (db, _) = try store.open()
            let lookup = PhoneNumber.normalize(account) ?? account
            let mode = try db.write { db -> FaxAccount.NumberMode in
                guard let found = try db.account(identifiedBy: lookup) else { throw CLIError("no account '\(account)'") }
                try db.setVoiceStream(accountID: found.id, json)
                return found.numberMode
            }
            if let json {
                print("account \(lookup): calls are answered and streamed: \(json)")
                if mode != .voice { print("note: the number's mode is \(mode.rawValue); streams run on voice numbers (faxd account mode \(lookup) voice)") }
            } else {
                print("account \(lookup): calls are no longer streamed")
            }
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An account's API keys.",
            subcommands: [KeyList.self, KeyAdd.self, KeyRevoke.self])
    }

    struct KeyList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the account's API keys (id, prefix, dates; never the key).")
        @Argument(help: "Fax number or uuid.") var account: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            let found = try Account.find(account, db)
            let keys = try db.read { try $0.apiKeys(accountID: found.id) }
            print(CLITable.render(["ID", "PREFIX", "CREATED", "REVOKED"],
                                  keys.map { ["\($0.id)", $0.prefix, OutboxMessages.timestamp($0.createdAt), $0.revokedAt.map(OutboxMessages.timestamp) ?? "-"] }))
        }
    }

    struct KeyAdd: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Make a new API key for the account (printed once).")
        @Argument(help: "Fax number or uuid.") var account: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            let found = try Account.find(account, db)
            print(try db.write { try APIKeys.create(accountID: found.id, in: $0) })
        }
    }

    struct KeyRevoke: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke",
                                                        abstract: "Revoke an API key: requests with it get 401 from now on (the daemon reads keys per request).")
        @Argument(help: "Fax number or uuid.") var account: String
        @Argument(help: "The key's id (faxd account keys list ACCOUNT).") var id: Int64
        @OptionGroup var store: StoreOptions

        func run() throws {
            let (db, _) = try store.open()
            let found = try Account.find(account, db)
            guard let key = try db.write({ try $0.revokeAPIKey(id: id, accountID: found.id) }) else {
                throw CLIError("account \(found.faxNumber) has no key \(id) (faxd account keys list \(found.faxNumber))")
            }
            print("key \(key.id) (\(key.prefix)...) of account \(found.faxNumber): revoked")
        }
    }

    /// The account a command names by number or uuid, or an error saying so.
    static func find(_ key: String, _ db: FaxStore) throws -> FaxAccount {
        let lookup = PhoneNumber.normalize(key) ?? key
        guard let found = try db.read({ try $0.account(identifiedBy: lookup) }) else { throw CLIError("no account '\(key)'") }
        return found
    }

    static func setStatus(_ key: String, _ status: FaxAccount.Status, _ options: StoreOptions) throws {
        let (db, _) = try options.open()
        let lookup = PhoneNumber.normalize(key) ?? key
        try db.write { db in
            guard var account = try db.account(identifiedBy: lookup) else { throw CLIError("no account '\(key)'") }
            account.status = status
            try db.update(account)
        }
        print("account \(lookup): \(status.rawValue)")
    }
}

/// Pretty JSON for operators (sorted keys, ISO 8601 dates, snake_case).
enum CLIJSON {
    static func render(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Plain aligned columns.
enum CLITable {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
