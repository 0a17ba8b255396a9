import Foundation
import Media

/// What a running daemon reports about itself: calls, channels and each media shard's tick
/// figures. Written as JSON by `faxd serve --status-file` once a second (the admin endpoint will
/// serve the same value); the load benchmark reads it from outside the process.
public struct DaemonStatus: Codable, Sendable, Equatable {
    public var pid: Int32
    public var uptimeSeconds: Double
    /// Calls in any phase (ringing, answered, ending).
    public var activeCalls: Int
    /// Media channels on the shards.
    public var activeChannels: Int
    /// sofia-sip handles faxd owns: about one per call in progress; a number that keeps growing
    /// with no calls is a dialog leak.
    public var sipHandles: Int
    /// Calls ended since start, and of those the faxes that completed.
    public var callsEnded: Int
    public var faxesCompleted: Int
    public var shards: [Shard]

    public struct Shard: Codable, Sendable, Equatable {
        public var index: Int
        public var channels: Int
        public var ticks: UInt64
        public var latenessP50Micros: Int
        public var latenessP99Micros: Int
        public var latenessMaxMicros: Int
        public var resyncs: Int
        /// Ticks per 100 us lateness bucket since start (trailing empty buckets left out).
        public var latenessHistogram: [Int]

        enum CodingKeys: String, CodingKey {
            case index, channels, ticks, resyncs
            case latenessP50Micros = "lateness_p50_us", latenessP99Micros = "lateness_p99_us"
            case latenessMaxMicros = "lateness_max_us", latenessHistogram = "lateness_histogram_100us"
        }

        public init(index: Int, statistics s: MediaShardStatistics) {
            self.index = index
            channels = s.members
            ticks = s.ticks
            latenessP50Micros = s.latenessP50Micros
            latenessP99Micros = s.latenessP99Micros
            latenessMaxMicros = s.latenessMaxMicros
            resyncs = s.resyncs
            let last = s.latenessHistogram.values.lastIndex { $0 > 0 } ?? -1
            latenessHistogram = Array(s.latenessHistogram.values[0..<(last + 1)])
        }

        /// The histogram as full-width counts, for subtracting two snapshots.
        public var latenessCounts: LatenessHistogram.Counts {
            var values = [Int](repeating: 0, count: LatenessHistogram.buckets + 1)
            for (i, v) in latenessHistogram.prefix(values.count).enumerated() { values[i] = v }
            return LatenessHistogram.Counts(values: values)
        }
    }

    enum CodingKeys: String, CodingKey {
        case pid, shards
        case uptimeSeconds = "uptime_s", activeCalls = "active_calls", activeChannels = "active_channels"
        case sipHandles = "sip_handles"
        case callsEnded = "calls_ended", faxesCompleted = "faxes_completed"
    }

    public var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}

/// Writes `DaemonStatus` to a file every second, atomically (temporary file, then rename), on a
/// utility queue of its own: never on the SIP thread or a shard.
final class StatusFileWriter: @unchecked Sendable {
    private let path: String
    private let queue = DispatchQueue(label: "faxd.status", qos: .utility)
    private var timer: DispatchSourceTimer?
    private let status: @Sendable () -> DaemonStatus

    init(path: String, status: @escaping @Sendable () -> DaemonStatus) {
        self.path = path
        self.status = status
    }

    func start() throws {
        try write()
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + 1, repeating: 1, leeway: .milliseconds(100))
        source.setEventHandler { [weak self] in try? self?.write() }
        queue.sync { timer = source }
        source.resume()
    }

    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
            try? write()
        }
    }

    private func write() throws {
        let temporary = path + ".tmp"
        try status().json.write(to: URL(fileURLWithPath: temporary))
        if rename(temporary, path) != 0 {
            throw ConfigurationError("\(path): cannot replace the status file (errno \(errno))")
        }
    }
}
