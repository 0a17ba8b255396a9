#if canImport(Glibc)
import Glibc
#endif
internal import CSpanDSP

/// Modems a T.30 session may train on (spandsp: T30_SUPPORT_V27TER, _V29, _V17).
public struct FaxModems: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// V.27ter, 2400/4800 bit/s.
    public static let v27ter = FaxModems(rawValue: Int(T30_SUPPORT_V27TER))
    /// V.29, 7200/9600 bit/s.
    public static let v29 = FaxModems(rawValue: Int(T30_SUPPORT_V29))
    /// V.17, up to 14400 bit/s.
    public static let v17 = FaxModems(rawValue: Int(T30_SUPPORT_V17))
    /// All three, the default.
    public static let all: FaxModems = [.v27ter, .v29, .v17]
}

/// Image compressions offered in DIS/DCS (spandsp: T30_SUPPORT_T4_1D_COMPRESSION and friends).
public struct FaxCompressions: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// ITU-T T.4 one-dimensional (MH).
    public static let t4OneD = FaxCompressions(rawValue: Int(T30_SUPPORT_T4_1D_COMPRESSION))
    /// ITU-T T.4 two-dimensional (MR).
    public static let t4TwoD = FaxCompressions(rawValue: Int(T30_SUPPORT_T4_2D_COMPRESSION))
    /// ITU-T T.6 (MMR); needs ECM.
    public static let t6 = FaxCompressions(rawValue: Int(T30_SUPPORT_T6_COMPRESSION))
    /// All three, the default.
    public static let all: FaxCompressions = [.t4OneD, .t4TwoD, .t6]
}

/// How one T.30 session is set up: capabilities and identity (ITU-T T.30 DIS/DCS, TSI/CSI).
public struct FaxOptions: Sendable, Equatable {
    /// Error correction mode (T.30 Annex A); on by default.
    public var ecm: Bool = true
    /// Modems offered.
    public var modems: FaxModems = .all
    /// Compressions offered.
    public var compressions: FaxCompressions = .all
    /// Local station identifier (TSI when sending, CSI when receiving), at most 20 characters.
    public var stationID: String = ""
    /// Page header line stamped on sent pages; nil sends none (spandsp: t30_set_tx_page_header_info).
    public var headerInfo: String? = nil
    /// spandsp log level for this session (0 = none); debugging aid, written to stderr.
    public var debugLogLevel: Int = 0
    /// First page to send, 0-based: a retry resumes after the pages the receiver already
    /// confirmed (spandsp: t30_set_tx_file's start_page).
    public var firstPage: Int = 0
    /// Lets spandsp write each received page to the TIFF itself, inside the media tick that ends
    /// the page, as before issue 20 (false: faxd's page writer does it on a utility queue). For
    /// comparisons: the output is the same file either way.
    public var receivedPagesWrittenBySpanDSP: Bool = false
    /// Lets spandsp read and decode each page to send from the TIFF itself, inside the media tick
    /// that starts the page, as before issue 20 (false: pages after the first are decoded ahead
    /// on a utility queue). For comparisons: the line sees the same page either way.
    public var sentPagesReadBySpanDSP: Bool = false

    public init(ecm: Bool = true, modems: FaxModems = .all, compressions: FaxCompressions = .all,
                stationID: String = "", headerInfo: String? = nil, debugLogLevel: Int = 0) {
        self.ecm = ecm
        self.modems = modems
        self.compressions = compressions
        self.stationID = stationID
        self.headerInfo = headerInfo
        self.debugLogLevel = debugLogLevel
    }
}

/// What a fax session does with its document.
public enum FaxJob: Sendable, Equatable {
    /// Send the pages of this multi-page TIFF.
    case send(path: String)
    /// Receive into a new multi-page TIFF at this path.
    case receive(path: String)

    /// The TIFF path either way.
    public var path: String {
        switch self {
        case .send(let path), .receive(let path): return path
        }
    }

    /// Removes what a receive into `path` leaves beside it when its process is killed during the
    /// call: spandsp's empty scratch TIFF (its page writer's scratch files are unnamed and go
    /// with the process). For recovery at start; returns true if there was one.
    @discardableResult
    public static func removeScratchFiles(ofReceiveInto path: String) -> Bool {
        unlink(T30Session.scratchPath(for: path)) == 0
    }

    /// True for `.send`.
    public var isSending: Bool {
        if case .send = self { return true }
        return false
    }
}
