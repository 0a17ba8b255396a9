import Foundation
import Media
import Logging
import Synchronization

/// A running faxd: media shards plus the call orchestrator (with its SIP agent), started and
/// stopped together. `faxd serve`, `send` and `receive` and the tests all run one of these.
public final class Daemon: Sendable {
    public let configuration: FaxdConfiguration
    public let orchestrator: CallOrchestrator
    public let media: MediaEngine
    private let stopped = Mutex(false)
    private let startedAt = DispatchTime.now()
    private let ended = Mutex((calls: 0, completed: 0))
    private let statusWriter = Mutex<StatusFileWriter?>(nil)
    /// Gives freed heap memory back every 15 s when calls ended since the last time.
    private let memory: FreeMemoryReturner

    public init(configuration: FaxdConfiguration, logger: Logger) throws {
        self.configuration = configuration
        let bindHost = configuration.sip.listenHost
        media = MediaEngine(shardCount: configuration.media.shards, bindHost: bindHost,
                            ports: configuration.media.rtpPortLow...configuration.media.rtpPortHigh)
        orchestrator = CallOrchestrator(configuration: configuration, media: media, logger: logger)
        memory = FreeMemoryReturner()
        orchestrator.onOutcome { [weak self] outcome in
            self?.ended.withLock { counts in
                counts.calls += 1
                if outcome.success { counts.completed += 1 }
            }
        }
    }

    /// Calls, channels and shard tick figures now. Any thread.
    public var status: DaemonStatus {
        let counts = ended.withLock { $0 }
        let shards = media.shards.map { DaemonStatus.Shard(index: $0.index, statistics: $0.statistics) }
        // Channels from the same snapshots as the shard rows, so one status never disagrees with itself.
        return DaemonStatus(pid: getpid(),
                            uptimeSeconds: Double(DispatchTime.now().uptimeNanoseconds - startedAt.uptimeNanoseconds) / 1e9,
                            activeCalls: orchestrator.activeCalls, activeChannels: shards.reduce(0) { $0 + $1.channels },
                            sipHandles: orchestrator.agent.liveHandles,
                            callsEnded: counts.calls, faxesCompleted: counts.completed, shards: shards)
    }

    /// Writes `status` as JSON to `path` now and then every second until `stop`.
    public func writeStatus(to path: String) throws {
        let writer = StatusFileWriter(path: path) { [self] in status }
        try writer.start()
        statusWriter.withLock { $0 = writer }
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
        ProcessLimits.raiseOpenFiles()
        try orchestrator.start()
        memory.start { [weak self] in self?.ended.withLock { $0.calls } ?? 0 }
    }

    /// Ends every call (recorded as interrupted) and stops.
    public func stop() {
        let first = stopped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first {
            memory.stop()
            orchestrator.shutdown()
            statusWriter.withLock { $0 }?.stop()
        }
    }
}

/// Per-process limits a daemon with thousands of calls needs.
enum ProcessLimits {
    /// Each call holds a media socket and its TIFF open: lift the soft descriptor limit (often
    /// 1024) to the hard one.
    static func raiseOpenFiles() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
