import ArgumentParser
import Engine
import Foundation

struct Receive: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive faxes into a directory, print each outcome as a JSON line, and exit after --count calls.")

    @Option(help: "SIP address and port to listen on, e.g. 127.0.0.1:5070.")
    var listen: String

    @Option(help: "Directory for received TIFFs.")
    var out: String

    @Option(help: "Exit after this many answered calls.")
    var count: Int = 1

    @OptionGroup var engine: EngineOptions

    func run() throws {
        let logger = engine.makeLogger()
        var configuration = try engine.load()
        let (host, port) = try FaxdConfiguration.parseHostPort(listen, key: "--listen")
        configuration.sip.listenHost = host
        configuration.sip.listenPort = port
        configuration.receiveDirectoryOverride = out
        let daemon = try Daemon(configuration: configuration, logger: logger)
        let done = DispatchSemaphore(value: 0)
        let tally = Tally(target: count)
        daemon.orchestrator.onOutcome { outcome in
            guard outcome.sipStatus == 200 || outcome.answeredAt != nil else { return }
            FileHandle.standardOutput.write(Data((outcome.jsonLine + "\n").utf8))
            if tally.record(success: outcome.success) { done.signal() }
        }
        try daemon.start()
        Signals.onTermination { done.signal() }
        done.wait()
        daemon.stop()
        if !tally.allSucceeded { throw ExitCode(1) }
    }
}
