/// Where a T.30 session is (T.30 section 2: phases A to E), as spandsp tracks it; the values are
/// spandsp 0.0.6's `T30_PHASE_*` enum, private to its t30.c (read by `cspandsp_t30_phase`).
public struct T30Phase: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Freshly initialised (T30_PHASE_IDLE).
    public static let idle = T30Phase(rawValue: 0)
    /// Phase A, sending CED as the answering side (T30_PHASE_A_CED).
    public static let aCED = T30Phase(rawValue: 1)
    /// Phase A, sending CNG as the calling side (T30_PHASE_A_CNG).
    public static let aCNG = T30Phase(rawValue: 2)
    /// Phase B, receiving negotiation frames (T30_PHASE_B_RX).
    public static let bReceiving = T30Phase(rawValue: 3)
    /// Phase B, sending negotiation frames (T30_PHASE_B_TX).
    public static let bSending = T30Phase(rawValue: 4)
    /// Phase C, receiving page data without ECM (T30_PHASE_C_NON_ECM_RX).
    public static let cReceiving = T30Phase(rawValue: 5)
    /// Phase C, sending page data without ECM (T30_PHASE_C_NON_ECM_TX).
    public static let cSending = T30Phase(rawValue: 6)
    /// Phase C, receiving an ECM block (T30_PHASE_C_ECM_RX).
    public static let cECMReceiving = T30Phase(rawValue: 7)
    /// Phase C, sending an ECM block (T30_PHASE_C_ECM_TX).
    public static let cECMSending = T30Phase(rawValue: 8)
    /// Phase D, receiving post-page frames (T30_PHASE_D_RX).
    public static let dReceiving = T30Phase(rawValue: 9)
    /// Phase D, sending post-page frames (T30_PHASE_D_TX).
    public static let dSending = T30Phase(rawValue: 10)
    /// Phase E, call release (T30_PHASE_E).
    public static let e = T30Phase(rawValue: 11)
    /// The call is completely finished (T30_PHASE_CALL_FINISHED).
    public static let finished = T30Phase(rawValue: 12)

    /// True while this side sends page data: the far end legitimately says nothing (in T.38 not a
    /// single datagram) until the page or ECM block ends, which at 14,400 bit/s can be minutes.
    public var isSendingPage: Bool { self == .cSending || self == .cECMSending }

    public var description: String {
        switch self {
        case .idle: return "T.30 not started"
        case .aCED: return "T.30 phase A (sending CED)"
        case .aCNG: return "T.30 phase A (sending CNG)"
        case .bReceiving: return "T.30 phase B (receiving negotiation)"
        case .bSending: return "T.30 phase B (sending negotiation)"
        case .cReceiving: return "T.30 phase C (receiving a page)"
        case .cSending: return "T.30 phase C (sending a page)"
        case .cECMReceiving: return "T.30 phase C (receiving an ECM block)"
        case .cECMSending: return "T.30 phase C (sending an ECM block)"
        case .dReceiving: return "T.30 phase D (receiving post-page commands)"
        case .dSending: return "T.30 phase D (sending post-page commands)"
        case .e: return "T.30 phase E"
        case .finished: return "T.30 finished"
        default: return "T.30 phase \(rawValue)"
        }
    }
}
