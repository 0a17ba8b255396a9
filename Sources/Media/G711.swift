/// The two G.711 companding laws and their static RTP payload types. ITU-T G.711, RFC 3551 section 6
public enum G711Law: Sendable, Equatable, CaseIterable {
    /// mu-law (North America, Japan). ITU-T G.711
    case mulaw
    /// A-law (Europe, rest of world). ITU-T G.711
    case alaw

    /// Static payload type: 0 for PCMU, 8 for PCMA. RFC 3551 section 6
    public var payloadType: UInt8 {
        switch self {
        case .mulaw: return 0
        case .alaw: return 8
        }
    }

    /// SDP encoding name: "PCMU" or "PCMA". RFC 3551 section 4.5.14
    public var encodingName: String {
        switch self {
        case .mulaw: return "PCMU"
        case .alaw: return "PCMA"
        }
    }

    /// The code that linear 0 encodes to (0xFF mu-law, 0xD5 A-law), for filling gaps. ITU-T G.711
    public var silenceByte: UInt8 {
        switch self {
        case .mulaw: return 0xFF
        case .alaw: return 0xD5
        }
    }

    /// Maps a static payload type (0 or 8) back to a law, nil otherwise. RFC 3551 section 6
    public init?(payloadType: UInt8) {
        switch payloadType {
        case 0: self = .mulaw
        case 8: self = .alaw
        default: return nil
        }
    }
}

/// Allocation-free G.711 codec, bit-exact with the Sun/ITU reference as used by spandsp's g711.h. ITU-T G.711
public enum G711 {
    /// Decodes `min(input.count, into.count)` codes to 16-bit linear; returns how many. ITU-T G.711
    @discardableResult
    public static func decode(_ law: G711Law, _ input: UnsafeRawBufferPointer, into: UnsafeMutableBufferPointer<Int16>) -> Int {
        let n = min(input.count, into.count)
        guard n > 0, let src = input.baseAddress, let dst = into.baseAddress else { return 0 }
        // Hoist the table once so the loop is a plain indexed load.
        let table = (law == .mulaw ? ulawTable : alawTable).base
        let codes = src.assumingMemoryBound(to: UInt8.self)
        for i in 0..<n {
            dst[i] = table[Int(codes[i])]
        }
        return n
    }

    /// Encodes `min(input.count, into.count)` 16-bit linear samples; returns how many. ITU-T G.711
    @discardableResult
    public static func encode(_ law: G711Law, _ input: UnsafeBufferPointer<Int16>, into: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(input.count, into.count)
        guard n > 0, let src = input.baseAddress, let raw = into.baseAddress else { return 0 }
        let dst = raw.assumingMemoryBound(to: UInt8.self)
        switch law {
        case .mulaw:
            for i in 0..<n { dst[i] = linearToULaw(src[i]) }
        case .alaw:
            for i in 0..<n { dst[i] = linearToALaw(src[i]) }
        }
        return n
    }

    /// Encodes one sample to mu-law; saturates above 32635 in magnitude. ITU-T G.711 table 2a
    @inlinable
    public static func linearToULaw(_ s: Int16) -> UInt8 {
        var linear = Int32(s)
        let mask: Int32
        if linear >= 0 {
            // 0x84 is the reference BIAS (33 in the 14-bit domain); clipping falls out of the segment search.
            linear = 0x84 + linear
            mask = 0xFF
        } else {
            linear = 0x84 - linear
            mask = 0x7F
        }
        let seg = topBit(linear | 0xFF) - 7
        if seg >= 8 {
            return UInt8(truncatingIfNeeded: 0x7F ^ mask)
        }
        return UInt8(truncatingIfNeeded: ((seg << 4) | ((linear >> (seg + 3)) & 0x0F)) ^ mask)
    }

    /// Encodes one sample to A-law (negative inputs use one's complement magnitude). ITU-T G.711 table 1a
    @inlinable
    public static func linearToALaw(_ s: Int16) -> UInt8 {
        var linear = Int32(s)
        let mask: Int32
        if linear >= 0 {
            // 0x55 is the alternate-mark-inversion mask; bit 7 set means positive.
            mask = 0x55 | 0x80
        } else {
            mask = 0x55
            linear = -linear - 1
        }
        let seg = topBit(linear | 0xFF) - 7
        // Int16 magnitude never exceeds 32767, so seg <= 7; the clamp mirrors the reference anyway.
        if seg >= 8 {
            return UInt8(truncatingIfNeeded: 0x7F ^ mask)
        }
        let shift = seg == 0 ? 4 : seg + 3
        return UInt8(truncatingIfNeeded: ((seg << 4) | ((linear >> shift) & 0x0F)) ^ mask)
    }

    /// Decodes one mu-law code via the 256-entry table. ITU-T G.711 table 2a
    @inline(__always)
    public static func ulawToLinear(_ u: UInt8) -> Int16 {
        ulawTable.base[Int(u)]
    }

    /// Decodes one A-law code via the 256-entry table. ITU-T G.711 table 1a
    @inline(__always)
    public static func alawToLinear(_ a: UInt8) -> Int16 {
        alawTable.base[Int(a)]
    }

    /// Reference arithmetic mu-law decode, used to build the table. ITU-T G.711 table 2a
    public static func ulawToLinearArithmetic(_ code: UInt8) -> Int16 {
        let u = Int32(~code)
        let t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
        return Int16(truncatingIfNeeded: (u & 0x80) != 0 ? 0x84 - t : t - 0x84)
    }

    /// Reference arithmetic A-law decode, used to build the table. ITU-T G.711 table 1a
    public static func alawToLinearArithmetic(_ code: UInt8) -> Int16 {
        let a = Int32(code) ^ 0x55
        var i = (a & 0x0F) << 4
        let seg = (a & 0x70) >> 4
        if seg != 0 {
            i = (i + 0x108) << (seg - 1)
        } else {
            i += 8
        }
        return Int16(truncatingIfNeeded: (a & 0x80) != 0 ? i : -i)
    }

    /// Index of the highest set bit of a positive value (the segment search). ITU-T G.711
    @usableFromInline
    @inline(__always)
    static func topBit(_ x: Int32) -> Int32 {
        31 - Int32(x.leadingZeroBitCount)
    }

    /// Immortal 256-entry decode table; a raw pointer so reads never touch a reference count shared across shards. ITU-T G.711
    struct Table: @unchecked Sendable {
        /// First of 256 decoded values, indexed by code. ITU-T G.711
        let base: UnsafePointer<Int16>

        /// Fills the table from a reference decoder, once per process. ITU-T G.711
        init(_ decode: (UInt8) -> Int16) {
            let p = UnsafeMutablePointer<Int16>.allocate(capacity: 256)
            for code in 0...255 {
                p[code] = decode(UInt8(code))
            }
            // Never freed: process-lifetime constant.
            base = UnsafePointer(p)
        }
    }

    /// mu-law decode table, built on first use. ITU-T G.711 table 2a
    static let ulawTable = Table(ulawToLinearArithmetic)
    /// A-law decode table, built on first use. ITU-T G.711 table 1a
    static let alawTable = Table(alawToLinearArithmetic)
}
