#if canImport(Glibc)
import Glibc
#endif
import Media
import Testing
@testable import Voice

/// Two ends of a datagram pipe over preallocated slots: unlike MemoryPipe it never allocates,
/// so a malloc count around ticks sees only the channels. Single-threaded (one shard).
final class RingPipe: PacketTransport, @unchecked Sendable {
    final class Ring {
        static let slots = 64, slotBytes = 256
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * slots * slotBytes, alignment: 8)
        var lengths = [Int](repeating: 0, count: 2 * slots)
        var heads = [0, 0], counts = [0, 0]
        deinit { bytes.deallocate() }
    }

    private let ring: Ring
    private let side: Int

    private init(ring: Ring, side: Int) {
        self.ring = ring
        self.side = side
    }

    static func pair() -> (RingPipe, RingPipe) {
        let ring = Ring()
        return (RingPipe(ring: ring, side: 0), RingPipe(ring: ring, side: 1))
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard ring.counts[side] > 0 else { return nil }
        let slot = side * Ring.slots + ring.heads[side]
        let n = min(ring.lengths[slot], buffer.count)
        buffer.baseAddress!.copyMemory(from: ring.bytes.baseAddress! + slot * Ring.slotBytes, byteCount: n)
        ring.heads[side] = (ring.heads[side] + 1) % Ring.slots
        ring.counts[side] -= 1
        return n
    }

    func send(_ bytes: UnsafeRawBufferPointer) {
        let to = 1 - side
        guard ring.counts[to] < Ring.slots, bytes.count <= Ring.slotBytes else { return }
        let slot = to * Ring.slots + (ring.heads[to] + ring.counts[to]) % Ring.slots
        (ring.bytes.baseAddress! + slot * Ring.slotBytes).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        ring.lengths[slot] = bytes.count
        ring.counts[to] += 1
    }
}

/// Ticks channels by hand, in order, on the caller's (shard) queue.
final class Ticker: @unchecked Sendable {
    let legs: [VoiceChannel]
    var tick: UInt64 = 1

    init(legs: [VoiceChannel]) { self.legs = legs }

    func run(_ n: Int) {
        // Index loops: a debug build's `for ... in` over the array allocated an iterator each time.
        var round = 0
        while round < n {
            var i = 0
            while i < legs.count {
                _ = legs[i].tick(tick)
                i += 1
            }
            tick += 1
            round += 1
        }
    }
}

/// The malloc count of steady-state ticks, when the test process runs with
/// `LD_PRELOAD=malloc-count.so` (see malloc-count.c); skipped otherwise.
@Suite struct VoiceAllocationTests {
    typealias Counter = @convention(c) () -> Int

    static let counter: Counter? = {
        guard let symbol = dlsym(nil, "faxd_malloc_count") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    /// X -- A = B -- Y with a looped playback, digits both ways (events and tones), in-band
    /// detection on every leg, hold music and a recording: the ticks after warm-up allocate only
    /// the recording's one-second blocks.
    @Test(.enabled(if: counter != nil, "run with LD_PRELOAD=malloc-count.so"))
    func steadyStateTicksDoNotAllocate() throws {
        let count = try #require(Self.counter)
        let shard = MediaShard(index: 0, clock: .manual)
        var both = VoiceChannelOptions()
        both.dtmfSendMode = .both
        func leg(_ t: RingPipe, _ ssrc: UInt32) throws -> VoiceChannel {
            try VoiceChannel(shard: shard, transport: t, law: .mulaw, payloadType: 0,
                             telephoneEventPayloadType: 101, options: both, ssrc: ssrc) { _ in }
        }
        let (p1, p2) = RingPipe.pair()
        let (p3, p4) = RingPipe.pair()
        let x = try leg(p1, 1)
        let a = try leg(p2, 2)
        let b = try leg(p3, 3)
        let y = try leg(p4, 4)
        let legs: [VoiceChannel] = [x, a, b, y]
        let music = VoicePrompt.tone(frequency: 440, seconds: 0.3)
        let path = scratchDirectory("alloc") + "/y.wav"
        // The channels are ticked directly on the shard queue, not through `advance`: the count
        // is the channels' own (MediaShard's bookkeeping is not what this test is about).
        let ticker = Ticker(legs: legs)
        shard.queue.sync {
            VoiceChannel.bridge(a, b)
            x.play(music, loop: true)
            y.startRecording(to: path)
            ticker.run(60)
        }
        try shard.queue.sync {
            try x.sendDTMF("123456789*#0")
            try y.sendDTMF("ABCD")
            a.hold(music: music)
        }
        // A first round of digits and hold fills the Swift runtime's lazy caches (type metadata of
        // the events on their first use): one-time, not steady state.
        shard.queue.sync { ticker.run(250) }
        try shard.queue.sync {
            try x.sendDTMF("123456789*#0")
            try y.sendDTMF("ABCD")
            a.unhold()
            a.hold(music: music)
        }
        let blocksBefore: Int = shard.queue.sync { y.recordingBlocks }
        // Counted inside the shard's closure: dispatch_sync itself allocates.
        let counts: (Int, Int, Int) = shard.queue.sync {
            // The cost of counting itself, measured around nothing.
            let idle = count()
            let idleEnd = count()
            let before = count()
            ticker.run(250)
            return (idleEnd - idle, before, count())
        }
        let (overhead, before, after) = counts
        let blocksAfter: Int = shard.queue.sync { y.recordingBlocks }
        let blocks = blocksAfter - blocksBefore
        #expect(blocks == 5)
        // One allocation per recording block (a second of stereo audio), nothing else.
        #expect(after - before - overhead == blocks, "\(after - before - overhead) allocations in 250 ticks of 4 channels")
        shard.queue.sync { for channel in legs { channel.stop() } }
    }
}
