import Foundation
import Lab

/// Audio ready to play into a call: 8 kHz mono 16-bit samples, loaded and converted before any
/// channel sees it (never on a tick). Immutable and shared between calls (hold music). ITU-T G.711
public final class VoicePrompt: Sendable {
    /// A name for events and logs (the file name, or what the caller chose).
    public let name: String
    /// The samples at 8 kHz.
    public let samples: [Int16]

    /// Seconds of audio. ITU-T G.711 (8000 samples a second)
    public var seconds: Double { Double(samples.count) / 8000 }

    /// Wraps samples already at 8 kHz mono. ITU-T G.711
    public init(name: String, samples: [Int16]) {
        self.name = name
        self.samples = samples
    }

    /// Reads an 8 kHz mono WAV (16-bit PCM, or G.711 A-law/mu-law) or raw `.ulaw`/`.alaw` file.
    /// Blocking file I/O: call it off the shards. RIFF WAVE (Microsoft), ITU-T G.711
    public static func load(_ path: String) throws(VoiceError) -> VoicePrompt {
        let recording: Recording
        do {
            recording = try Recording.read(path)
        } catch {
            throw VoiceError("playback: \(error.description)")
        }
        guard recording.channels.count == 1 else {
            throw VoiceError("playback: \(path) has \(recording.channels.count) channels; convert it to mono 8 kHz (e.g. sox in.wav -r 8000 -c 1 out.wav)")
        }
        guard !recording.channels[0].isEmpty else { throw VoiceError("playback: \(path) holds no audio") }
        return VoicePrompt(name: (path as NSString).lastPathComponent, samples: recording.channels[0])
    }

    /// A sine tone, for tests, ringback and beeps. ITU-T G.711 (8 kHz)
    public static func tone(frequency: Double, seconds: Double, amplitude: Double = 8000, name: String = "tone") -> VoicePrompt {
        let count = Int(seconds * 8000)
        let step = 2 * Double.pi * frequency / 8000
        return VoicePrompt(name: name, samples: (0..<count).map { Int16((amplitude * sin(step * Double($0))).rounded()) })
    }
}
