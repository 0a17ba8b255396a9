/// The fixed RTP header fields faxd uses; CSRCs and extensions are parsed past, not kept. RFC 3550 section 5.1
public struct RTPHeader: Equatable, Sendable {
    /// Size in bytes of the fixed header without CSRCs or extension. RFC 3550 section 5.1
    public static let fixedSize = 12

    /// Payload type, 7 bits. RFC 3550 section 5.1
    public var payloadType: UInt8
    /// Marker bit; for audio it flags the first packet of a talkspurt. RFC 3551 section 4.1
    public var marker: Bool
    /// Sequence number, incremented by one per packet sent. RFC 3550 section 5.1
    public var sequenceNumber: UInt16
    /// Sampling instant of the first payload octet, in clock-rate units. RFC 3550 section 5.1
    public var timestamp: UInt32
    /// Synchronization source identifier. RFC 3550 section 5.1
    public var ssrc: UInt32

    /// Creates a header; `payloadType` is masked to 7 bits when written. RFC 3550 section 5.1
    public init(payloadType: UInt8, marker: Bool = false, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32) {
        self.payloadType = payloadType
        self.marker = marker
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
    }
}

/// Why a datagram is not a valid RTP packet. RFC 3550 section 5.1
public enum RTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than 12 bytes; carries the length received. RFC 3550 section 5.1
    case tooShort(Int)
    /// Version field is not 2; carries the version found. RFC 3550 section 5.1
    case badVersion(UInt8)
    /// P bit set but the padding count is zero or larger than the payload. RFC 3550 section 5.1
    case badPadding
    /// X bit set but the extension header does not fit in the datagram. RFC 3550 section 5.3.1
    case badExtension
    /// The CSRC list announced by CC does not fit in the datagram. RFC 3550 section 5.1
    case badCSRCCount

    /// A human reason for logs. RFC 3550 section 5.1
    public var description: String {
        switch self {
        case .tooShort(let n): return "RTP packet too short: \(n) bytes, need at least 12"
        case .badVersion(let v): return "RTP version \(v), expected 2"
        case .badPadding: return "RTP padding count is zero or exceeds the payload"
        case .badExtension: return "RTP header extension runs past the end of the packet"
        case .badCSRCCount: return "RTP CSRC list runs past the end of the packet"
        }
    }
}

/// What a datagram arriving on the RTP port is, for RTP/RTCP multiplexing. RFC 5761 section 4
public enum RTPPacketKind: Equatable, Sendable {
    /// Version 2 and a payload type outside the RTCP range. RFC 5761 section 4
    case rtp
    /// Version 2 and second byte 192...223 (RTCP packet types SR/RR/SDES/BYE/APP...). RFC 5761 section 4
    case rtcp
    /// Anything else, e.g. STUN (version bits 0) or a runt. RFC 7983 section 7
    case other

    /// Classifies a datagram; same as `RTPPacket.classify`. RFC 5761 section 4
    public static func classify(_ bytes: UnsafeRawBufferPointer) -> RTPPacketKind {
        RTPPacket.classify(bytes)
    }
}

/// A parsed RTP packet whose payload is a slice of the caller's buffer (valid only as long as it). RFC 3550 section 5.1
public struct RTPPacket {
    /// The fixed header fields. RFC 3550 section 5.1
    public var header: RTPHeader
    /// Payload bytes after CSRCs and extension, padding removed; points into the input, no copy. RFC 3550 section 5.1
    public var payload: UnsafeRawBufferPointer

    /// Builds a packet from parts; `payload` is not copied. RFC 3550 section 5.1
    public init(header: RTPHeader, payload: UnsafeRawBufferPointer) {
        self.header = header
        self.payload = payload
    }

    /// Parses one datagram without allocating: skips CSRCs and the extension, strips padding. RFC 3550 section 5.1
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(RTPParseError) -> RTPPacket {
        let count = bytes.count
        guard count >= RTPHeader.fixedSize else { throw .tooShort(count) }
        let b0 = bytes[0]
        let version = b0 >> 6
        guard version == 2 else { throw .badVersion(version) }
        let b1 = bytes[1]

        var offset = RTPHeader.fixedSize + Int(b0 & 0x0F) * 4
        guard offset <= count else { throw .badCSRCCount }

        if b0 & 0x10 != 0 {
            // Extension: 16-bit profile id, 16-bit length in 32-bit words excluding this 4-byte header.
            guard offset + 4 <= count else { throw .badExtension }
            let words = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            offset += 4 + words * 4
            guard offset <= count else { throw .badExtension }
        }

        var end = count
        if b0 & 0x20 != 0 {
            // The last octet counts the padding octets, itself included, so it cannot be zero.
            let pad = Int(bytes[count - 1])
            guard pad > 0, offset + pad <= count else { throw .badPadding }
            end -= pad
        }

        let header = RTPHeader(
            payloadType: b1 & 0x7F,
            marker: b1 & 0x80 != 0,
            sequenceNumber: UInt16(bytes[2]) << 8 | UInt16(bytes[3]),
            timestamp: readBE32(bytes, 4),
            ssrc: readBE32(bytes, 8)
        )
        return RTPPacket(header: header, payload: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
    }

    /// Tells RTP from muxed RTCP and from non-RTP traffic such as STUN. RFC 5761 section 4
    public static func classify(_ bytes: UnsafeRawBufferPointer) -> RTPPacketKind {
        // STUN and other demuxed protocols have the top two bits != 2 (RFC 7983), so checking the version first is enough.
        guard bytes.count >= 2, bytes[0] >> 6 == 2 else { return .other }
        let second = bytes[1]
        if second >= 192 && second <= 223 {
            return bytes.count >= 4 ? .rtcp : .other
        }
        return bytes.count >= RTPHeader.fixedSize ? .rtp : .other
    }

    @inline(__always)
    private static func readBE32(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}

/// Writes a 12-byte header (V=2, no padding/extension/CSRC) and the payload; returns bytes written, 0 if it does not fit. RFC 3550 section 5.1
public func writeRTP(header: RTPHeader, payload: UnsafeRawBufferPointer, into: UnsafeMutableRawBufferPointer) -> Int {
    let total = RTPHeader.fixedSize + payload.count
    guard total <= into.count, let base = into.baseAddress else { return 0 }
    base.storeBytes(of: 0x80, toByteOffset: 0, as: UInt8.self)
    base.storeBytes(of: (header.marker ? 0x80 : 0) | (header.payloadType & 0x7F), toByteOffset: 1, as: UInt8.self)
    // storeBytes of bigEndian values writes network order regardless of host and tolerates misalignment.
    base.storeBytes(of: header.sequenceNumber.bigEndian, toByteOffset: 2, as: UInt16.self)
    base.storeBytes(of: header.timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
    base.storeBytes(of: header.ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
    if let src = payload.baseAddress, payload.count > 0 {
        (base + RTPHeader.fixedSize).copyMemory(from: src, byteCount: payload.count)
    }
    return total
}
