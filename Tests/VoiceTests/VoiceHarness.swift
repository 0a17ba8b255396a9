import Dispatch
import Foundation
import Lab
import Media
import Synchronization
import Voice

/// Collects a channel's events from any thread.
final class EventLog: Sendable {
    private let events = Mutex<[VoiceEvent]>([])

    func append(_ event: VoiceEvent) { events.withLock { $0.append(event) } }

    var all: [VoiceEvent] { events.withLock { $0 } }

    var digits: [DTMFDigit] {
        all.compactMap { if case .dtmf(let d) = $0 { d } else { nil } }
    }

    var digitString: String { String(digits.map(\.key.character)) }

    var report: VoiceReport? {
        all.lazy.compactMap { if case .finished(let r) = $0 { r } else { nil } }.first
    }

    /// Waits (up to 10 s) for the recording written to `path`, then reads it.
    func savedRecording(_ path: String) throws -> (VoiceRecordingSummary, Recording) {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            for event in all {
                if case .recordingSaved(let summary) = event, summary.path == path {
                    return (summary, try Recording.read(path))
                }
                if case .recordingFailed(let p, let reason) = event, p == path { throw VoiceError(reason) }
            }
            usleep(5_000)
        }
        throw VoiceError("no recording event for \(path)")
    }
}

/// One leg and its far end, wired back to back through a memory pipe on a manual-clock shard.
struct LegPair {
    let near: VoiceChannel
    let far: VoiceChannel
    let nearEvents = EventLog()
    let farEvents = EventLog()

    init(shard: MediaShard, nearEventPT: UInt8? = 101, farEventPT: UInt8? = 101,
         nearOptions: VoiceChannelOptions = VoiceChannelOptions(), farOptions: VoiceChannelOptions = VoiceChannelOptions(),
         law: G711Law = .mulaw, seed: UInt32 = 1, lossRate: Double = 0, lossSeed: UInt64 = 1) throws {
        let (a, b) = MemoryPipe.pair(lossRate: lossRate, seed: lossSeed)
        let nearEvents = self.nearEvents, farEvents = self.farEvents
        near = try VoiceChannel(shard: shard, transport: a, law: law, payloadType: law.payloadType,
                                telephoneEventPayloadType: nearEventPT, options: nearOptions, ssrc: 0x1000 + seed) { nearEvents.append($0) }
        far = try VoiceChannel(shard: shard, transport: b, law: law, payloadType: law.payloadType,
                               telephoneEventPayloadType: farEventPT, options: farOptions, ssrc: 0x2000 + seed) { farEvents.append($0) }
        shard.add(near)
        shard.add(far)
    }
}

/// Measurements on recorded audio.
enum Signal {
    /// Amplitude of the `frequency` component (Goertzel), comparable to a sine's peak amplitude.
    static func level(_ samples: ArraySlice<Int16>, frequency: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let w = 2 * Double.pi * frequency / 8000
        let coefficient = 2 * cos(w)
        var s1 = 0.0, s2 = 0.0
        for sample in samples {
            let s0 = Double(sample) + coefficient * s1 - s2
            s2 = s1
            s1 = s0
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        return 2 * power.squareRoot() / Double(samples.count)
    }

    static func level(_ samples: [Int16], frequency: Double, skipSeconds: Double = 0.2) -> Double {
        let skip = min(samples.count, Int(skipSeconds * 8000))
        return level(samples[skip...], frequency: frequency)
    }

    /// Root mean square.
    static func rms(_ samples: ArraySlice<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        return (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot()
    }
}

/// A fresh scratch directory for one test.
func scratchDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "voice-tests-\(name)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
