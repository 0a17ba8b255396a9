import ArgumentParser
import Engine
import Foundation
import HTTPAPI
import Logging
import Processing

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: answer calls to the accounts' numbers, record every fax, dial queued sends, serve the HTTP API.")

    @OptionGroup var engine: EngineOptions

    @Option(name: .customLong("http-listen"), help: "HTTP API address and port (default 127.0.0.1:8080; port 0 turns HTTP off).")
    var httpListen: String?

    @Option(name: .customLong("status-file"),
            help: "Write the daemon's status (calls, channels, shard tick lateness) as JSON to this file every second.")
    var statusFile: String?

    /// Lifts the soft descriptor limit to the hard one (often 1,024 of 524,288): every call holds
    /// a media socket, every HTTP and SIP/TCP connection one more. `http.max_connections` keeps
    /// a flood below it; the log says what the daemon has.
    static func raiseDescriptorLimit(_ logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        logger.info("descriptor limit", metadata: ["nofile": "\(limit.rlim_cur)"])
    }

    func run() throws {
        let logger = engine.makeLogger()
        var configuration: FaxdConfiguration
        do {
            configuration = try engine.load()
            if let httpListen {
                let (host, port) = try FaxdConfiguration.parseHostPort(httpListen, key: "--http-listen")
                configuration.http.listenHost = host
                configuration.http.listenPort = port
            }
        } catch {
            throw ValidationError("\(error)")
        }
        Self.raiseDescriptorLimit(logger)
        let service = try FaxService(configuration: configuration, logger: logger)
        try service.start()
        var api: APIServer?
        if configuration.http.listenPort != 0 {
            let server = APIServer(service: service, logger: logger)
            let started = Box<Result<Void, any Error>>()
            let done = DispatchSemaphore(value: 0)
            Task {
                do {
                    try await server.start()
                    started.value = .success(())
                } catch {
                    started.value = .failure(error)
                }
                done.signal()
            }
            done.wait()
            if case .failure(let error) = started.value! {
                service.stop()
                throw CLIError("\(error)")
            }
            api = server
        } else {
            logger.notice("http is off (port 0)")
        }
        if let statusFile { try service.daemon.writeStatus(to: statusFile) }
        Signals.waitForTermination()
        logger.info("signal received, ending calls")
        api?.stop()
        service.stop()
        logger.info("stopped")
    }
}
