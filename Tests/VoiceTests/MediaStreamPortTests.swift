import Media
import Synchronization
import Testing
@testable import Voice

/// The shard side of a media stream (issue 17): what the writer takes, how playout, marks and
/// clear behave tick by tick, and a real leg pair on a manual clock feeding and playing a stream.
@Suite struct MediaStreamPortTests {
    final class Wakes: Sendable {
        let count = Atomic<Int>(0)
        func callAsFunction() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    static func frame(_ value: Int16) -> [Int16] { [Int16](repeating: value, count: 160) }

    static func capture(_ port: MediaStreamPort, heard: Int16, said: Int16) {
        let h = frame(heard), s = frame(said)
        h.withUnsafeBufferPointer { hb in s.withUnsafeBufferPointer { sb in port.capture(heard: hb, said: sb) } }
    }

    @Test func capturedFramesComeOutInOrderAsMuLawWithTheirStreamTime() {
        let wakes = Wakes()
        let port = MediaStreamPort(track: .both, bidirectional: false, upstreamFrames: 16) { wakes() }
        for i in 0..<3 { Self.capture(port, heard: Int16(1000 * (i + 1)), said: -500) }
        #expect(wakes.value == 3)
        let up = port.take()
        #expect(up.frames.count == 6)
        #expect(up.frames.map(\.outbound) == [false, true, false, true, false, true])
        #expect(up.frames.map(\.milliseconds) == [0, 0, 20, 20, 40, 40])
        #expect(up.frames[2].payload == [UInt8](repeating: G711.linearToULaw(2000), count: 160))
        #expect(up.frames[1].payload == [UInt8](repeating: G711.linearToULaw(-500), count: 160))
        #expect(up.dropped == 0)
        #expect(port.take().frames.isEmpty)
    }

    @Test func aWriterThatFallsBehindLosesTheOldestFramesAndTheyAreCounted() {
        let port = MediaStreamPort(track: .inbound, bidirectional: false, upstreamFrames: 4) {}
        for i in 0..<10 { Self.capture(port, heard: Int16(i * 100), said: 0) }
        let up = port.take()
        #expect(up.frames.map(\.milliseconds) == [120, 140, 160, 180])
        #expect(up.dropped == 6)
        #expect(port.droppedFrames == 6)
    }

    @Test func queuedAudioPlaysOneFrameATickAndAShortTailIsPaddedWithSilence() {
        let port = MediaStreamPort(track: .inbound, bidirectional: true) {}
        let tone = [UInt8](repeating: G711.linearToULaw(4000), count: 400)
        #expect(port.enqueue(tone) == 0)
        var said = [Int16](repeating: 7, count: 160)
        var played: [Bool] = []
        var last: [Int16] = []
        for _ in 0..<4 {
            played.append(said.withUnsafeMutableBufferPointer { port.playout(into: $0) })
            last = said
            if played.last == true && port.queuedBytes == 0 { break }
        }
        #expect(played == [true, true, true])
        #expect(last[0..<80].allSatisfy { $0 == G711.ulawToLinear(G711.linearToULaw(4000)) })
        #expect(last[80...].allSatisfy { $0 == 0 })
        said = [Int16](repeating: 7, count: 160)
        #expect(said.withUnsafeMutableBufferPointer { port.playout(into: $0) } == false)
        #expect(said.allSatisfy { $0 == 7 }, "with nothing queued the channel's own audio is left alone")
    }

    @Test func aStreamThatIsNotBidirectionalNeverPlays() {
        let port = MediaStreamPort(track: .inbound, bidirectional: false) {}
        port.enqueue([UInt8](repeating: 0, count: 320))
        var said = [Int16](repeating: 0, count: 160)
        #expect(said.withUnsafeMutableBufferPointer { port.playout(into: $0) } == false)
    }

    @Test func aMarkIsDueOnlyOnceTheAudioBeforeItPlayedAndAtOnceOnAnEmptyQueue() {
        let wakes = Wakes()
        let port = MediaStreamPort(track: .inbound, bidirectional: true) { wakes() }
        port.mark("first")
        #expect(port.take().marks == ["first"], "nothing queued: the mark is due at once")
        port.enqueue([UInt8](repeating: 0x10, count: 320))
        port.mark("second")
        port.enqueue([UInt8](repeating: 0x20, count: 160))
        port.mark("third")
        var said = [Int16](repeating: 0, count: 160)
        _ = said.withUnsafeMutableBufferPointer { port.playout(into: $0) }
        #expect(port.take().marks.isEmpty, "one of the two frames before 'second' played")
        let before = wakes.value
        _ = said.withUnsafeMutableBufferPointer { port.playout(into: $0) }
        #expect(wakes.value == before + 1, "the playout that makes a mark due wakes the writer")
        #expect(port.take().marks == ["second"])
        _ = said.withUnsafeMutableBufferPointer { port.playout(into: $0) }
        #expect(port.take().marks == ["third"])
    }

    @Test func clearStopsPlayoutAtTheNextTickAndReturnsEveryPendingMark() {
        let port = MediaStreamPort(track: .inbound, bidirectional: true) {}
        port.enqueue([UInt8](repeating: 0x30, count: 4000))
        port.mark("a")
        port.enqueue([UInt8](repeating: 0x40, count: 4000))
        port.mark("b")
        var said = [Int16](repeating: 0, count: 160)
        for _ in 0..<5 { #expect(said.withUnsafeMutableBufferPointer { port.playout(into: $0) }) }
        #expect(port.clear() == 8000 - 5 * 160)
        #expect(said.withUnsafeMutableBufferPointer { port.playout(into: $0) } == false, "the tick after clear plays nothing queued")
        #expect(port.take().marks == ["a", "b"])
        port.enqueue([UInt8](repeating: 0x50, count: 160))
        port.mark("c")
        #expect(port.take().marks.isEmpty, "audio queued after a clear plays before its mark")
        #expect(said.withUnsafeMutableBufferPointer { port.playout(into: $0) })
        #expect(port.take().marks == ["c"])
    }

    @Test func audioBeyondThePlayoutQueueIsRefusedAndCounted() {
        let port = MediaStreamPort(track: .inbound, bidirectional: true, downstreamBytes: 800) {}
        #expect(port.enqueue([UInt8](repeating: 1, count: 600)) == 0)
        #expect(port.enqueue([UInt8](repeating: 1, count: 600)) == 400)
        #expect(port.refusedBytes == 400)
        #expect(port.queuedBytes == 800)
    }

    /// Two legs back to back on a manual clock: the near leg's stream hears the far leg's tone,
    /// its queued audio reaches the far leg, digits ride upstream, and the end is signalled.
    @Test func aLegFeedsItsStreamAndPlaysTheApplicationsAudio() throws {
        let shard = MediaShard(index: 0, clock: .manual)
        let pair = try LegPair(shard: shard)
        let port = MediaStreamPort(track: .both, bidirectional: true, upstreamFrames: 400) {}
        shard.queue.sync {
            pair.near.attachStream(port)
            pair.far.play(VoicePrompt.tone(frequency: 1000, seconds: 2), id: 1)
        }
        shard.advance(ticks: 50)
        var up = port.take()
        #expect(up.frames.filter { !$0.outbound }.count == 50)
        let heard = up.frames.filter { !$0.outbound }.suffix(20).flatMap(\.payload).map(G711.ulawToLinear)
        #expect(Signal.level(heard[...], frequency: 1000) > 4000, "the stream hears the far end's tone")
        // 0.4 s of a 600 Hz tone from the application reaches the far end.
        let tone = VoicePrompt.tone(frequency: 600, seconds: 0.4).samples.map(G711.linearToULaw)
        port.enqueue(tone)
        port.mark("done")
        shard.advance(ticks: 30)
        up = port.take()
        #expect(up.marks == ["done"])
        let sent = up.frames.filter(\.outbound).flatMap(\.payload).map(G711.ulawToLinear)
        #expect(Signal.level(sent[...], frequency: 600) > 1000, "the outbound track carries what the far end was sent")
        shard.queue.sync { try? pair.far.sendDTMF("5") }
        shard.advance(ticks: 20)
        #expect(port.take().digits.map(\.key) == ["5"])
        shard.queue.sync { pair.near.stop(); pair.far.stop() }
        #expect(port.take().ended)
    }
}
