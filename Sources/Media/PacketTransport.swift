/// Datagram I/O of one media channel, so tests can swap UDP sockets for in-memory pipes. RFC 3550 section 11
public protocol PacketTransport: AnyObject {
    /// Non-blocking receive of one datagram; returns its length or nil when none is waiting. Never blocks. Records the source for symmetric RTP. RFC 4961 section 3
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int?
    /// Sends one datagram to the current remote; silently drops when no remote is known. RFC 4961 section 3
    func send(_ bytes: UnsafeRawBufferPointer)
    /// Where datagrams go now, for the call record ("addr:port"); nil when unknown or not a socket.
    var remoteDescription: String? { get }
    /// The datagram `receive` returned last was this channel's media: take only its source from
    /// now on. RFC 4961 section 3
    func confirmSource()
    /// Datagrams dropped before the channel saw them: from a source other than the confirmed one,
    /// and longer than any media datagram. RFC 4961 section 3
    var foreignDatagrams: Int { get }
    var oversizedDatagrams: Int { get }
}

extension PacketTransport {
    public var remoteDescription: String? { nil }
    public func confirmSource() {}
    public var foreignDatagrams: Int { 0 }
    public var oversizedDatagrams: Int { 0 }
}

/// One end of an in-memory datagram pipe with optional deterministic loss, for tests and the lab. RFC 3550 section 11
///
/// Single-threaded: both ends must be used from the same queue (no locks). Allocates per
/// datagram, so it is a test/lab utility, not for production channels.
public final class MemoryPipe: PacketTransport, @unchecked Sendable {
    /// The shared state of a pair: one FIFO per direction and the loss PRNG.
    final class Link {
        /// Datagrams waiting for end 0 and end 1; `heads` index the next one to read.
        var queues: [[[UInt8]]] = [[], []]
        /// Read positions into `queues`, compacted when a queue drains.
        var heads: [Int] = [0, 0]
        /// Probability in 0...1 that `send` drops a datagram.
        let lossRate: Double
        /// Deterministic per seed, so a loss run replays exactly.
        var random: SplitMix64

        /// Creates a link with the given loss probability and PRNG seed.
        init(lossRate: Double, seed: UInt64) {
            self.lossRate = lossRate
            random = SplitMix64(seed: seed)
        }

        /// Next value in [0, 1).
        func nextUnit() -> Double { random.nextUnit() }
    }

    private let link: Link
    private let side: Int

    /// Datagrams handed to `send`, including dropped ones.
    public private(set) var sentCount = 0
    /// Datagrams `send` dropped to simulate loss.
    public private(set) var droppedCount = 0
    /// Datagrams returned by `receive`.
    public private(set) var receivedCount = 0

    private init(link: Link, side: Int) {
        self.link = link
        self.side = side
    }

    /// Two ends wired back to back, FIFO, with deterministic random loss from `seed`. RFC 3550 section 11
    public static func pair(lossRate: Double = 0, seed: UInt64 = 1) -> (PacketTransport, PacketTransport) {
        let (a, b) = makePair(lossRate: lossRate, seed: seed)
        return (a, b)
    }

    /// Same as `pair` but typed, so tests can read the counters. RFC 3550 section 11
    public static func makePair(lossRate: Double = 0, seed: UInt64 = 1) -> (MemoryPipe, MemoryPipe) {
        let link = Link(lossRate: lossRate, seed: seed)
        return (MemoryPipe(link: link, side: 0), MemoryPipe(link: link, side: 1))
    }

    /// Datagrams waiting to be received on this end. RFC 3550 section 11
    public var pendingCount: Int {
        link.queues[side].count - link.heads[side]
    }

    /// Pops the oldest datagram for this end, truncating it to the buffer like UDP does. RFC 768
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let head = link.heads[side]
        guard head < link.queues[side].count else { return nil }
        let datagram = link.queues[side][head]
        link.heads[side] = head + 1
        if head + 1 == link.queues[side].count {
            link.queues[side].removeAll(keepingCapacity: true)
            link.heads[side] = 0
        }
        let n = min(datagram.count, buffer.count)
        datagram.withUnsafeBytes { src in
            if n > 0 { buffer.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: n) }
        }
        receivedCount += 1
        return n
    }

    /// Queues a copy for the other end unless the loss PRNG drops it. RFC 768
    public func send(_ bytes: UnsafeRawBufferPointer) {
        sentCount += 1
        if link.lossRate > 0 && link.nextUnit() < link.lossRate {
            droppedCount += 1
            return
        }
        link.queues[1 - side].append([UInt8](bytes))
    }
}

/// One datagram read for an RTP channel, classified: what every RTP channel (fax audio, voice)
/// does with each datagram before it looks at the payload type.
public enum RTPDatagram {
    /// RTCP on the RTP port (RFC 5761 multiplexing): counted, not played.
    case rtcp
    /// Not RTP, or RTP whose header does not parse: counted as malformed.
    case malformed
    /// A parsed packet; its payload points into the receive buffer until the next read.
    case packet(RTPPacket)

    /// Reads the next waiting datagram into `buffer`; nil when none is waiting. Never blocks.
    /// RFC 3550 section 5.1, RFC 5761 section 4
    public static func next(from transport: PacketTransport, into buffer: UnsafeMutableRawBufferPointer) -> RTPDatagram? {
        guard let count = transport.receive(into: buffer) else { return nil }
        let datagram = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        switch RTPPacket.classify(datagram) {
        case .rtcp: return .rtcp
        case .other: return .malformed
        case .rtp: return (try? RTPPacket.parse(datagram)).map(RTPDatagram.packet) ?? .malformed
        }
    }
}
