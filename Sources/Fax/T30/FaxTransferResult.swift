/// What a T.30 session achieved, copied out of spandsp at phase E as a plain value
/// (spandsp: t30_get_transfer_statistics, t30_get_rx_ident).
public struct FaxTransferResult: Sendable, Equatable, Codable {
    /// Completion code.
    public var result: T30Result
    /// Image transfer bit rate of the last page, 0 when no page training happened.
    public var bitRate: Int
    /// Whether error correction mode was used.
    public var ecm: Bool
    /// Pages confirmed (sent and acknowledged, or received and accepted).
    public var pagesTransferred: Int
    /// Pages in the document being sent; for a receiver, the pages received.
    public var pagesTotal: Int
    /// Horizontal resolution of the last page in pixels per metre (8031 is R8, 204 dpi).
    public var xResolution: Int
    /// Vertical resolution of the last page in pixels per metre (3850 standard, 7700 fine).
    public var yResolution: Int
    /// Width of the last page in pixels.
    public var width: Int
    /// Rows of the last page.
    public var length: Int
    /// Compression used on the line.
    public var compression: String
    /// Bad rows on the last received page (0 for a sender).
    public var badRows: Int
    /// Longest run of bad rows on the last received page.
    public var longestBadRowRun: Int
    /// ECM frame retransmissions.
    public var ecmRetries: Int
    /// The far end's station identifier (its TSI or CSI), empty when none was sent.
    public var remoteStationID: String

    /// A result for a session that never ran (file missing, call never connected).
    public static func notStarted(_ result: T30Result) -> FaxTransferResult {
        FaxTransferResult(result: result, bitRate: 0, ecm: false, pagesTransferred: 0, pagesTotal: 0,
                          xResolution: 0, yResolution: 0, width: 0, length: 0, compression: "none",
                          badRows: 0, longestBadRowRun: 0, ecmRetries: 0, remoteStationID: "")
    }

    /// Resolution in the words operators use: "standard", "fine", "superfine" or "RxC ppm".
    public var resolutionName: String {
        switch yResolution {
        case 0: return "none"
        case 3850: return "standard"
        case 7700: return "fine"
        case 15400: return "superfine"
        default: return "\(xResolution)x\(yResolution) ppm"
        }
    }
}
