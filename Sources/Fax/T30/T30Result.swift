internal import CSpanDSP

/// A T.30 completion code as spandsp reports it at phase E; the hosted fax industry reports these
/// numbers, so faxd keeps spandsp's values (spandsp: t30.h `T30_ERR_*`).
public struct T30Result: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Every page was confirmed (T30_ERR_OK).
    public static let ok = T30Result(rawValue: Int(T30_ERR_OK))
    /// The CED tone exceeded 5 s (T30_ERR_CEDTONE).
    public static let cedTone = T30Result(rawValue: Int(T30_ERR_CEDTONE))
    /// Timed out waiting for initial communication (T30_ERR_T0_EXPIRED).
    public static let t0Expired = T30Result(rawValue: Int(T30_ERR_T0_EXPIRED))
    /// Timed out waiting for the first message (T30_ERR_T1_EXPIRED).
    public static let t1Expired = T30Result(rawValue: Int(T30_ERR_T1_EXPIRED))
    /// Failed to train with any of the compatible modems (T30_ERR_CANNOT_TRAIN).
    public static let cannotTrain = T30Result(rawValue: Int(T30_ERR_CANNOT_TRAIN))
    /// Far end is not compatible (T30_ERR_INCOMPATIBLE).
    public static let incompatible = T30Result(rawValue: Int(T30_ERR_INCOMPATIBLE))
    /// Carrier lost during fax receive (T30_ERR_RX_NOCARRIER).
    public static let rxNoCarrier = T30Result(rawValue: Int(T30_ERR_RX_NOCARRIER))
    /// The TIFF file to send cannot be opened (T30_ERR_FILEERROR).
    public static let fileError = T30Result(rawValue: Int(T30_ERR_FILEERROR))
    /// The TIFF file is not usable for fax (T30_ERR_BADTIFF).
    public static let badTIFF = T30Result(rawValue: Int(T30_ERR_BADTIFF))
    /// Disconnected after permitted retries (T30_ERR_RETRYDCN).
    public static let retryDCN = T30Result(rawValue: Int(T30_ERR_RETRYDCN))
    /// The call dropped prematurely (T30_ERR_CALLDROPPED).
    public static let callDropped = T30Result(rawValue: Int(T30_ERR_CALLDROPPED))

    /// True only for T30_ERR_OK.
    public var isSuccess: Bool { self == .ok }

    /// spandsp's own description of the code (spandsp: t30_completion_code_to_str).
    public var name: String {
        guard let text = t30_completion_code_to_str(Int32(rawValue)) else { return "unknown T.30 result \(rawValue)" }
        return String(cString: text)
    }

    public var description: String { "\(rawValue) (\(name))" }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(Int.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
