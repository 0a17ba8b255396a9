import ArgumentParser
import Engine
import Processing
import Foundation

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: answer calls to the accounts' numbers, record every fax, dial queued sends.")

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
        let service = try FaxService(configuration: configuration, logger: logger)
        try service.start()
        if let statusFile { try service.daemon.writeStatus(to: statusFile) }
        Signals.waitForTermination()
        logger.info("signal received, ending calls")
        service.stop()
        logger.info("stopped")
    }
}
