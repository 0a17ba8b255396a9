import ArgumentParser
import Foundation
import Engine
import Logging

@main
struct Faxd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faxd",
        abstract: "A fax server: SIP trunks in and out, T.30 fax over G.711 and T.38, accounts, a durable send queue, records in SQLite.",
        subcommands: [Serve.self, Send.self, Receive.self, Account.self, FaxCommand.self, Webhook.self, Outbox.self, Drain.self, LabCommand.self],
        defaultSubcommand: Serve.self
    )

    /// Every file faxd makes (faxes, documents, the database, recordings) is its user's alone.
    static func main() {
        umask(0o077)
        main(nil)
    }
}

/// Options shared by commands that run an engine.
struct EngineOptions: ParsableArguments {
    @Option(help: "YAML configuration file (see conf/faxd.example.yaml). Without one, embedded defaults apply.")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Data directory (received faxes go to DATA/fax_files/rx).")
    var dataDir: String?

    @Option(name: .customLong("sip-listen"), help: "SIP address and port for UDP and TCP, e.g. 127.0.0.1:5060.")
    var sipListen: String?

    @Option(name: .customLong("rtp-ports"), help: "RTP port range LOW-HIGH, e.g. 20000-29999.")
    var rtpPorts: String?

    @Option(name: .customLong("public-address"), help: "Address to advertise in SDP and Contact (NAT or 0.0.0.0 listen).")
    var publicAddress: String?

    @Flag(name: .customLong("verbose"), help: "Debug logging.")
    var verbose = false

    /// The configuration file (or defaults) with command-line overrides applied.
    func load() throws -> FaxdConfiguration {
        var configuration = try config.map(FaxdConfiguration.load(path:)) ?? FaxdConfiguration()
        if let dataDir { configuration.dataDirectory = dataDir }
        if let sipListen {
            let (host, port) = try FaxdConfiguration.parseHostPort(sipListen, key: "--sip-listen")
            configuration.sip.listenHost = host
            configuration.sip.listenPort = port
        }
        if let rtpPorts {
            let range = try FaxdConfiguration.parsePortRange(rtpPorts, key: "--rtp-ports")
            configuration.media.rtpPortLow = range.lowerBound
            configuration.media.rtpPortHigh = range.upperBound
        }
        if let publicAddress { configuration.sip.publicAddress = publicAddress }
        return configuration
    }

    func makeLogger() -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
        return Logger(label: "faxd")
    }
}
