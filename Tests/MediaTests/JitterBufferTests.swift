import Testing
@testable import Media

/// Deterministic byte for the sample at RTP timestamp `ts`, so frames can be checked exactly.
private func pattern(_ ts: UInt32) -> UInt8 {
    UInt8(truncatingIfNeeded: (ts &* 7) ^ (ts >> 8) ^ 0x5A)
}

/// Drives a JitterBuffer like a 20 ms media tick: insert what arrived, then pop one frame.
private final class Harness {
    let jb: JitterBuffer
    let frame: Int
    private var out: [UInt8]
    private var valid: [Bool]

    init(_ jb: JitterBuffer, frame: Int = 160) {
        self.jb = jb
        self.frame = frame
        out = [UInt8](repeating: 0, count: frame)
        valid = [Bool](repeating: true, count: frame / jb.blockSamples)
    }

    @discardableResult
    func insert(ts: UInt32, count: Int = 160) -> JitterBuffer.InsertResult {
        let payload = (0..<count).map { pattern(ts &+ UInt32($0)) }
        return payload.withUnsafeBytes { jb.insert(timestamp: ts, payload: $0) }
    }

    func pop() -> (result: JitterBuffer.PopResult, samples: [UInt8], valid: [Bool]) {
        let r = out.withUnsafeMutableBytes { o in valid.withUnsafeMutableBufferPointer { v in jb.pop(frameSamples: frame, into: o, validBlocks: v) } }
        return (r, out, valid)
    }

    /// Expected content of a fully received frame starting at `ts`.
    func expected(_ ts: UInt32) -> [UInt8] {
        (0..<frame).map { pattern(ts &+ UInt32($0)) }
    }
}

/// A tick-by-tick schedule: which packets (timestamp, length) arrive before each pop.
private func run(_ h: Harness, ticks: Int, arrivals: (Int) -> [(UInt32, Int)]) -> [(result: JitterBuffer.PopResult, samples: [UInt8], valid: [Bool])] {
    var pops: [(result: JitterBuffer.PopResult, samples: [UInt8], valid: [Bool])] = []
    for t in 0..<ticks {
        for (ts, n) in arrivals(t) { h.insert(ts: ts, count: n) }
        pops.append(h.pop())
    }
    return pops
}

/// Jitter buffer behaviour for fax: fixed delay, timestamp keyed. RFC 3550 section 5.1
@Suite struct JitterBufferTests {
    static let base: UInt32 = 123_456

    @Test func inOrderStream() {
        let h = Harness(JitterBuffer())
        let pops = run(h, ticks: 40) { t in [(Self.base &+ UInt32(160 * t), 160)] }
        for t in 0..<3 { #expect(pops[t].result == .buffering) }
        for t in 3..<40 {
            #expect(pops[t].result == .frame(missingBlocks: 0))
            #expect(pops[t].samples == h.expected(Self.base &+ UInt32(160 * (t - 3))), "tick \(t)")
            #expect(pops[t].valid == [true, true, true, true])
        }
        #expect(h.jb.statistics == JitterBuffer.Statistics(packets: 40))
        #expect(h.jb.isPlaying)
    }

    @Test(arguments: [0, 160, 320, 480, 800, 1600])
    func bufferingPhaseLengthEqualsDepth(depth: Int) {
        let h = Harness(JitterBuffer(depthSamples: depth))
        // Pops before any packet are buffering but do not start the count.
        for _ in 0..<5 { #expect(h.pop().result == .buffering) }
        var buffering = 0
        var t = 0
        while true {
            h.insert(ts: Self.base &+ UInt32(160 * t))
            t += 1
            let p = h.pop()
            if p.result == .buffering {
                buffering += 1
                #expect(p.valid.allSatisfy { !$0 })
                #expect(p.samples.allSatisfy { $0 == 0xFF })
                continue
            }
            #expect(p.result == .frame(missingBlocks: 0))
            #expect(p.samples == h.expected(Self.base))
            break
        }
        #expect(buffering * 160 == depth)
    }

    @Test func depthNotAMultipleOfFrameRoundsUp() {
        let h = Harness(JitterBuffer(depthSamples: 500))
        let pops = run(h, ticks: 8) { t in [(Self.base &+ UInt32(160 * t), 160)] }
        #expect(pops.prefix(4).allSatisfy { $0.result == .buffering })
        #expect(pops[4].result == .frame(missingBlocks: 0))
        #expect(pops[4].samples == h.expected(Self.base))
    }

    @Test func reorderWithinDepthLosesNothing() {
        let h = Harness(JitterBuffer())
        let pops = run(h, ticks: 30) { t in
            let k = t == 5 ? 6 : (t == 6 ? 5 : t)
            return [(Self.base &+ UInt32(160 * k), 160)]
        }
        for t in 3..<30 {
            #expect(pops[t].result == .frame(missingBlocks: 0))
            #expect(pops[t].samples == h.expected(Self.base &+ UInt32(160 * (t - 3))))
        }
        #expect(h.jb.statistics.reordered == 1)
        #expect(h.jb.statistics.missingBlocks == 0)
    }

    @Test func lostPacketMissesExactlyItsBlocks() {
        let h = Harness(JitterBuffer())
        let pops = run(h, ticks: 30) { t in t == 7 ? [] : [(Self.base &+ UInt32(160 * t), 160)] }
        for t in 3..<30 {
            if t == 10 {
                #expect(pops[t].result == .frame(missingBlocks: 4))
                #expect(pops[t].valid == [false, false, false, false])
                #expect(pops[t].samples.allSatisfy { $0 == 0xFF })
            } else {
                #expect(pops[t].result == .frame(missingBlocks: 0), "tick \(t)")
            }
        }
        #expect(h.jb.statistics.missingBlocks == 4)
    }

    @Test func latePacketIsDroppedAndItsFrameWasMissing() {
        let h = Harness(JitterBuffer())
        var results: [Int: JitterBuffer.InsertResult] = [:]
        var pops: [JitterBuffer.PopResult] = []
        for t in 0..<20 {
            if t != 7 { results[t] = h.insert(ts: Self.base &+ UInt32(160 * t)) }
            if t == 12 { results[7] = h.insert(ts: Self.base &+ UInt32(160 * 7)) }
            pops.append(h.pop().result)
        }
        #expect(results[7] == .late)
        #expect(pops[10] == .frame(missingBlocks: 4))
        #expect(h.jb.statistics.late == 1)
        #expect(h.jb.statistics.missingBlocks == 4)
        #expect(h.jb.statistics.resyncs == 0)
    }

    @Test func packetArrivingInItsOwnPlayoutTickIsOnTime() {
        let h = Harness(JitterBuffer())
        var r: JitterBuffer.InsertResult?
        var pops: [JitterBuffer.PopResult] = []
        for t in 0..<15 {
            if t != 7 { h.insert(ts: Self.base &+ UInt32(160 * t)) }
            if t == 10 { r = h.insert(ts: Self.base &+ UInt32(160 * 7)) }
            pops.append(h.pop().result)
        }
        #expect(r == .stored)
        #expect(pops[10] == .frame(missingBlocks: 0))
    }

    @Test func duplicates() {
        let h = Harness(JitterBuffer())
        var dup: JitterBuffer.InsertResult?
        var pops: [JitterBuffer.PopResult] = []
        for t in 0..<20 {
            h.insert(ts: Self.base &+ UInt32(160 * t))
            if t == 4 { dup = h.insert(ts: Self.base &+ UInt32(160 * 4)) }
            if t == 5 { _ = h.insert(ts: Self.base &+ UInt32(160 * 4)) }
            pops.append(h.pop().result)
        }
        #expect(dup == .duplicate)
        #expect(h.jb.statistics.duplicates == 2)
        #expect(h.jb.statistics.packets == 22)
        #expect(h.jb.statistics.reordered == 0)
        #expect(pops[3...].allSatisfy { $0 == .frame(missingBlocks: 0) })
    }

    @Test func partialOverlapIsStoredNotDuplicate() {
        let h = Harness(JitterBuffer())
        #expect(h.insert(ts: 0, count: 160) == .stored)
        #expect(h.insert(ts: 80, count: 160) == .stored)  // half new
        #expect(h.insert(ts: 40, count: 120) == .duplicate)
        #expect(h.jb.statistics.reordered == 0)
        #expect(h.insert(ts: 400) == .stored)
        #expect(h.insert(ts: 240) == .stored)  // earlier than the highest seen, not late
        #expect(h.jb.statistics.reordered == 1)
        #expect(h.jb.statistics.duplicates == 1)
    }

    @Test(arguments: [80, 240, 40, 200])
    func otherPacketizationsGiveFullFrames(packet: Int) {
        // The sender emits a packet once its last sample exists; the tick at t has samples up to 160(t+1).
        let h = Harness(JitterBuffer())
        let pops = run(h, ticks: 60) { t in
            var list: [(UInt32, Int)] = []
            var k = 0
            while (k + 1) * packet <= 160 * (t + 1) {
                if (k + 1) * packet > 160 * t { list.append((Self.base &+ UInt32(k * packet), packet)) }
                k += 1
            }
            return list
        }
        let first = pops.firstIndex { $0.result != .buffering }!
        for t in first..<60 {
            #expect(pops[t].result == .frame(missingBlocks: 0), "tick \(t)")
            #expect(pops[t].samples == h.expected(Self.base &+ UInt32(160 * (t - first))), "tick \(t)")
        }
        #expect(h.jb.statistics.missingBlocks == 0)
        #expect(h.jb.statistics.late == 0)
    }

    @Test(arguments: [UInt32.max - 160 * 10 + 1, UInt32.max - 1000, UInt32.max])
    func timestampWrap(start: UInt32) {
        let h = Harness(JitterBuffer())
        let pops = run(h, ticks: 40) { t in
            // Swap two packets right at the wrap too.
            let k = t == 10 ? 11 : (t == 11 ? 10 : t)
            return [(start &+ UInt32(160 * k), 160)]
        }
        for t in 3..<40 {
            #expect(pops[t].result == .frame(missingBlocks: 0), "tick \(t)")
            #expect(pops[t].samples == h.expected(start &+ UInt32(160 * (t - 3))), "tick \(t)")
        }
        #expect(h.jb.statistics.resyncs == 0)
        #expect(h.jb.statistics.late == 0)
    }

    @Test func forwardTimestampJumpResyncs() {
        let h = Harness(JitterBuffer())
        let jump: UInt32 = 1_000_000
        var results: [JitterBuffer.InsertResult] = []
        var pops: [(result: JitterBuffer.PopResult, samples: [UInt8], valid: [Bool])] = []
        for t in 0..<40 {
            let ts = t < 20 ? Self.base &+ UInt32(160 * t) : Self.base &+ jump &+ UInt32(160 * (t - 20))
            results.append(h.insert(ts: ts))
            pops.append(h.pop())
        }
        #expect(results[20] == .resynced)
        #expect(results.filter { $0 == .resynced }.count == 1)
        #expect(h.jb.statistics.resyncs == 1)
        // The clock keeps running: depth worth of gap frames, then the new stream, no second buffering.
        for t in 20..<23 { #expect(pops[t].result == .frame(missingBlocks: 4), "tick \(t)") }
        for t in 23..<40 {
            #expect(pops[t].result == .frame(missingBlocks: 0), "tick \(t)")
            #expect(pops[t].samples == h.expected(Self.base &+ jump &+ UInt32(160 * (t - 23))))
        }
    }

    @Test func largeBackwardJumpResyncsAtOnce() {
        let h = Harness(JitterBuffer())
        var results: [JitterBuffer.InsertResult] = []
        for t in 0..<30 {
            let ts = t < 20 ? Self.base &+ UInt32(160 * t) : Self.base &- 20_000 &+ UInt32(160 * (t - 20))
            results.append(h.insert(ts: ts))
            _ = h.pop()
        }
        #expect(results[20] == .resynced)
        #expect(results[21...].allSatisfy { $0 == .stored })
        #expect(h.jb.statistics.late == 0)
    }

    @Test func smallBackwardJumpResyncsAfterALateStreak() {
        let h = Harness(JitterBuffer())
        var results: [JitterBuffer.InsertResult] = []
        var pops: [(result: JitterBuffer.PopResult, samples: [UInt8], valid: [Bool])] = []
        for t in 0..<40 {
            let ts = t < 20 ? Self.base &+ UInt32(160 * t) : Self.base &- 2_000 &+ UInt32(160 * t)
            results.append(h.insert(ts: ts))
            pops.append(h.pop())
        }
        // Late for depth (480 samples = 3 ticks) of playout, then the 4th late packet rebases.
        #expect(Array(results[20..<23]) == [.late, .late, .late])
        #expect(results[23] == .resynced)
        #expect(results[24...].allSatisfy { $0 == .stored })
        for t in 26..<40 {
            #expect(pops[t].result == .frame(missingBlocks: 0), "tick \(t)")
            #expect(pops[t].samples == h.expected(Self.base &- 2_000 &+ UInt32(160 * (t - 3))))
        }
    }

    @Test func stallBurstDoesNotResync() {
        let h = Harness(JitterBuffer())
        var results: [JitterBuffer.InsertResult] = []
        for t in 0..<40 {
            let due: [Int] = t < 10 ? [t] : (t < 20 ? [] : (t == 20 ? Array(10...20) : [t]))
            for k in due { results.append(h.insert(ts: Self.base &+ UInt32(160 * k))) }
            _ = h.pop()
        }
        // At tick 20 playout is at packet 17: 10...16 are late, 17...20 on time.
        #expect(h.jb.statistics.late == 7)
        #expect(h.jb.statistics.resyncs == 0)
        #expect(h.jb.statistics.missingBlocks == 7 * 4)
    }

    @Test func tooFarAheadResyncs() {
        let h = Harness(JitterBuffer(depthSamples: 0, capacitySamples: 1024))
        h.insert(ts: 0)
        _ = h.pop()  // position now 160
        #expect(h.insert(ts: 160 + 1024 - 160) == .stored)  // ends exactly at the ring's end
        #expect(h.insert(ts: 160 + 1024 - 159) == .resynced)
        #expect(h.jb.statistics.resyncs == 1)
    }

    @Test func blockValidOnlyWhenFullyWritten() {
        let h = Harness(JitterBuffer(depthSamples: 0))
        h.insert(ts: 0, count: 100)
        let p = h.pop()
        #expect(p.result == .frame(missingBlocks: 2))
        #expect(p.valid == [true, true, false, false])
        // The received part of a partial block is still output; the rest is silence.
        #expect(Array(p.samples[0..<100]) == Array(h.expected(0)[0..<100]))
        #expect(p.samples[100...].allSatisfy { $0 == 0xFF })

        h.insert(ts: 160, count: 100)
        h.insert(ts: 260, count: 60)
        let q = h.pop()
        #expect(q.result == .frame(missingBlocks: 0))
        #expect(q.samples == h.expected(160))
    }

    @Test func partlyLatePacketKeepsItsTail() {
        let h = Harness(JitterBuffer(depthSamples: 0))
        h.insert(ts: 0)
        _ = h.pop()
        #expect(h.insert(ts: 80, count: 160) == .stored)  // [80, 240): head already played
        let p = h.pop()
        #expect(p.valid == [true, true, false, false])
        #expect(Array(p.samples[0..<80]) == Array(h.expected(160)[0..<80]))
    }

    @Test func packetsOlderThanTheFirstAreLateWhileBuffering() {
        let h = Harness(JitterBuffer())
        #expect(h.insert(ts: 1600) == .stored)
        #expect(h.insert(ts: 1440) == .late)
        #expect(h.insert(ts: 1760) == .stored)
    }

    @Test func otherFrameSizes() {
        let h = Harness(JitterBuffer(), frame: 80)
        let pops = run(h, ticks: 40) { t in t % 2 == 0 ? [(Self.base &+ UInt32(80 * t), 160)] : [] }
        let first = pops.firstIndex { $0.result != .buffering }!
        #expect(first == 6)
        for t in first..<40 {
            #expect(pops[t].result == .frame(missingBlocks: 0))
            #expect(pops[t].samples == h.expected(Self.base &+ UInt32(80 * (t - first))))
        }
    }

    @Test func resetForgetsEverything() {
        let h = Harness(JitterBuffer())
        _ = run(h, ticks: 10) { t in [(Self.base &+ UInt32(160 * t), 160)] }
        h.jb.reset()
        #expect(h.jb.statistics == JitterBuffer.Statistics())
        #expect(!h.jb.isPlaying)
        #expect(h.pop().result == .buffering)
        let pops = run(h, ticks: 10) { t in [(999 &+ UInt32(160 * t), 160)] }
        #expect(pops[3].result == .frame(missingBlocks: 0))
        #expect(pops[3].samples == h.expected(999))
    }

    @Test func customSilenceByteFillsGaps() {
        let h = Harness(JitterBuffer(depthSamples: 0, silenceByte: 0xD5))
        h.insert(ts: 0, count: 40)
        let p = h.pop()
        #expect(p.samples[40...].allSatisfy { $0 == 0xD5 })
        #expect(h.pop().samples.allSatisfy { $0 == 0xD5 })
    }

    @Test func emptyPayloadIsHarmless() {
        let h = Harness(JitterBuffer())
        #expect(h.insert(ts: 5, count: 0) == .stored)
        #expect(h.jb.statistics.packets == 1)
        #expect(h.pop().result == .buffering)
    }
}
