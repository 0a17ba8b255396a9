import Fax

/// Records both directions of an audio call around the real endpoint (`record: true` on a trunk
/// or `record_calls` on an account): what arrives and what is sent, 20 ms at a time, into a stereo
/// recording with the caller on channel 0 and the answerer on channel 1 (what `faxd lab decode`
/// expects). Confined to the channel's shard while the call runs; read once the channel reported
/// its end (the shard no longer touches it then). Its buffers grow as the call goes on: a
/// diagnostic switch, off by default, that allocates on the media path (about 32 KB a second).
public final class CallRecorder: FaxAudioEndpoint, @unchecked Sendable {
    private let inner: any FaxAudioEndpoint
    private let localIsCaller: Bool
    private var sent: [Int16] = []
    private var received: [Int16] = []

    public init(wrapping inner: any FaxAudioEndpoint, localIsCaller: Bool) {
        self.inner = inner
        self.localIsCaller = localIsCaller
        sent.reserveCapacity(8000 * 60)
        received.reserveCapacity(8000 * 60)
    }

    public func receive(_ samples: UnsafeMutableBufferPointer<Int16>) {
        received.append(contentsOf: samples)
        inner.receive(samples)
    }

    public func fillIn(_ count: Int) {
        received.append(contentsOf: repeatElement(0, count: count))
        inner.fillIn(count)
    }

    public func transmit(into buffer: UnsafeMutableBufferPointer<Int16>) {
        inner.transmit(into: buffer)
        sent.append(contentsOf: buffer)
    }

    public var isComplete: Bool { inner.isComplete }
    public func hangUp() -> FaxTransferResult { inner.hangUp() }
    public var tones: FaxTones { inner.tones }

    /// The call so far as a stereo recording (caller left, answerer right).
    public var recording: Recording {
        Recording(channels: localIsCaller ? [sent, received] : [received, sent])
    }
}

/// Plays one channel of a recording into a call, 20 ms a tick (`faxd lab replay`): a recorded
/// sender's audio fed to a live receiver. What comes back is ignored.
public final class ReplayEndpoint: FaxAudioEndpoint {
    private let samples: [Int16]
    private var position = 0

    public init(samples: [Int16]) { self.samples = samples }

    public func receive(_ samples: UnsafeMutableBufferPointer<Int16>) {}
    public func fillIn(_ count: Int) {}

    public func transmit(into buffer: UnsafeMutableBufferPointer<Int16>) {
        for i in 0..<buffer.count {
            buffer[i] = position < samples.count ? samples[position] : 0
            position += 1
        }
    }

    /// True once the whole recording has been played.
    public var isComplete: Bool { position >= samples.count }
    public func hangUp() -> FaxTransferResult { .notStarted(isComplete ? .ok : .callDropped) }
    public var tones: FaxTones { FaxTones() }
}
