/// One telephone-event payload: the 4 bytes of an RFC 4733 event packet. RFC 4733 section 2.3
public struct TelephoneEvent: Sendable, Equatable {
    /// Payload size in bytes. RFC 4733 section 2.3
    public static let size = 4

    /// Event code (0-15 are DTMF keys). RFC 4733 section 2.3.1
    public var event: UInt8
    /// E bit: this packet ends the event. RFC 4733 section 2.3.2
    public var end: Bool
    /// Power level as a positive number of dBm0 below 0 (0...63). RFC 4733 section 2.3.4
    public var volume: UInt8
    /// Duration so far in timestamp units (samples at 8 kHz). RFC 4733 section 2.3.5
    public var duration: UInt16

    /// Creates an event payload. RFC 4733 section 2.3
    public init(event: UInt8, end: Bool, volume: UInt8, duration: UInt16) {
        self.event = event
        self.end = end
        self.volume = volume
        self.duration = duration
    }

    /// Reads the first event of a payload (more may follow in a redundant RFC 2198 block, which
    /// faxd does not negotiate); nil when shorter than 4 bytes. RFC 4733 section 2.3
    public static func parse(_ payload: UnsafeRawBufferPointer) -> TelephoneEvent? {
        guard payload.count >= size else { return nil }
        return TelephoneEvent(event: payload[0], end: payload[1] & 0x80 != 0, volume: payload[1] & 0x3F,
                              duration: UInt16(payload[2]) << 8 | UInt16(payload[3]))
    }

    /// Writes the 4 bytes (R bit zero). RFC 4733 section 2.3
    public func write(into buffer: UnsafeMutableRawBufferPointer) {
        buffer[0] = event
        buffer[1] = (end ? 0x80 : 0) | (volume & 0x3F)
        buffer[2] = UInt8(duration >> 8)
        buffer[3] = UInt8(duration & 0xFF)
    }
}

/// Turns received telephone-event packets into digits, each reported once: an event is known by
/// its RTP timestamp, so its updates and the three redundant end packets repeat nothing, and a
/// late packet of an earlier event is ignored. A value owned by the channel. RFC 4733 section 2.5.2
struct TelephoneEventReceiver {
    /// An event not ended whose packets stopped this long ago counts as over (the end packets were lost).
    static let abandonTicks: UInt64 = 10
    /// An event timestamp this far (1 s) behind the current one is a restarted stream, not a straggler.
    static let restartSamples: Int32 = 8000

    private var hasEvent = false
    private var timestamp: UInt32 = 0
    private var ended = true
    private var lastPacketTick: UInt64 = 0

    /// Takes one event packet; returns the key when it starts a new DTMF event. RFC 4733 section 2.5.2.2
    mutating func receive(_ event: TelephoneEvent, timestamp ts: UInt32, tick: UInt64) -> DTMFKey? {
        if hasEvent {
            if ts == timestamp {
                lastPacketTick = tick
                if event.end { ended = true }
                return nil
            }
            // Slightly older than the current event (wrapping comparison): a straggler, not a new
            // press. Far older means the far end restarted its clock: a new event.
            let age = Int32(bitPattern: ts &- timestamp)
            if age < 0 && age > -Self.restartSamples { return nil }
        }
        hasEvent = true
        timestamp = ts
        ended = event.end
        lastPacketTick = tick
        return DTMFKey(eventCode: event.event)
    }

    /// True while an event has started and neither ended nor gone quiet. RFC 4733 section 2.5.2.2
    func isActive(_ tick: UInt64) -> Bool {
        hasEvent && !ended && tick - lastPacketTick < Self.abandonTicks
    }
}

/// Paces queued digits and pauses, one step per 20 ms tick, as RFC 4733 packets: a tone of
/// `toneTicks` packets with growing duration (marker bit on the first, all carrying the event's
/// start timestamp), the end packet sent three times, then a gap before the next digit. It also
/// tells the channel when a key starts, so the in-band generator sounds it in the same tick and
/// both forms stay in step. A value owned by the channel; the queue is a fixed ring, so `next`
/// never allocates. RFC 4733 section 2.5.1
struct TelephoneEventSender {
    /// The packet to send this tick. RFC 4733 section 2.5.1
    struct Packet: Equatable {
        var event: TelephoneEvent
        var timestamp: UInt32
        var marker: Bool
    }

    /// What one tick brings: the packet to send, and the key that starts sounding now. RFC 4733 section 2.5.1
    struct Step: Equatable {
        var packet: Packet?
        var started: DTMFKey?
    }

    /// Ring codes above the 16 keys: pauses of 500 ms and 1 s (Telnyx send_dtmf's `w` and `W`).
    static let shortPause: UInt8 = 0xFE, longPause: UInt8 = 0xFF

    static let capacity = 64
    private static let samplesPerTick: UInt32 = 160

    private let toneTicks: Int
    private let gapTicks: Int
    private var ring: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var head = 0
    private var count = 0
    // The digit in progress: ticks since its start, its key and start timestamp.
    private var active = false
    private var key: UInt8 = 0
    private var start: UInt32 = 0
    private var elapsed = 0

    /// Tone and gap lengths in ticks (100 ms and 60 ms give 5 and 3). RFC 4733 section 2.5.1.2
    init(toneTicks: Int, gapTicks: Int) {
        self.toneTicks = max(2, toneTicks)
        // The end packet's two repetitions fall in the gap.
        self.gapTicks = max(2, gapTicks)
    }

    /// Digits waiting or in progress.
    var pending: Int { count + (active ? 1 : 0) }

    /// Queues a key; false when the ring is full. RFC 4733 section 2.5.1
    mutating func enqueue(_ k: DTMFKey) -> Bool { enqueue(code: k.eventCode) }

    /// Queues a pause of 500 ms (`long` false) or 1 s; false when the ring is full. RFC 4733 section 2.5.1
    mutating func enqueuePause(long: Bool) -> Bool { enqueue(code: long ? Self.longPause : Self.shortPause) }

    private mutating func enqueue(code: UInt8) -> Bool {
        guard count < Self.capacity else { return false }
        set((head + count) % Self.capacity, code)
        count += 1
        return true
    }

    /// Drops every queued digit; one in progress still ends properly. RFC 4733 section 2.5.1.4
    mutating func clear() { count = 0 }

    /// The step for the tick whose audio starts at `timestamp`. RFC 4733 section 2.5.1
    mutating func next(timestamp: UInt32) -> Step {
        var started: DTMFKey?
        if !active {
            guard count > 0 else { return Step() }
            key = get(head)
            head = (head + 1) % Self.capacity
            count -= 1
            active = true
            start = timestamp
            elapsed = 0
            started = DTMFKey(eventCode: key)
        }
        elapsed += 1
        if key >= 16 {
            // A pause: no packet, no tone, for its length.
            if elapsed >= (key == Self.longPause ? 50 : 25) { active = false }
            return Step()
        }
        let tone = min(elapsed, toneTicks)
        let duration = UInt16(truncatingIfNeeded: UInt32(tone) * Self.samplesPerTick)
        defer { if elapsed >= toneTicks + gapTicks { active = false } }
        // Tone ticks, then the end packet and two retransmissions (RFC 4733 section 2.5.1.4), then silence.
        guard elapsed <= toneTicks + 2 else { return Step(started: started) }
        return Step(packet: Packet(event: TelephoneEvent(event: key, end: elapsed >= toneTicks, volume: 10, duration: duration),
                                   timestamp: start, marker: elapsed == 1),
                    started: started)
    }

    private func get(_ i: Int) -> UInt8 {
        withUnsafeBytes(of: ring) { $0[i] }
    }

    private mutating func set(_ i: Int, _ v: UInt8) {
        withUnsafeMutableBytes(of: &ring) { $0[i] = v }
    }
}
