/// Receives UDPTL datagrams and delivers IFPs strictly in increasing sequence order, recovering lost
/// packets from redundancy (secondary IFPs) and/or parity FEC, whatever was negotiated: every
/// datagram is decoded according to its own error-recovery choice.
///
/// Window: the decoder remembers the last 32 sequence numbers (received, recovered or delivered).
/// - A packet older than the next expected one (up to `resyncWindow` behind) is a duplicate / late
///   packet and is dropped.
/// - A gap is normally given up at once (counted in `lost`) and later packets are delivered: T.38 is
///   real time and spandsp drops late IFPs anyway. With `reorderHold` = h > 0, packets after a gap are
///   held until the gap is filled (late packet, redundancy, FEC) or h newer sequence numbers have been
///   seen. In automatic mode h follows the stream: span * entries while FEC packets arrive (the
///   furthest a parity entry can reach back), 0 otherwise. Call `flush` from a timer when
///   `heldPacketCount` > 0 and no packet came for a while.
/// - A packet more than `resyncWindow` ahead or behind restarts the window there (peer restarted its
///   sequence); held packets are delivered first.
///
/// Garbage and truncated datagrams throw `UDPTLError` before anything is changed (other than
/// `statistics.malformed`). Steady-state `receive` does not allocate; the FEC parity store is
/// allocated once, when the first FEC packet arrives.
public struct UDPTLDecoder: Sendable {
    public struct Statistics: Sendable, Equatable {
        /// Well-formed datagrams received (duplicates included).
        public var packets = 0
        /// IFPs handed to `deliver` (primaries plus recovered ones).
        public var delivered = 0
        /// Delivered IFPs taken from secondary IFPs because their own packet was missing.
        public var recoveredByRedundancy = 0
        /// Delivered IFPs rebuilt from FEC parity.
        public var recoveredByFEC = 0
        /// Datagrams whose primary IFP had already been delivered or was already held.
        public var duplicates = 0
        /// Datagrams rejected with an error.
        public var malformed = 0
        /// Sequence numbers never delivered, counted once the window moved past them.
        public var lost = 0
        /// Window restarts caused by sequence jumps beyond `resyncWindow`.
        public var resyncs = 0

        public init() {}
    }

    /// Sequence numbers of history kept (received / recovered IFPs and FEC parity).
    public static let windowSize = UDPTLDecoderWindow.slotCount
    public static let defaultResyncWindow = 300
    public static let defaultMaxIFPSize = 1400

    public private(set) var statistics = Statistics()
    /// Largest IFP or FEC entry accepted; also the per-slot buffer size (32 slots).
    public let maxIFPSize: Int
    /// Sequence jump (either direction) beyond which the window restarts.
    public let resyncWindow: Int
    /// Current hold depth (see type documentation).
    public private(set) var reorderHold: Int

    private let automaticHold: Bool
    private var window: UDPTLDecoderWindow
    private var started = false
    /// Extended (non-wrapping) sequence numbers; their low 16 bits are the wire sequence numbers.
    private var nextExpected = 0
    private var highest = -1

    private static let sequenceOrigin = 1 << 32

    /// - Parameters:
    ///   - expected: the negotiated scheme; only seeds the automatic hold depth (FEC: span * entries).
    ///   - reorderHold: fixed hold depth 0...31 in packets, or nil for automatic.
    ///   - resyncWindow: clamped to 1...32767.
    ///   - maxIFPSize: clamped to 1...16383; the T38FaxMaxDatagram you advertise is a sound value.
    public init(errorCorrection expected: UDPTLErrorCorrection = .redundancy(depth: 3),
                reorderHold: Int? = nil,
                resyncWindow: Int = UDPTLDecoder.defaultResyncWindow,
                maxIFPSize: Int = UDPTLDecoder.defaultMaxIFPSize) {
        self.maxIFPSize = min(max(maxIFPSize, 1), 0x3FFF)
        self.resyncWindow = min(max(resyncWindow, 1), 0x7FFF)
        if let reorderHold {
            automaticHold = false
            self.reorderHold = min(max(reorderHold, 0), Self.windowSize - 1)
        } else {
            automaticHold = true
            if case .fec = expected {
                self.reorderHold = expected.historyNeeded
            } else {
                self.reorderHold = 0
            }
        }
        window = UDPTLDecoderWindow(capacity: self.maxIFPSize)
    }

    /// Sequence number of the next IFP to deliver, nil before the first packet.
    public var nextExpectedSequence: UInt16? {
        started ? UInt16(truncatingIfNeeded: nextExpected) : nil
    }

    /// Packets received or recovered but waiting behind a gap.
    public var heldPacketCount: Int {
        guard started, nextExpected <= highest else { return 0 }
        var count = 0
        var s = nextExpected
        while s <= highest {
            if window.isPresent(s) { count += 1 }
            s += 1
        }
        return count
    }

    /// Forgets the stream (statistics are kept); the next packet starts a new window.
    public mutating func reset() {
        started = false
        nextExpected = 0
        highest = -1
    }

    /// Feeds one datagram. IFPs (this packet's primary plus any recovered or released ones) are passed
    /// to `deliver` in increasing sequence order; the buffer is only valid during the call.
    public mutating func receive(_ datagram: UnsafeRawBufferPointer,
                                 deliver: (UInt16, UnsafeRawBufferPointer) -> Void) throws(UDPTLError) {
        let packet: UDPTLPacketView
        do {
            packet = try UDPTLPacketView(parsing: datagram, maxIFPSize: maxIFPSize)
        } catch {
            statistics.malformed += 1
            throw error
        }
        makeWindowUnique()
        statistics.packets += 1

        let backfill = packet.isFEC ? 0 : packet.elementCount
        let p: Int
        if started {
            let delta = Int(Int16(bitPattern: packet.sequence &- UInt16(truncatingIfNeeded: nextExpected)))
            p = nextExpected + delta
            if delta >= resyncWindow || delta < -resyncWindow {
                drain(hold: 0, deliver)
                statistics.resyncs += 1
                begin(at: p, backfill: backfill)
            } else if delta < 0 {
                statistics.duplicates += 1
                return
            }
        } else {
            p = Self.sequenceOrigin + Int(packet.sequence)
            begin(at: p, backfill: backfill)
        }

        if p > highest {
            advance(to: p, deliver)
        }
        let w = window
        let base = datagram.baseAddress

        // Primary.
        switch w.state(p) {
        case .empty, .fec:
            // Over a held parity rebuild too: the real IFP has the exact length.
            w.store(p, from: base.map { $0 + packet.primaryOffset }, length: packet.primaryLength, state: .received)
        case .received, .redundancy:
            statistics.duplicates += 1
        }

        var cursor = UDPTLElementCursor(packet)
        if !packet.isFEC {
            // Secondary i carries p - i.
            var i = 1
            while let element = cursor.next(datagram) {
                let s = p - i
                if i >= Self.windowSize || s < nextExpected { break }
                i += 1
                // Zero-length secondaries are padding some senders emit: not an IFP.
                if element.length == 0 { continue }
                switch w.state(s) {
                case .empty, .fec:
                    w.store(s, from: base.map { $0 + element.offset }, length: element.length, state: .redundancy)
                case .received, .redundancy:
                    break
                }
            }
            if automaticHold { reorderHold = 0 }
        } else {
            let span = packet.fecSpan
            let entries = packet.elementCount
            let usable = span > 0 && entries > 0 && entries <= UDPTLDecoderWindow.maxFECEntries
                && span * entries < Self.windowSize
            if usable {
                w.allocateFEC()
                w.setFEC(p, span: span, entries: entries)
                var m = 0
                while let element = cursor.next(datagram) {
                    w.storeFECEntry(p, m, from: base.map { $0 + element.offset }, length: element.length)
                    m += 1
                }
            }
            if automaticHold { reorderHold = usable ? span * entries : 0 }
        }

        drain(hold: reorderHold, deliver)
    }

    /// Gives up every gap now: delivers all held packets (after a last FEC recovery attempt).
    public mutating func flush(deliver: (UInt16, UnsafeRawBufferPointer) -> Void) {
        guard started, nextExpected <= highest else { return }
        makeWindowUnique()
        drain(hold: 0, deliver)
    }

    // MARK: - Window management

    private mutating func makeWindowUnique() {
        if !isKnownUniquelyReferenced(&window) {
            window = window.copy()
        }
    }

    /// Starts a window whose first packet is `p`, carrying `backfill` secondaries that may be delivered.
    private mutating func begin(at p: Int, backfill: Int) {
        window.clearAll()
        nextExpected = p - min(backfill, Self.windowSize - 1)
        highest = nextExpected - 1
        started = true
    }

    /// Moves `highest` to `p`, releasing whatever falls out of the 32-slot window.
    private mutating func advance(to p: Int, _ deliver: (UInt16, UnsafeRawBufferPointer) -> Void) {
        let w = window
        if p - nextExpected >= Self.windowSize {
            if w.hasFEC && nextExpected <= highest { _ = recoverFEC() }
            while p - nextExpected >= Self.windowSize {
                if nextExpected > highest {
                    let target = p - Self.windowSize + 1
                    statistics.lost += target - nextExpected
                    nextExpected = target
                    break
                }
                if w.isPresent(nextExpected) {
                    deliverSlot(nextExpected, deliver)
                } else {
                    statistics.lost += 1
                }
                nextExpected += 1
            }
        }
        var s = max(highest + 1, p - Self.windowSize + 1)
        while s <= p {
            w.clear(s)
            s += 1
        }
        highest = p
    }

    /// Delivers consecutive packets from `nextExpected`; a gap is given up once `hold` newer sequence
    /// numbers have been seen.
    private mutating func drain(hold: Int, _ deliver: (UInt16, UnsafeRawBufferPointer) -> Void) {
        let w = window
        var triedFEC = false
        while nextExpected <= highest {
            let s = nextExpected
            if w.isPresent(s) {
                deliverSlot(s, deliver)
                nextExpected += 1
                continue
            }
            if !triedFEC && w.hasFEC {
                triedFEC = true
                if recoverFEC() { continue }
            }
            if highest - s >= hold {
                statistics.lost += 1
                nextExpected += 1
                continue
            }
            break
        }
    }

    @inline(__always)
    private mutating func deliverSlot(_ s: Int, _ deliver: (UInt16, UnsafeRawBufferPointer) -> Void) {
        let w = window
        switch w.state(s) {
        case .redundancy: statistics.recoveredByRedundancy += 1
        case .fec: statistics.recoveredByFEC += 1
        case .received, .empty: break
        }
        statistics.delivered += 1
        deliver(UInt16(truncatingIfNeeded: s), UnsafeRawBufferPointer(start: w.bytes(s), count: w.length(s)))
    }

    /// Rebuilds every missing, undelivered packet that some stored parity entry covers together with
    /// only present packets; repeats while that makes progress (burst losses across groups).
    private mutating func recoverFEC() -> Bool {
        let w = window
        let low = highest - Self.windowSize + 1
        var progressed = false
        var again = true
        while again {
            again = false
            var x = highest
            while x > nextExpected {
                defer { x -= 1 }
                let entries = w.fecEntries(x)
                guard entries > 0, w.isPresent(x) else { continue }
                let span = w.fecSpan(x)
                for m in 0..<entries {
                    let first = x + m - span * entries
                    let end = x + m
                    if first < low { continue }
                    var missing = -1
                    var missingCount = 0
                    var k = first
                    while k < end {
                        if !w.isPresent(k) {
                            missingCount += 1
                            missing = k
                            if missingCount > 1 { break }
                        }
                        k += entries
                    }
                    guard missingCount == 1, missing >= nextExpected else { continue }
                    let length = w.fecLength(x, m)
                    let dst = w.bytes(missing)
                    if length > 0 {
                        dst.copyMemory(from: w.fecBytes(x, m), byteCount: length)
                    }
                    k = first
                    while k < end {
                        if k != missing {
                            UDPTLEncoder.xor(into: dst, from: w.bytes(k), count: min(w.length(k), length))
                        }
                        k += entries
                    }
                    w.markRebuilt(missing, length: UDPTLIFPLength.trimmedLength(dst, count: length))
                    again = true
                    progressed = true
                }
            }
        }
        return progressed
    }
}
