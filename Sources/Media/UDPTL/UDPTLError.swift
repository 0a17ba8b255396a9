/// Error thrown by `UDPTLEncoder` and `UDPTLDecoder`.
///
/// Only integers and enums are stored, so throwing never allocates; the human-readable
/// `reason` is built on demand, e.g.
/// "UDPTL packet truncated at byte 7 of 9 (secondary IFP 2 length 40 exceeds remaining 2 bytes)".
public struct UDPTLError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The datagram ends before a field is complete.
        case truncated
        /// An ASN.1 PER fragmented length determinant (values >= 16384) was met; not supported.
        case fragmentedLength
        /// A field holds a value that cannot be valid (e.g. an INTEGER of zero octets).
        case invalidValue
        /// Bytes follow a complete UDPTLPacket.
        case trailingBytes
        /// An IFP or FEC entry is larger than the decoder's `maxIFPSize`.
        case ifpTooLarge
        /// The encoder was given an empty IFP.
        case emptyIFP
        /// The primary IFP alone does not fit in the encoder's `maxDatagram`.
        case datagramTooSmall
        /// The primary IFP alone does not fit in the output buffer passed to `encode`.
        case outputBufferTooSmall
    }

    /// The UDPTLPacket field an error refers to. Element indices are 1-based.
    public enum Field: Equatable, Sendable {
        case sequenceNumber
        case primaryLength
        case primary
        case errorRecovery
        case secondaryCount
        case secondaryLength(Int)
        case secondary(Int)
        case fecSpanLength
        case fecSpan
        case fecEntryCount
        case fecEntryLength(Int)
        case fecEntry(Int)
        case datagram
    }

    public let kind: Kind
    public let field: Field
    /// Byte offset in the datagram where the offending field (or its payload) starts.
    public let offset: Int
    /// Total datagram length (decoder) or IFP length (encoder).
    public let length: Int
    /// Kind-specific value: bytes needed / declared length / the invalid value / datagram size needed.
    public let value: Int
    /// Kind-specific limit: bytes remaining / configured maximum.
    public let limit: Int

    init(_ kind: Kind, _ field: Field, offset: Int, length: Int, value: Int = 0, limit: Int = 0) {
        self.kind = kind
        self.field = field
        self.offset = offset
        self.length = length
        self.value = value
        self.limit = limit
    }

    public var reason: String {
        switch kind {
        case .truncated:
            switch field {
            case .primary, .secondary, .fecEntry, .fecSpan:
                return "UDPTL packet truncated at byte \(offset) of \(length) (\(Self.name(field)) length \(value) exceeds remaining \(limit) bytes)"
            default:
                return "UDPTL packet truncated at byte \(offset) of \(length) (\(Self.name(field)) needs \(value) byte(s), \(limit) remaining)"
            }
        case .fragmentedLength:
            return "UDPTL packet uses a fragmented ASN.1 PER length determinant (first octet 0x\(String(value, radix: 16, uppercase: true))) for \(Self.name(field)) at byte \(offset) of \(length); lengths of 16384 or more are not supported"
        case .invalidValue:
            return "UDPTL packet has invalid \(Self.name(field)) \(value) at byte \(offset) of \(length)"
        case .trailingBytes:
            return "UDPTL packet has \(limit) unexpected trailing byte(s) after byte \(offset) of \(length)"
        case .ifpTooLarge:
            return "UDPTL \(Self.name(field)) at byte \(offset) of \(length) is \(value) bytes, more than the decoder's maxIFPSize \(limit)"
        case .emptyIFP:
            return "cannot encode an empty IFP into a UDPTL packet"
        case .datagramTooSmall:
            return "IFP of \(length) bytes needs a \(value)-byte UDPTL datagram, more than maxDatagram \(limit)"
        case .outputBufferTooSmall:
            return "IFP of \(length) bytes needs a \(value)-byte UDPTL datagram, more than the \(limit)-byte output buffer"
        }
    }

    public var description: String { reason }

    static func name(_ field: Field) -> String {
        switch field {
        case .sequenceNumber: return "sequence number"
        case .primaryLength: return "primary IFP length determinant"
        case .primary: return "primary IFP"
        case .errorRecovery: return "error-recovery choice"
        case .secondaryCount: return "secondary IFP count"
        case .secondaryLength(let i): return "secondary IFP \(i) length determinant"
        case .secondary(let i): return "secondary IFP \(i)"
        case .fecSpanLength: return "fec-npackets length determinant"
        case .fecSpan: return "fec-npackets"
        case .fecEntryCount: return "fec-data count"
        case .fecEntryLength(let i): return "FEC entry \(i) length determinant"
        case .fecEntry(let i): return "FEC entry \(i)"
        case .datagram: return "datagram"
        }
    }
}
