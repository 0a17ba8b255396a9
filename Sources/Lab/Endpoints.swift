import Fax

/// Records both directions of an audio call around the real endpoint (`record: true` on a trunk
/// or `record_calls` on an account): what arrives and what is sent, 20 ms at a time, into a stereo
/// recording with the caller on channel 0 and the answerer on channel 1 (what `faxd lab decode`
/// expects). Confined to the channel's shard while the call runs; read once the channel reported
/// its end (the shard no longer touches it then). A diagnostic switch, off by default, that does
/// allocate on the media path: one 16 KB block per direction per second of call (`SampleTape`),
/// never a copy of what was already recorded.
public final class CallRecorder: FaxAudioEndpoint, @unchecked Sendable {
    private let inner: any FaxAudioEndpoint
    private let localIsCaller: Bool
    private var sent = SampleTape()
    private var received = SampleTape()

    public init(wrapping inner: any FaxAudioEndpoint, localIsCaller: Bool) {
        self.inner = inner
        self.localIsCaller = localIsCaller
    }

    public func receive(_ samples: UnsafeMutableBufferPointer<Int16>) {
        received.append(UnsafeBufferPointer(samples))
        inner.receive(samples)
    }

    public func fillIn(_ count: Int) {
        received.appendSilence(count)
        inner.fillIn(count)
    }

    public func transmit(into buffer: UnsafeMutableBufferPointer<Int16>) {
        inner.transmit(into: buffer)
        sent.append(UnsafeBufferPointer(buffer))
    }

    public var isComplete: Bool { inner.isComplete }
    public var phase: T30Phase { inner.phase }
    public func hangUp() -> FaxTransferResult { inner.hangUp() }
    public func hangUp(then: @escaping @Sendable (FaxTransferResult) -> Void) { inner.hangUp(then: then) }
    public var tones: FaxTones { inner.tones }

    /// The call so far as a stereo recording (caller left, answerer right).
    public var recording: Recording {
        Recording(channels: localIsCaller ? [sent.samples, received.samples] : [received.samples, sent.samples])
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
    public var phase: T30Phase { .idle }
    public func hangUp() -> FaxTransferResult { .notStarted(isComplete ? .ok : .callDropped) }
    public var tones: FaxTones { FaxTones() }
}

/// Samples kept in one-second blocks: appending never moves what is already recorded (an array
/// doubling on the shard would copy megabytes in one tick), and each block is allocated once.
struct SampleTape {
    private static let block = 8000
    private var blocks: [[Int16]] = []

    mutating func append(_ samples: UnsafeBufferPointer<Int16>) {
        var index = 0
        while index < samples.count {
            if blocks.isEmpty || blocks[blocks.count - 1].count == Self.block {
                var fresh: [Int16] = []
                fresh.reserveCapacity(Self.block)
                blocks.append(fresh)
            }
            let room = Self.block - blocks[blocks.count - 1].count
            let take = min(room, samples.count - index)
            blocks[blocks.count - 1].append(contentsOf: samples[index..<(index + take)])
            index += take
        }
    }

    private static let zeros = [Int16](repeating: 0, count: block)

    mutating func appendSilence(_ count: Int) {
        var left = count
        while left > 0 {
            let take = min(left, Self.block)
            Self.zeros.withUnsafeBufferPointer { append(UnsafeBufferPointer(rebasing: $0[0..<take])) }
            left -= take
        }
    }

    /// Everything recorded, in order.
    var samples: [Int16] { blocks.flatMap { $0 } }
}
