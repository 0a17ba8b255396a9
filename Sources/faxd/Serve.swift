import ArgumentParser
import Engine
import Foundation

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: answer SIP calls and receive faxes into the data directory.")

    @OptionGroup var engine: EngineOptions

    @Option(name: .customLong("status-file"),
            help: "Write the daemon's status (calls, channels, shard tick lateness) as JSON to this file every second.")
    var statusFile: String?

    func run() throws {
        let logger = engine.makeLogger()
        let configuration: FaxdConfiguration
        do {
            configuration = try engine.load()
        } catch {
            throw ValidationError("\(error)")
        }
        let daemon = try Daemon(configuration: configuration, logger: logger)
        try daemon.start()
        if let statusFile { try daemon.writeStatus(to: statusFile) }
        Signals.waitForTermination()
        logger.info("signal received, ending calls")
        daemon.stop()
        logger.info("stopped")
    }
}
