/// An offer faxd cannot answer: the SIP status to send (488 Not Acceptable Here) and why.
/// RFC 3264 section 6, RFC 3261 section 21.4.26.
public struct SDPNegotiationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// SIP final status for the INVITE, 488 unless said otherwise. RFC 3261 section 21.4.26.
    public var statusCode: Int
    /// What in the offer could not be accepted. RFC 3264 section 6.
    public var reason: String

    /// Creates a negotiation failure; `statusCode` defaults to 488. RFC 3261 section 21.4.26.
    public init(statusCode: Int = 488, reason: String) {
        self.statusCode = statusCode
        self.reason = reason
    }

    /// "488 Not Acceptable Here: <reason>". RFC 3261 section 21.4.26.
    public var description: String {
        statusCode == 488 ? "488 Not Acceptable Here: \(reason)" : "\(statusCode): \(reason)"
    }
}
