/// UDPTL error-recovery scheme (SDP `a=T38FaxUdpEC`): none, redundancy (`t38UDPRedundancy`,
/// secondary IFPs) or parity FEC (`t38UDPFEC`, XOR over `span` packets in `entries` interleaved streams,
/// the layout Asterisk and FreeSWITCH use).
public enum UDPTLErrorCorrection: Sendable, Equatable {
    case none
    case redundancy(depth: Int)
    case fec(span: Int, entries: Int)

    /// Largest redundancy depth (and FEC `span * entries`) the encoder keeps history for and the
    /// decoder can use: one less than the decoder's 32-packet window.
    public static let maxHistory = 31
    /// Largest FEC `entries` value (as Asterisk's MAX_FEC_ENTRIES).
    public static let maxFECEntries = 5

    /// The scheme with its parameters forced into supported ranges: depth 0...31; FEC entries 1...5 and
    /// span >= 1 with span * entries <= 31. Non-positive FEC parameters become 3 (Asterisk's default).
    public var normalized: UDPTLErrorCorrection {
        switch self {
        case .none:
            return .none
        case .redundancy(let depth):
            return .redundancy(depth: min(max(depth, 0), Self.maxHistory))
        case .fec(var span, var entries):
            if span <= 0 { span = 3 }
            if entries <= 0 { entries = 3 }
            entries = min(entries, Self.maxFECEntries)
            span = min(span, Self.maxHistory / entries)
            return .fec(span: span, entries: entries)
        }
    }

    /// Packets of history this scheme needs (after normalization).
    var historyNeeded: Int {
        switch normalized {
        case .none: return 0
        case .redundancy(let depth): return depth
        case .fec(let span, let entries): return span * entries
        }
    }
}
