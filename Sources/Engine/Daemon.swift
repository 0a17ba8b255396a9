import Foundation
import Logging
import Synchronization

/// A running faxd: media shards plus the call orchestrator (with its SIP agent), started and
/// stopped together. `faxd serve`, `send` and `receive` and the tests all run one of these.
public final class Daemon: Sendable {
    public let configuration: FaxdConfiguration
    public let orchestrator: CallOrchestrator
    public let media: MediaEngine
    private let stopped = Mutex(false)

    public init(configuration: FaxdConfiguration, logger: Logger) throws {
        self.configuration = configuration
        let bindHost = configuration.sip.listenHost
        media = MediaEngine(shardCount: configuration.media.shards, bindHost: bindHost,
                            ports: configuration.media.rtpPortLow...configuration.media.rtpPortHigh)
        orchestrator = CallOrchestrator(configuration: configuration, media: media, logger: logger)
    }

    /// Creates the data directories, listens for SIP, starts the media clocks.
    public func start() throws {
        for dir in [configuration.receiveDirectory, configuration.transmitDirectory, configuration.archiveDirectory] {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw ConfigurationError("\(dir): cannot create the directory (\(error.localizedDescription))")
            }
        }
        try orchestrator.start()
    }

    /// Ends every call (recorded as interrupted) and stops.
    public func stop() {
        let first = stopped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { orchestrator.shutdown() }
    }
}
