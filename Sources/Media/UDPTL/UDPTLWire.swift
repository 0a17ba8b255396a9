// ITU-T T.38 Annex A UDPTLPacket in ALIGNED PER, as deployed (Asterisk, FreeSWITCH, spandsp):
//
//   seq-number            2 octets, big endian
//   primary-ifp-packet    open type: length determinant + octets
//   error-recovery        1 octet: bit 8 = 0 -> secondary-ifp-packets, 1 -> fec-info
//     secondary-ifp-packets: count (length determinant), then each: length determinant + octets,
//                            newest first (element i carries seq-number - i)
//     fec-info:              fec-npackets INTEGER (length determinant + big-endian octets),
//                            fec-data count (length determinant), then each: length determinant + octets
//
// Length determinant: 0xxxxxxx (< 128) or 10xxxxxx xxxxxxxx (< 16384); 11xxxxxx is the fragmented
// form, which is rejected.

enum UDPTLWire {
    /// Octets needed by a (non-fragmented) length determinant for `value`.
    @inline(__always)
    static func lengthDeterminantSize(_ value: Int) -> Int {
        value < 0x80 ? 1 : (value < 0x4000 ? 2 : 3)
    }

    /// Octets needed by an open type / OCTET STRING of `count` octets.
    @inline(__always)
    static func openTypeSize(_ count: Int) -> Int {
        lengthDeterminantSize(count) + count
    }

    /// Writes a length determinant (value < 16384) at `pos`, returning the new position.
    @inline(__always)
    static func writeLength(_ value: Int, to out: UnsafeMutableRawPointer, at pos: Int) -> Int {
        if value < 0x80 {
            out.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: pos, as: UInt8.self)
            return pos + 1
        }
        out.storeBytes(of: UInt8(truncatingIfNeeded: 0x80 | (value >> 8)), toByteOffset: pos, as: UInt8.self)
        out.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: pos + 1, as: UInt8.self)
        return pos + 2
    }

    /// Reads a length determinant already validated by `UDPTLPacketView`.
    @inline(__always)
    static func readValidatedLength(_ buf: UnsafeRawBufferPointer, at pos: inout Int) -> Int {
        let b = Int(buf[pos])
        if b < 0x80 {
            pos += 1
            return b
        }
        let v = ((b & 0x3F) << 8) | Int(buf[pos + 1])
        pos += 2
        return v
    }
}

/// A validated UDPTLPacket. Creating one checks the whole datagram; it changes no state.
struct UDPTLPacketView {
    var sequence: UInt16 = 0
    var primaryOffset = 0
    var primaryLength = 0
    var isFEC = false
    /// Number of secondary IFPs or FEC entries.
    var elementCount = 0
    /// Offset of the first element's length determinant.
    var elementsOffset = 0
    /// fec-npackets, or -1 when not representable as a small non-negative integer.
    var fecSpan = 0

    init(parsing buf: UnsafeRawBufferPointer, maxIFPSize: Int) throws(UDPTLError) {
        let n = buf.count
        guard n >= 2 else {
            throw UDPTLError(.truncated, .sequenceNumber, offset: 0, length: n, value: 2, limit: n)
        }
        sequence = UInt16(buf[0]) << 8 | UInt16(buf[1])
        var pos = 2

        primaryLength = try Self.readLength(buf, &pos, .primaryLength)
        try Self.checkPayload(buf, pos, primaryLength, .primary, maxIFPSize)
        primaryOffset = pos
        pos += primaryLength

        guard pos < n else {
            throw UDPTLError(.truncated, .errorRecovery, offset: pos, length: n, value: 1, limit: 0)
        }
        isFEC = buf[pos] & 0x80 != 0
        pos += 1

        if !isFEC {
            elementCount = try Self.readLength(buf, &pos, .secondaryCount)
            elementsOffset = pos
            try Self.skipElements(buf, &pos, elementCount, fec: false, maxIFPSize)
        } else {
            let spanStart = pos
            let intLength = try Self.readLength(buf, &pos, .fecSpanLength)
            guard intLength > 0 else {
                throw UDPTLError(.invalidValue, .fecSpanLength, offset: spanStart, length: n, value: 0)
            }
            guard intLength <= n - pos else {
                throw UDPTLError(.truncated, .fecSpan, offset: pos, length: n, value: intLength, limit: n - pos)
            }
            // Unconstrained INTEGER, two's complement. Anything but a small non-negative value
            // cannot describe a usable parity span: keep the packet, ignore its FEC data.
            if intLength <= 2 && buf[pos] & 0x80 == 0 {
                fecSpan = intLength == 1 ? Int(buf[pos]) : (Int(buf[pos]) << 8 | Int(buf[pos + 1]))
            } else {
                fecSpan = -1
            }
            pos += intLength
            elementCount = try Self.readLength(buf, &pos, .fecEntryCount)
            elementsOffset = pos
            try Self.skipElements(buf, &pos, elementCount, fec: true, maxIFPSize)
        }
        guard pos == n else {
            throw UDPTLError(.trailingBytes, .datagram, offset: pos, length: n, value: 0, limit: n - pos)
        }
    }

    @inline(__always)
    private static func readLength(_ buf: UnsafeRawBufferPointer, _ pos: inout Int,
                                   _ field: UDPTLError.Field) throws(UDPTLError) -> Int {
        let n = buf.count
        guard pos < n else {
            throw UDPTLError(.truncated, field, offset: pos, length: n, value: 1, limit: 0)
        }
        let b = Int(buf[pos])
        if b < 0x80 {
            pos += 1
            return b
        }
        if b & 0x40 != 0 {
            throw UDPTLError(.fragmentedLength, field, offset: pos, length: n, value: b)
        }
        guard pos + 1 < n else {
            throw UDPTLError(.truncated, field, offset: pos, length: n, value: 2, limit: n - pos)
        }
        let v = ((b & 0x3F) << 8) | Int(buf[pos + 1])
        pos += 2
        return v
    }

    /// Walks `count` length-prefixed elements (secondary IFPs, or FEC entries), checking each.
    @inline(__always)
    private static func skipElements(_ buf: UnsafeRawBufferPointer, _ pos: inout Int, _ count: Int,
                                      fec: Bool, _ maxIFPSize: Int) throws(UDPTLError) {
        var i = 0
        while i < count {
            i += 1
            let len = try readLength(buf, &pos, fec ? .fecEntryLength(i) : .secondaryLength(i))
            try checkPayload(buf, pos, len, fec ? .fecEntry(i) : .secondary(i), maxIFPSize)
            pos += len
        }
    }

    @inline(__always)
    private static func checkPayload(_ buf: UnsafeRawBufferPointer, _ pos: Int, _ len: Int,
                                     _ field: UDPTLError.Field, _ maxIFPSize: Int) throws(UDPTLError) {
        let remaining = buf.count - pos
        guard len <= remaining else {
            throw UDPTLError(.truncated, field, offset: pos, length: buf.count, value: len, limit: remaining)
        }
        guard len <= maxIFPSize else {
            throw UDPTLError(.ifpTooLarge, field, offset: pos, length: buf.count, value: len, limit: maxIFPSize)
        }
    }
}

/// Walks the (already validated) secondary IFPs or FEC entries of a `UDPTLPacketView`.
struct UDPTLElementCursor {
    private var pos: Int
    private var remaining: Int

    init(_ view: UDPTLPacketView) {
        pos = view.elementsOffset
        remaining = view.elementCount
    }

    @inline(__always)
    mutating func next(_ buf: UnsafeRawBufferPointer) -> (offset: Int, length: Int)? {
        guard remaining > 0 else { return nil }
        remaining -= 1
        let len = UDPTLWire.readValidatedLength(buf, at: &pos)
        let off = pos
        pos += len
        return (off, len)
    }
}

/// Length of a T.38 IFP as encoded by its own structure (spandsp's t38_core grammar).
///
/// FEC parity entries are as long as the longest IFP of their group, so an IFP rebuilt from parity
/// carries zero padding; spandsp rejects IFPs with trailing octets. `trimmedLength` removes that
/// padding when the IFP parses to a shorter length and everything after it is zero.
enum UDPTLIFPLength {
    static func trimmedLength(_ p: UnsafeRawPointer, count n: Int) -> Int {
        guard n > 1, p.load(fromByteOffset: n - 1, as: UInt8.self) == 0 else { return n }
        if let len = encodedLength(p, count: n, version0: false), len < n, allZero(p, from: len, to: n) {
            return len
        }
        if let len = encodedLength(p, count: n, version0: true), len < n, allZero(p, from: len, to: n) {
            return len
        }
        return n
    }

    private static func allZero(_ p: UnsafeRawPointer, from: Int, to: Int) -> Bool {
        var i = from
        while i < to {
            if p.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
            i += 1
        }
        return true
    }

    /// Self-delimited length of the IFP at `p` (T.38 version >= 1 grammar, or the version 0 one
    /// with its half-octet field types), or nil if the octets do not parse within `n`.
    static func encodedLength(_ p: UnsafeRawPointer, count n: Int, version0: Bool) -> Int? {
        guard n >= 1 else { return nil }
        @inline(__always) func byte(_ i: Int) -> Int { Int(p.load(fromByteOffset: i, as: UInt8.self)) }
        let b0 = byte(0)
        let dataFieldPresent = b0 & 0x80 != 0
        let isData = b0 & 0x40 != 0
        let extended = b0 & 0x20 != 0
        if !isData {
            // t30-indicator: never has a data field.
            guard !dataFieldPresent else { return nil }
            if extended { return version0 || n < 2 ? nil : 2 }
            return 1
        }
        if extended && version0 { return nil }
        var ptr = extended ? 2 : 1
        guard ptr <= n else { return nil }
        guard dataFieldPresent else { return ptr }
        guard ptr < n else { return nil }
        let count = byte(ptr)
        guard count < 0x80 else { return nil }
        ptr += 1
        var otherHalf = false
        var i = 0
        while i < count {
            i += 1
            guard ptr < n else { return nil }
            let fieldDataPresent: Bool
            if version0 {
                if otherHalf {
                    fieldDataPresent = byte(ptr) & 0x08 != 0
                    ptr += 1
                    otherHalf = false
                } else {
                    fieldDataPresent = byte(ptr) & 0x80 != 0
                    if fieldDataPresent { ptr += 1 } else { otherHalf = true }
                }
            } else {
                fieldDataPresent = byte(ptr) & 0x80 != 0
                ptr += byte(ptr) & 0x40 != 0 ? 2 : 1
            }
            if fieldDataPresent {
                guard ptr + 2 <= n else { return nil }
                ptr += 2 + (byte(ptr) << 8 | byte(ptr + 1)) + 1
            }
            guard ptr <= n else { return nil }
        }
        if otherHalf { ptr += 1 }
        return ptr <= n ? ptr : nil
    }
}
