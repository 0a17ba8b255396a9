/// The o= line: who made the session and which version of its description this is. RFC 8866 section 5.2.
public struct SDPOrigin: Sendable, Equatable {
    /// `<username>`, "-" when the host has no user ids. RFC 8866 section 5.2.
    public var username: String
    /// `<sess-id>`, numeric and stable for the whole dialog. RFC 8866 section 5.2.
    public var sessionID: UInt64
    /// `<sess-version>`, increased every time the description changes. RFC 3264 section 8.
    public var sessionVersion: UInt64
    /// `<nettype>`, "IN" for the Internet. RFC 8866 section 5.2.
    public var netType: String
    /// `<addrtype>`, "IP4" or "IP6"; kept as text so odd origins never fail a call. RFC 8866 section 5.2.
    public var addrType: String
    /// `<unicast-address>` of the originating host. RFC 8866 section 5.2.
    public var address: String

    /// Creates an origin; `addrType` defaults to IP6 when `address` contains ':' and IP4 otherwise. RFC 8866 section 5.2.
    public init(
        username: String = "-",
        sessionID: UInt64,
        sessionVersion: UInt64,
        netType: String = "IN",
        addrType: String? = nil,
        address: String
    ) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.netType = netType
        self.addrType = addrType ?? SDPAddressType(guessingFrom: address).rawValue
        self.address = address
    }

    /// Increments `sessionVersion` (wrapping at 2^64), as every changed re-offer must. RFC 3264 section 8.
    public mutating func bumpVersion() {
        sessionVersion &+= 1
    }

    /// The o= value as printed: "username sess-id sess-version nettype addrtype address". RFC 8866 section 5.2.
    public var fieldValue: String {
        "\(username) \(sessionID) \(sessionVersion) \(netType) \(addrType) \(address)"
    }
}
