/// Builds UDPTL datagrams (T.38 Annex A) from IFPs, adding redundancy or FEC from a preallocated
/// history ring. Steady-state `encode` does not allocate.
///
/// Output is byte-compatible with Asterisk's and FreeSWITCH's `udptl_build_packet`: secondary IFPs
/// newest first, as many as packets sent so far up to the depth; FEC "wound up" during the first
/// `span * entries` packets exactly as they do; fec-npackets encoded as `01 span`.
///
/// T.38 repeats (spandsp's `count` > 1 for indicators) must reuse the same datagram: encode once,
/// send it `count` times. Calling `encode` again would consume a new sequence number.
public struct UDPTLEncoder: Sendable {
    /// Hard ceiling for `maxDatagram` (and the history slot size).
    public static let maxDatagramLimit = 1400
    /// Used when the far end gave no (or a zero / negative) T38FaxMaxDatagram, as Asterisk does.
    public static let defaultMaxDatagram = 400

    /// The scheme in use, normalized (see `UDPTLErrorCorrection.normalized`).
    public let errorCorrection: UDPTLErrorCorrection
    /// Far end's T38FaxMaxDatagram after clamping to 1...1400 (0 or negative -> 400).
    public private(set) var maxDatagram: Int
    /// Sequence number the next datagram will carry.
    public private(set) var nextSequence: UInt16

    private var sent = 0
    private var history: UDPTLEncoderHistory

    public init(errorCorrection: UDPTLErrorCorrection = .redundancy(depth: 3),
                maxDatagram: Int = UDPTLEncoder.defaultMaxDatagram,
                initialSequence: UInt16 = 0) {
        let ec = errorCorrection.normalized
        self.errorCorrection = ec
        self.maxDatagram = Self.clampMaxDatagram(maxDatagram)
        self.nextSequence = initialSequence
        history = UDPTLEncoderHistory(slotCount: ec.historyNeeded + 1, slotCapacity: Self.maxDatagramLimit)
    }

    public mutating func setMaxDatagram(_ n: Int) {
        maxDatagram = Self.clampMaxDatagram(n)
    }

    static func clampMaxDatagram(_ n: Int) -> Int {
        n <= 0 ? defaultMaxDatagram : min(n, maxDatagramLimit)
    }

    /// Largest IFP that can be encoded at all (with no redundancy/FEC data) under `maxDatagram`.
    public var maxIFPSize: Int {
        // seq(2) + length determinant + IFP + choice(1) + trailer (count 1 octet, or FEC 01 span count)
        let trailer: Int
        if case .fec = errorCorrection { trailer = 3 } else { trailer = 1 }
        let fixed = 2 + 1 + trailer
        let oneOctet = maxDatagram - fixed - 1
        if oneOctet < 0x80 { return max(0, oneOctet) }
        return min(maxDatagram - fixed - 2, 0x3FFF)
    }

    /// IFP size up to which every datagram can carry the full redundancy depth or all FEC entries
    /// (give this to spandsp as the far side's max datagram / IFP size for effective protection).
    public var recommendedIFPSize: Int {
        switch errorCorrection {
        case .none:
            return maxIFPSize
        case .redundancy(let depth):
            // Each of the depth + 1 IFPs costs its length plus up to 2 determinant octets.
            return max(0, min(maxIFPSize, (maxDatagram - 4) / (depth + 1) - 2))
        case .fec(_, let entries):
            return max(0, min(maxIFPSize, (maxDatagram - 6) / (entries + 1) - 2))
        }
    }

    /// Encodes the next IFP as one datagram into `into` and returns its length.
    ///
    /// Secondary IFPs are dropped oldest first so the datagram never exceeds `maxDatagram` (nor
    /// `into.count`); if all FEC entries do not fit, fewer interleaved entries (then none) are sent.
    /// Throws, without consuming a sequence number, if the IFP is empty or does not fit alone.
    public mutating func encode(ifp: UnsafeRawBufferPointer,
                                into out: UnsafeMutableRawBufferPointer) throws(UDPTLError) -> Int {
        let n = ifp.count
        guard n > 0, let src = ifp.baseAddress else {
            throw UDPTLError(.emptyIFP, .primary, offset: 0, length: 0)
        }
        // seq + primary open type + error-recovery choice octet
        let base = 2 + UDPTLWire.openTypeSize(n) + 1
        let minimalTrailer: Int
        if case .fec = errorCorrection { minimalTrailer = 3 } else { minimalTrailer = 1 }
        let minimal = base + minimalTrailer
        guard minimal <= maxDatagram else {
            throw UDPTLError(.datagramTooSmall, .primary, offset: 0, length: n, value: minimal, limit: maxDatagram)
        }
        guard minimal <= out.count, let dst = out.baseAddress else {
            throw UDPTLError(.outputBufferTooSmall, .primary, offset: 0, length: n, value: minimal, limit: out.count)
        }
        let limit = min(maxDatagram, out.count)
        if !isKnownUniquelyReferenced(&history) {
            history = history.copy()
        }
        let h = history
        let cur = sent

        var pos = 0
        dst.storeBytes(of: UInt8(truncatingIfNeeded: nextSequence >> 8), toByteOffset: 0, as: UInt8.self)
        dst.storeBytes(of: UInt8(truncatingIfNeeded: nextSequence), toByteOffset: 1, as: UInt8.self)
        pos = UDPTLWire.writeLength(n, to: dst, at: 2)
        (dst + pos).copyMemory(from: src, byteCount: n)
        pos += n

        switch errorCorrection {
        case .none:
            dst.storeBytes(of: 0x00, toByteOffset: pos, as: UInt8.self)
            dst.storeBytes(of: 0x00, toByteOffset: pos + 1, as: UInt8.self)
            pos += 2

        case .redundancy(let depth):
            // Keep the newest secondaries that fit; the count stays < 128, one octet.
            let available = min(depth, cur)
            var total = base + 1
            var count = 0
            while count < available {
                let next = total + UDPTLWire.openTypeSize(h.length(cur - count - 1))
                if next > limit { break }
                total = next
                count += 1
            }
            dst.storeBytes(of: 0x00, toByteOffset: pos, as: UInt8.self)
            pos = UDPTLWire.writeLength(count, to: dst, at: pos + 1)
            var i = 1
            while i <= count {
                let len = h.length(cur - i)
                pos = UDPTLWire.writeLength(len, to: dst, at: pos)
                (dst + pos).copyMemory(from: h.slot(cur - i), byteCount: len)
                pos += len
                i += 1
            }

        case .fec(let span, let entries):
            var s = span
            var e = entries
            if cur < span * entries {
                // Wind up as Asterisk / FreeSWITCH do (they use the 16-bit sequence number, which
                // equals the packet count when starting from 0).
                e = cur / span
                if cur < span { s = 0 }
            }
            // Largest number of interleaved entries whose parity fits.
            while e > 0 {
                var total = base + 3
                for m in 0..<e {
                    total += UDPTLWire.openTypeSize(Self.parityLength(h, cur: cur, span: s, entries: e, entry: m))
                }
                if total <= limit { break }
                e -= 1
            }
            if e == 0 { s = 0 }
            dst.storeBytes(of: 0x80, toByteOffset: pos, as: UInt8.self)
            dst.storeBytes(of: 0x01, toByteOffset: pos + 1, as: UInt8.self)
            dst.storeBytes(of: UInt8(truncatingIfNeeded: s), toByteOffset: pos + 2, as: UInt8.self)
            pos = UDPTLWire.writeLength(e, to: dst, at: pos + 3)
            for m in 0..<e {
                let len = Self.parityLength(h, cur: cur, span: s, entries: e, entry: m)
                pos = UDPTLWire.writeLength(len, to: dst, at: pos)
                let parity = dst + pos
                parity.initializeMemory(as: UInt8.self, repeating: 0, count: len)
                var k = cur + m - s * e
                while k < cur + m {
                    Self.xor(into: parity, from: h.slot(k), count: h.length(k))
                    k += e
                }
                pos += len
            }
        }

        h.store(cur, ifp)
        sent = cur + 1
        nextSequence &+= 1
        return pos
    }

    /// Parity entry `entry` covers packets cur+entry-span*entries, step `entries`, below cur+entry;
    /// it is as long as the longest of them.
    @inline(__always)
    private static func parityLength(_ h: UDPTLEncoderHistory, cur: Int, span: Int, entries: Int, entry: Int) -> Int {
        var longest = 0
        var k = cur + entry - span * entries
        while k < cur + entry {
            longest = max(longest, h.length(k))
            k += entries
        }
        return longest
    }

    @inline(__always)
    static func xor(into dst: UnsafeMutableRawPointer, from src: UnsafeRawPointer, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = dst.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ src.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            dst.storeBytes(of: v, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < count {
            let v = dst.load(fromByteOffset: i, as: UInt8.self) ^ src.load(fromByteOffset: i, as: UInt8.self)
            dst.storeBytes(of: v, toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }
}
