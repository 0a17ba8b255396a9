/// Fixed-delay jitter buffer for G.711 fax audio, keyed by RTP timestamp so any packetization works. RFC 3550 section 5.1
///
/// Fax modems hate time stretching, so the delay never adapts: it is fixed at `depthSamples`
/// until the stream breaks badly enough to resync. Confined to its media shard queue:
/// no locks; `insert` and `pop` never allocate.
///
/// Rules (samples are G.711 bytes at 8 kHz; timestamps compare with wrapping 32-bit arithmetic):
/// - The first packet fixes the playout position at its timestamp. The next `pop` calls return
///   `.buffering` until their `frameSamples` add up to at least `depthSamples`
///   (i.e. `ceil(depth / frame)` pops, counting the pop in the same tick as the first packet);
///   the pop after that plays the first packet. Pops before any packet also return `.buffering`.
/// - A packet ending at or before the playout position is `.late` (dropped). A packet starting
///   before it but ending after is trimmed and stored.
/// - A packet more than `lateResyncSamples` behind, or whose end lies beyond
///   `position + capacitySamples` (the ring), is `.resynced`: the ring is cleared and the packet
///   becomes the new base. While playing, the clock keeps running and the packet plays
///   `depthSamples` later (frames in between report missing blocks); during buffering, buffering restarts.
/// - Clock drift guard: if only late packets have arrived for at least `max(depth, 160)` samples of
///   playout, the next late packet resyncs (a burst after a network stall does not trigger this,
///   because its late packets arrive within one tick).
/// - Validity is tracked per sample; a block of a popped frame is valid only if every sample of it
///   was written, so a payload that is not a multiple of `blockSamples` leaves its edge block
///   invalid until a neighbour fills the rest. Missing samples read as `silenceByte`.
public final class JitterBuffer: @unchecked Sendable {
    /// Result of `insert`. RFC 3550 section 5.1
    public enum InsertResult: Equatable, Sendable {
        /// Written into the ring (possibly trimmed if partly late).
        case stored
        /// Every sample it carries is already present; nothing changed.
        case duplicate
        /// Entirely before the playout position; dropped.
        case late
        /// The stream jumped; the buffer was cleared and rebased on this packet.
        case resynced
    }

    /// Result of `pop`. RFC 3550 section 5.1
    public enum PopResult: Equatable, Sendable {
        /// No playout yet (no packet, or the initial depth has not elapsed); output is silence.
        case buffering
        /// One frame was produced; `missingBlocks` of its blocks were not (fully) received.
        case frame(missingBlocks: Int)
    }

    /// Cumulative counters since init or `reset()`. RFC 3550 section 6.4.1
    public struct Statistics: Equatable, Sendable {
        /// Every `insert` call, whatever its result.
        public var packets: Int
        /// Packets dropped as `.late`.
        public var late: Int
        /// Packets reported `.duplicate`.
        public var duplicates: Int
        /// Packets that caused `.resynced` (the first packet is not a resync).
        public var resyncs: Int
        /// Blocks reported missing by `.frame` pops.
        public var missingBlocks: Int
        /// Stored packets whose timestamp is below the highest seen so far.
        public var reordered: Int

        /// Creates counters, all zero by default. RFC 3550 section 6.4.1
        public init(packets: Int = 0, late: Int = 0, duplicates: Int = 0, resyncs: Int = 0, missingBlocks: Int = 0, reordered: Int = 0) {
            self.packets = packets
            self.late = late
            self.duplicates = duplicates
            self.resyncs = resyncs
            self.missingBlocks = missingBlocks
            self.reordered = reordered
        }
    }

    private enum Phase {
        case idle
        case buffering
        case playing
    }

    /// Fixed playout delay in samples. RFC 3550 section 6.4.1
    public let depthSamples: Int
    /// Ring size in samples: how far ahead of the playout position a packet may reach. RFC 3550 section 5.1
    public let capacitySamples: Int
    /// Granularity of the per-frame validity report in samples. RFC 3550 section 5.1
    public let blockSamples: Int
    /// Byte written for samples that were never received. ITU-T G.711
    public let silenceByte: UInt8
    /// A packet this many samples behind the playout position means the far end restarted its clock. RFC 3550 section 5.1
    public let lateResyncSamples: Int

    private let data: UnsafeMutablePointer<UInt8>
    // 1 per received sample; per-sample so partial blocks and odd packet sizes need no special cases.
    private let valid: UnsafeMutablePointer<UInt8>
    private let lateStreakLimit: Int

    private var phase: Phase = .idle
    // Timestamp of the next sample `pop` returns, and its ring index.
    private var position: UInt32 = 0
    private var readIndex: Int = 0
    private var bufferingLeft: Int = 0
    private var highest: UInt32 = 0
    private var lateStreakActive = false
    private var lateStreakStart: UInt32 = 0
    private var stats = Statistics()

    /// depthSamples: playout delay (e.g. 480 = 60 ms); capacitySamples: ring size (e.g. 4096); blockSamples: validity granularity (40 = 5 ms). RFC 3550 section 5.1
    public init(depthSamples: Int = 480, capacitySamples: Int = 4096, blockSamples: Int = 40, silenceByte: UInt8 = 0xFF, lateResyncSamples: Int = 8000) {
        precondition(depthSamples >= 0, "depthSamples must be >= 0")
        precondition(blockSamples > 0, "blockSamples must be > 0")
        precondition(capacitySamples > depthSamples && capacitySamples >= blockSamples, "capacitySamples must exceed depthSamples and blockSamples")
        precondition(lateResyncSamples > 0, "lateResyncSamples must be > 0")
        self.depthSamples = depthSamples
        self.capacitySamples = capacitySamples
        self.blockSamples = blockSamples
        self.silenceByte = silenceByte
        self.lateResyncSamples = lateResyncSamples
        self.lateStreakLimit = max(depthSamples, 160)
        data = .allocate(capacity: capacitySamples)
        valid = .allocate(capacity: capacitySamples)
        data.initialize(repeating: silenceByte, count: capacitySamples)
        valid.initialize(repeating: 0, count: capacitySamples)
    }

    deinit {
        data.deallocate()
        valid.deallocate()
    }

    /// Counters since init or `reset()`. RFC 3550 section 6.4.1
    public var statistics: Statistics { stats }

    /// True once the initial depth has elapsed and `pop` returns frames. RFC 3550 section 6.4.1
    public var isPlaying: Bool { phase == .playing }

    /// Timestamp of the next sample `pop` will return; meaningful once a packet has arrived. RFC 3550 section 5.1
    public var playoutTimestamp: UInt32 { position }

    /// Forgets all audio, the base and the statistics: back to the state right after init. RFC 3550 section 5.1
    public func reset() {
        clearRing()
        phase = .idle
        position = 0
        readIndex = 0
        bufferingLeft = 0
        highest = 0
        lateStreakActive = false
        stats = Statistics()
    }

    /// Stores one packet's G.711 bytes at its RTP timestamp; never allocates. RFC 3550 section 5.1
    public func insert(timestamp: UInt32, payload: UnsafeRawBufferPointer) -> InsertResult {
        stats.packets += 1
        let n = payload.count
        guard n > 0, let src = payload.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            // Nothing to store; not an error for the stream.
            return .stored
        }

        if phase == .idle {
            rebase(timestamp: timestamp)
            write(src, count: min(n, capacitySamples), at: 0)
            return .stored
        }

        let delta = Int(Int32(bitPattern: timestamp &- position))
        let end = delta + n
        if delta < -lateResyncSamples || end > capacitySamples {
            return resync(timestamp: timestamp, src, count: n)
        }

        if end <= 0 {
            if lateStreakActive {
                if Int(Int32(bitPattern: position &- lateStreakStart)) >= lateStreakLimit {
                    return resync(timestamp: timestamp, src, count: n)
                }
            } else {
                lateStreakActive = true
                lateStreakStart = position
            }
            stats.late += 1
            return .late
        }
        lateStreakActive = false

        // Trim a head that has already been played.
        let skip = delta < 0 ? -delta : 0
        let offset = delta + skip
        let count = n - skip
        if allValid(at: offset, count: count) {
            stats.duplicates += 1
            return .duplicate
        }
        write(src + skip, count: count, at: offset)
        if Int32(bitPattern: timestamp &- highest) < 0 {
            stats.reordered += 1
        } else {
            highest = timestamp
        }
        return .stored
    }

    /// Pops exactly `frameSamples` samples at the playout position into `into`, and writes, per block of that frame, whether it was received (true) or is missing (false) into `validBlocks` (count = frameSamples / blockSamples). Returns .buffering before the first packet has been delayed by depth, .frame otherwise. RFC 3550 section 6.4.1
    public func pop(frameSamples: Int, into: UnsafeMutableRawBufferPointer, validBlocks: UnsafeMutableBufferPointer<Bool>) -> PopResult {
        precondition(frameSamples > 0 && frameSamples % blockSamples == 0, "frameSamples must be a positive multiple of blockSamples")
        precondition(frameSamples <= capacitySamples, "frameSamples exceeds capacitySamples")
        let blocks = frameSamples / blockSamples
        precondition(into.count >= frameSamples && validBlocks.count >= blocks, "output buffers too small")
        let out = into.baseAddress!.assumingMemoryBound(to: UInt8.self)

        switch phase {
        case .idle:
            fillSilence(out, frameSamples, validBlocks, blocks)
            return .buffering
        case .buffering:
            if bufferingLeft > 0 {
                bufferingLeft -= frameSamples
                fillSilence(out, frameSamples, validBlocks, blocks)
                return .buffering
            }
            phase = .playing
        case .playing:
            break
        }

        var missing = 0
        var index = readIndex
        var dst = out
        for b in 0..<blocks {
            // A block is at most two contiguous runs of the ring: copy, check and clear each with
            // memcpy/memset and word compares instead of a per-sample loop.
            var ok = true
            var remaining = blockSamples
            while remaining > 0 {
                let run = min(remaining, capacitySamples - index)
                dst.update(from: data + index, count: run)
                if ok { ok = Self.allSet(valid + index, run) }
                // Free the slots for the samples one ring-length later.
                (data + index).update(repeating: silenceByte, count: run)
                (valid + index).update(repeating: 0, count: run)
                dst += run
                remaining -= run
                index += run
                if index == capacitySamples { index = 0 }
            }
            validBlocks[b] = ok
            if !ok { missing += 1 }
        }
        readIndex = index
        position &+= UInt32(truncatingIfNeeded: frameSamples)
        stats.missingBlocks += missing
        return .frame(missingBlocks: missing)
    }

    // MARK: - Private

    private func fillSilence(_ out: UnsafeMutablePointer<UInt8>, _ count: Int, _ validBlocks: UnsafeMutableBufferPointer<Bool>, _ blocks: Int) {
        out.update(repeating: silenceByte, count: count)
        for b in 0..<blocks { validBlocks[b] = false }
    }

    private func clearRing() {
        data.update(repeating: silenceByte, count: capacitySamples)
        valid.update(repeating: 0, count: capacitySamples)
    }

    /// Makes `timestamp` the base of a fresh stream (first packet, or resync).
    private func rebase(timestamp: UInt32) {
        switch phase {
        case .idle, .buffering:
            phase = .buffering
            position = timestamp
            bufferingLeft = depthSamples
        case .playing:
            // Keep the clock running so the consumer sees frames (with gaps), not a second buffering phase.
            position = timestamp &- UInt32(truncatingIfNeeded: depthSamples)
        }
        highest = timestamp
        lateStreakActive = false
    }

    private func resync(timestamp: UInt32, _ src: UnsafePointer<UInt8>, count n: Int) -> InsertResult {
        clearRing()
        rebase(timestamp: timestamp)
        let offset = Int(Int32(bitPattern: timestamp &- position))
        write(src, count: min(n, capacitySamples - offset), at: offset)
        stats.resyncs += 1
        return .resynced
    }

    /// Ring index of the sample `offset` samples after the playout position (0 <= offset < capacity).
    @inline(__always)
    private func ringIndex(_ offset: Int) -> Int {
        let i = readIndex + offset
        return i >= capacitySamples ? i - capacitySamples : i
    }

    /// True when all `count` validity bytes from `p` are 1 (they are only ever 0 or 1).
    @inline(__always)
    private static func allSet(_ p: UnsafeMutablePointer<UInt8>, _ count: Int) -> Bool {
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= count {
            if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0x0101_0101_0101_0101 { return false }
            i += 8
        }
        while i < count {
            if p[i] != 1 { return false }
            i += 1
        }
        return true
    }

    private func allValid(at offset: Int, count: Int) -> Bool {
        // At most two runs of the ring, as in `write`.
        let start = ringIndex(offset)
        let first = min(count, capacitySamples - start)
        return Self.allSet(valid + start, first) && (first == count || Self.allSet(valid, count - first))
    }

    private func write(_ src: UnsafePointer<UInt8>, count: Int, at offset: Int) {
        guard count > 0 else { return }
        let start = ringIndex(offset)
        let first = min(count, capacitySamples - start)
        (data + start).update(from: src, count: first)
        (valid + start).update(repeating: 1, count: first)
        if first < count {
            data.update(from: src + first, count: count - first)
            valid.update(repeating: 1, count: count - first)
        }
    }
}
