/// A SIP-layer failure with the reason a human needs.
public struct SIPError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
