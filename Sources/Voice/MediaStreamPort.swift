import Media
import Synchronization

/// Which of a call's audio a media stream carries to the application: what the far end says
/// (`inbound`), what faxd sends it (`outbound`), or both. Telnyx Call Control v2: stream_track
public enum StreamTrack: String, Sendable, Equatable, CaseIterable {
    case inbound, outbound, both

    /// Carries the far end's audio.
    public var carriesInbound: Bool { self != .outbound }
    /// Carries what faxd sends.
    public var carriesOutbound: Bool { self != .inbound }
}

/// One media stream's hand-off between a voice leg's shard and the WebSocket that carries it,
/// both ways, with nothing that can block the shard for longer than a copy:
/// - upstream: each tick the shard writes the call's audio (mu-law, 20 ms per track) into a ring
///   of `upstreamFrames` frames and wakes the writer; when the writer cannot keep up (a slow or
///   stalled application) the oldest frames are overwritten and counted as dropped.
/// - downstream: the application's audio (mu-law bytes) waits in a byte queue of
///   `downstreamBytes`; the shard takes 160 bytes a tick while any wait. Marks wait with the
///   queue position they follow and are due once the shard played past it; `clear` empties the
///   queue at once and makes every mark due.
/// - digits heard on the call ride upstream in order with the audio.
/// Producers and consumers are the shard (tick) and the stream's reader and writer tasks; one
/// mutex guards the state and is never held across an await or a syscall. Twilio Media Streams:
/// media, mark, clear; ITU-T G.711 (mu-law)
public final class MediaStreamPort: Sendable {
    /// Bytes of one 20 ms frame of 8 kHz G.711. RFC 3551 section 4.5.14
    public static let frameBytes = 160

    /// A frame the shard captured, as the writer takes it.
    public struct Frame: Sendable {
        /// true: what faxd sent the far end (outbound track); false: what the far end said.
        public var outbound: Bool
        /// Milliseconds since the stream started (the frame's start).
        public var milliseconds: Int
        /// The 160 mu-law bytes.
        public var payload: [UInt8]
    }

    /// What the writer found waiting.
    public struct Upstream: Sendable {
        public var frames: [Frame] = []
        /// Keys heard since the last take ("0"-"9", "*", "#", "A"-"D"), with the stream time of each.
        public var digits: [(key: Character, milliseconds: Int)] = []
        /// Marks whose audio was played (or cleared), in the order they were sent.
        public var marks: [String] = []
        /// Frames overwritten since the stream began because the writer fell behind.
        public var dropped = 0
        /// True once the call's media ended: the writer sends `stop` and closes.
        public var ended = false
    }

    public let track: StreamTrack
    /// Whether the application's audio is played to the far end.
    public let bidirectional: Bool
    private let upstreamFrames: Int
    private let downstreamBytes: Int
    private let state: Mutex<State>
    private let wake: @Sendable () -> Void

    struct State: ~Copyable {
        var up: [UInt8]
        var upOutbound: [Bool]
        var upTime: [Int]
        var upHead = 0
        var upCount = 0
        var dropped = 0
        var capturedFrames = 0
        var digits: [(key: Character, milliseconds: Int)] = []
        var down: [UInt8] = []
        var downHead = 0
        var downCount = 0
        /// Bytes ever queued and ever played (or cleared): a mark is due when played >= its position.
        var enqueued = 0
        var played = 0
        var marks: [(name: String, position: Int)] = []
        var ended = false
        var refusedBytes = 0
    }

    /// - Parameters:
    ///   - upstreamFrames: frames the writer may fall behind before the oldest are dropped (50 a second per track).
    ///   - downstreamBytes: most application audio queued for playout (8,000 a second).
    ///   - wake: called (outside the lock, from the shard or the reader) when the writer has something to take; must only signal.
    public init(track: StreamTrack, bidirectional: Bool, upstreamFrames: Int = 200, downstreamBytes: Int = 30 * 8000,
                wake: @escaping @Sendable () -> Void) {
        precondition(upstreamFrames > 0 && downstreamBytes >= Self.frameBytes)
        self.track = track
        self.bidirectional = bidirectional
        self.upstreamFrames = upstreamFrames
        self.downstreamBytes = downstreamBytes
        self.wake = wake
        state = Mutex(State(up: [UInt8](repeating: 0xFF, count: upstreamFrames * Self.frameBytes),
                            upOutbound: [Bool](repeating: false, count: upstreamFrames),
                            upTime: [Int](repeating: 0, count: upstreamFrames)))
    }

    // MARK: Shard side

    /// The tick's audio: `heard` from the far end and `said` to it (160 samples each), written
    /// to the upstream ring for the tracks this stream carries; then the writer is woken. Shard queue.
    /// ITU-T G.711 (mu-law)
    public func capture(heard: UnsafeBufferPointer<Int16>, said: UnsafeBufferPointer<Int16>) {
        state.withLock { s in
            let time = s.capturedFrames * 20
            s.capturedFrames += 1
            if track.carriesInbound { Self.push(&s, heard, outbound: false, time: time, capacity: upstreamFrames) }
            if track.carriesOutbound { Self.push(&s, said, outbound: true, time: time, capacity: upstreamFrames) }
        }
        wake()
    }

    private static func push(_ s: inout State, _ samples: UnsafeBufferPointer<Int16>, outbound: Bool, time: Int, capacity: Int) {
        if s.upCount == capacity {
            // The writer is behind: the oldest frame goes.
            s.upHead = (s.upHead + 1) % capacity
            s.upCount -= 1
            s.dropped += 1
        }
        let slot = (s.upHead + s.upCount) % capacity
        let base = slot * frameBytes
        let n = min(samples.count, frameBytes)
        for i in 0..<n { s.up[base + i] = G711.linearToULaw(samples[i]) }
        for i in n..<frameBytes { s.up[base + i] = 0xFF }
        s.upOutbound[slot] = outbound
        s.upTime[slot] = time
        s.upCount += 1
    }

    /// A key the far end pressed, sent to the application in order with the audio. Shard queue.
    public func digit(_ key: Character) {
        state.withLock { s in
            if s.digits.count < 64 { s.digits.append((key, s.capturedFrames * 20)) }
        }
    }

    /// Fills `said` with the next 20 ms of the application's audio and returns true, or returns
    /// false (and leaves `said` alone) when none waits or the stream is not bidirectional. A
    /// short tail is padded with silence. Shard queue. ITU-T G.711 (mu-law)
    public func playout(into said: UnsafeMutableBufferPointer<Int16>) -> Bool {
        guard bidirectional else { return false }
        var marksDue = false
        let played = state.withLock { s -> Bool in
            guard s.downCount > 0 else { return false }
            let n = min(s.downCount, Self.frameBytes, said.count)
            let capacity = s.down.count
            for i in 0..<n { said[i] = G711.ulawToLinear(s.down[(s.downHead + i) % capacity]) }
            for i in n..<said.count { said[i] = 0 }
            s.downHead = (s.downHead + n) % capacity
            s.downCount -= n
            s.played += n
            marksDue = s.marks.first.map { $0.position <= s.played } ?? false
            return true
        }
        if marksDue { wake() }
        return played
    }

    /// The call's media ended: the writer sends `stop` and closes. Any thread.
    public func end() {
        state.withLock { $0.ended = true }
        wake()
    }

    // MARK: Writer side

    /// Takes what waits for the application: frames in capture order, digits, due marks. Writer task.
    public func take() -> Upstream {
        state.withLock { s in
            var out = Upstream()
            out.frames.reserveCapacity(s.upCount)
            for k in 0..<s.upCount {
                let slot = (s.upHead + k) % upstreamFrames
                let base = slot * Self.frameBytes
                out.frames.append(Frame(outbound: s.upOutbound[slot], milliseconds: s.upTime[slot],
                                        payload: Array(s.up[base..<(base + Self.frameBytes)])))
            }
            s.upHead = 0
            s.upCount = 0
            out.digits = s.digits
            s.digits.removeAll(keepingCapacity: true)
            while let first = s.marks.first, first.position <= s.played {
                out.marks.append(first.name)
                s.marks.removeFirst()
            }
            out.dropped = s.dropped
            out.ended = s.ended
            return out
        }
    }

    // MARK: Reader side

    /// Queues the application's audio for playout; returns the bytes that did not fit (they
    /// are dropped and counted). Reader task.
    @discardableResult
    public func enqueue(_ audio: [UInt8]) -> Int {
        state.withLock { s in
            if s.down.isEmpty { s.down = [UInt8](repeating: 0xFF, count: downstreamBytes) }
            let capacity = s.down.count
            let fits = min(audio.count, capacity - s.downCount)
            var tail = (s.downHead + s.downCount) % capacity
            for i in 0..<fits {
                s.down[tail] = audio[i]
                tail += 1
                if tail == capacity { tail = 0 }
            }
            s.downCount += fits
            s.enqueued += fits
            s.refusedBytes += audio.count - fits
            return audio.count - fits
        }
    }

    /// A mark: returned by the writer once the audio queued before it has been played. Reader task.
    /// Twilio Media Streams: mark
    public func mark(_ name: String) {
        let due = state.withLock { s -> Bool in
            s.marks.append((name, s.enqueued))
            return s.enqueued <= s.played
        }
        if due { wake() }
    }

    /// Drops every queued byte at once (the next tick plays none) and makes every pending mark
    /// due; returns how many bytes were dropped. Reader task. Twilio Media Streams: clear
    @discardableResult
    public func clear() -> Int {
        let dropped = state.withLock { s -> Int in
            let n = s.downCount
            s.downCount = 0
            s.played = s.enqueued
            return n
        }
        wake()
        return dropped
    }

    /// True once the call's media ended (or the leg stopped feeding this stream).
    public var isEnded: Bool { state.withLock { $0.ended } }
    /// Bytes waiting for playout.
    public var queuedBytes: Int { state.withLock { $0.downCount } }
    /// Application bytes refused because the playout queue was full.
    public var refusedBytes: Int { state.withLock { $0.refusedBytes } }
    /// Frames dropped because the writer fell behind.
    public var droppedFrames: Int { state.withLock { $0.dropped } }
}
