import Media
import Synchronization

/// The media shards and the RTP port pool. Sockets are opened on the SIP thread when a call is
/// set up; the channel then lives on the least loaded shard until it ends.
public final class MediaEngine: @unchecked Sendable {
    public let shards: [MediaShard]
    public let bindHost: String
    public let ports: ClosedRange<UInt16>
    private let nextPort: Mutex<UInt16>

    /// - Parameters:
    ///   - shardCount: serial queues; 0 means one per active CPU core.
    public init(shardCount: Int, bindHost: String, ports: ClosedRange<UInt16>, clock: MediaShard.Clock = .realtime) {
        let count = shardCount > 0 ? shardCount : max(1, System.activeProcessorCount)
        // Spread the shards' ticks over the 20 ms period from a random start per daemon.
        let period = MediaShard.tickNanoseconds
        let offset = UInt64.random(in: 0..<period)
        shards = (0..<count).map { i in
            MediaShard(index: i, clock: clock, phaseNanoseconds: offset + UInt64(i) * period / UInt64(count))
        }
        self.bindHost = bindHost
        self.ports = ports
        nextPort = Mutex(ports.lowerBound)
    }

    /// Starts every shard's clock.
    public func start() { shards.forEach { $0.start() } }

    /// Stops every shard's clock.
    public func stop() { shards.forEach { $0.stop() } }

    /// Opens an RTP socket on the next free even port of the range.
    public func openSocket() throws -> UDPSocket {
        try nextPort.withLock { hint in
            try UDPSocket.bindInRange(host: bindHost, ports: ports, even: true, startingAt: &hint)
        }
    }

    /// The shard with the fewest channels.
    public func leastLoadedShard() -> MediaShard {
        shards.min { $0.load < $1.load }!
    }

    /// Channels on all shards.
    public var activeChannels: Int { shards.reduce(0) { $0 + $1.load } }
}

/// Host facts.
enum System {
    /// CPU cores this process may use.
    static var activeProcessorCount: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif
