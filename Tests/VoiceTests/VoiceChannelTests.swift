import Foundation
import Lab
import Media
import Testing
@testable import Voice

/// Playback, recording, bridging and the watchdog, on manual-clock shards through memory pipes.
@Suite struct VoiceChannelTests {
    @Test func playbackOfAWavReachesTheFarEndAndReports() throws {
        let dir = scratchDirectory("playback")
        let wav = dir + "/prompt.wav"
        let tone = VoicePrompt.tone(frequency: 700, seconds: 1.0)
        try Recording(channels: [tone.samples]).write(wav)
        let prompt = try VoicePrompt.load(wav)
        #expect(prompt.samples.count == 8000 && prompt.name == "prompt.wav")

        let shard = MediaShard(index: 0, clock: .manual)
        let pair = try LegPair(shard: shard)
        let recording = dir + "/far.wav"
        shard.queue.sync {
            pair.near.play(prompt, id: 7)
            pair.far.startRecording(to: recording)
        }
        shard.advance(ticks: 100)
        shard.queue.sync { pair.far.stopRecording() }
        let events = pair.nearEvents.all
        let started = events.contains { if case .playbackStarted(7, "prompt.wav") = $0 { true } else { false } }
        let ended = events.contains { if case .playbackEnded(7, "prompt.wav", .finished) = $0 { true } else { false } }
        #expect(started && ended)
        let (_, heard) = try pair.farEvents.savedRecording(recording)
        let left = heard.channels[0]
        // One second of the tone, behind the jitter buffer's 60 ms; silence after it.
        #expect(Signal.level(left[800..<8000], frequency: 700) > 6000)
        #expect(Signal.rms(left[9600..<16000]) < 50)
        // Sample for sample after G.711: the tone arrives intact.
        let offset = try #require((0..<2000).first { left[$0] != 0 })
        // tone[0] is 0 (silent in G.711 too): the first non-zero sample heard is tone[1].
        let diffs = (0..<7000).map { abs(Int(left[offset + $0]) - Int(tone.samples[$0 + 1])) }
        #expect(diffs.max()! < 600)
    }

    @Test func promptsLoadPCMAndG711AndRefuseWhatTheyCannotPlay() throws {
        let dir = scratchDirectory("prompts")
        let tone = VoicePrompt.tone(frequency: 900, seconds: 0.5)
        try Recording(channels: [tone.samples]).write(dir + "/alaw.wav", alaw: true)
        let alaw = try VoicePrompt.load(dir + "/alaw.wav")
        #expect(alaw.samples.count == 4000)
        #expect(Signal.level(alaw.samples, frequency: 900, skipSeconds: 0) > 7000)
        try Recording(channels: [tone.samples, tone.samples]).write(dir + "/stereo.wav")
        #expect(throws: VoiceError.self) { try VoicePrompt.load(dir + "/stereo.wav") }
        var wideband = Recording(channels: [tone.samples])
        wideband.sampleRate = 16000
        try wideband.write(dir + "/16k.wav")
        #expect(throws: VoiceError.self) { try VoicePrompt.load(dir + "/16k.wav") }
        #expect(throws: VoiceError.self) { try VoicePrompt.load(dir + "/missing.wav") }
    }

    @Test func loopedPlaybackKeepsGoingUntilStopped() throws {
        let shard = MediaShard(index: 0, clock: .manual)
        let pair = try LegPair(shard: shard)
        shard.queue.sync { pair.near.play(.tone(frequency: 500, seconds: 0.05), loop: true, id: 1) }
        shard.advance(ticks: 50)
        #expect(shard.queue.sync { pair.near.isPlaying })
        shard.queue.sync { pair.near.stopPlayback() }
        let ended = pair.nearEvents.all.contains { if case .playbackEnded(1, _, .stopped) = $0 { true } else { false } }
        #expect(ended)
    }

    @Test(arguments: [1, 3])
    func recordingHoldsBothDirectionsForItsTime(seconds: Int) throws {
        let dir = scratchDirectory("record")
        let shard = MediaShard(index: 0, clock: .manual)
        let pair = try LegPair(shard: shard)
        let path = dir + "/near.wav"
        shard.queue.sync {
            pair.far.play(.tone(frequency: 600, seconds: 10), id: 1)
            pair.near.play(.tone(frequency: 1400, seconds: 10), id: 2)
        }
        shard.advance(ticks: 13)
        // Mid-call: starts 13 ticks in, stops N seconds later.
        shard.queue.sync { pair.near.startRecording(to: path) }
        shard.advance(ticks: 50 * seconds)
        shard.queue.sync { pair.near.stopRecording() }
        let (summary, wav) = try pair.nearEvents.savedRecording(path)
        #expect(abs(wav.seconds - Double(seconds)) <= 0.02)
        #expect(summary.samples == wav.channels[0].count)
        #expect(wav.channels.count == 2)
        let left = wav.channels[0], right = wav.channels[1]
        #expect(Signal.level(left, frequency: 600) > 5000 && Signal.level(left, frequency: 1400) < 200)
        #expect(Signal.level(right, frequency: 1400) > 5000 && Signal.level(right, frequency: 600) < 200)
    }

    /// X -- A = B -- Y: X's tone reaches Y and Y's reaches X; mute and hold act per direction.
    @Test func bridgeCarriesBothDirectionsAndHonoursMuteAndHold() throws {
        let dir = scratchDirectory("bridge")
        let shard = MediaShard(index: 0, clock: .manual)
        let left = try LegPair(shard: shard, seed: 1)    // near = A, far = X
        let right = try LegPair(shard: shard, seed: 2)   // near = B, far = Y
        let a = left.near, x = left.far, b = right.near, y = right.far
        shard.queue.sync {
            VoiceChannel.bridge(a, b)
            x.play(.tone(frequency: 1000, seconds: 60), id: 1)
            y.play(.tone(frequency: 1500, seconds: 60), id: 2)
        }
        shard.advance(ticks: 10)

        func listen(_ name: String) throws -> (x: [Int16], y: [Int16]) {
            let px = dir + "/x-\(name).wav", py = dir + "/y-\(name).wav"
            shard.queue.sync { x.startRecording(to: px); y.startRecording(to: py) }
            shard.advance(ticks: 50)
            shard.queue.sync { x.stopRecording(); y.stopRecording() }
            return (try left.farEvents.savedRecording(px).1.channels[0], try right.farEvents.savedRecording(py).1.channels[0])
        }

        let open = try listen("open")
        #expect(Signal.level(open.y, frequency: 1000) > 5000)
        #expect(Signal.level(open.x, frequency: 1500) > 5000)

        // Mute A -> B (what X says no longer reaches Y); Y still reaches X.
        shard.queue.sync { b.muteBridgedAudio(true) }
        let muted = try listen("muted")
        #expect(Signal.level(muted.y, frequency: 1000) < 100)
        #expect(Signal.level(muted.x, frequency: 1500) > 5000)
        shard.queue.sync { b.muteBridgedAudio(false) }

        // Hold X: X hears the music instead of Y, Y hears nothing from X.
        shard.queue.sync { a.hold(music: .tone(frequency: 400, seconds: 0.5, name: "moh"), id: 9) }
        let held = try listen("held")
        #expect(Signal.level(held.x, frequency: 400) > 5000)
        #expect(Signal.level(held.x, frequency: 1500) < 100)
        #expect(Signal.level(held.y, frequency: 1000) < 100)

        shard.queue.sync { a.unhold() }
        let resumed = try listen("resumed")
        #expect(Signal.level(resumed.y, frequency: 1000) > 5000)
        #expect(Signal.level(resumed.x, frequency: 1500) > 5000)
        #expect(Signal.level(resumed.x, frequency: 400) < 100)
    }

    @Test func bridgeAddsAtMostOneTick() throws {
        let shard = MediaShard(index: 0, clock: .manual)
        let left = try LegPair(shard: shard, seed: 1)
        let right = try LegPair(shard: shard, seed: 2)
        shard.queue.sync { VoiceChannel.bridge(left.near, right.near) }
        shard.advance(ticks: 10)
        // Reference: the delay of one plain leg (X -> A) for a click.
        let click = VoicePrompt(name: "click", samples: [Int16](repeating: 12000, count: 160))
        let direct = scratchDirectory("delay") + "/a.wav", through = scratchDirectory("delay") + "/y.wav"
        shard.queue.sync {
            left.near.startRecording(to: direct)
            right.far.startRecording(to: through)
            left.far.play(click)
        }
        shard.advance(ticks: 20)
        shard.queue.sync { left.near.stopRecording(); right.far.stopRecording() }
        let atA = try left.nearEvents.savedRecording(direct).1.channels[0]
        let atY = try right.farEvents.savedRecording(through).1.channels[0]
        let first = try #require(atA.firstIndex { abs($0) > 1000 })
        let last = try #require(atY.firstIndex { abs($0) > 1000 })
        // Y is one more hop (B -> Y) with its own jitter buffer: the bridge itself adds <= 1 tick.
        let extra = last - first - 60 * 8
        // Tick order decides whether B -> Y takes the same tick or the next: up to one tick either way.
        #expect(extra >= -160 && extra <= 160, "bridge delay \(extra) samples")
    }

    @Test func silentFarEndTimesOut() throws {
        let shard = MediaShard(index: 0, clock: .manual)
        let (a, _) = MemoryPipe.pair()
        let events = EventLog()
        var options = VoiceChannelOptions()
        options.silenceTimeoutSeconds = 1
        let channel = try VoiceChannel(shard: shard, transport: a, law: .alaw, payloadType: 8,
                                       telephoneEventPayloadType: 101, options: options, ssrc: 9) { events.append($0) }
        shard.add(channel)
        shard.advance(ticks: 60)
        let report = try #require(events.report)
        #expect(report.reason == .mediaTimeout(seconds: 1))
        // Ends in the first tick more than 50 ticks after the last media (here: the first tick).
        #expect(report.packetsSent == 52 && report.packetsReceived == 0)
        #expect(abs(report.seconds - 1.04) < 0.001)
    }
}
