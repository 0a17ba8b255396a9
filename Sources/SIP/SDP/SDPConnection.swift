/// The address type of a c= line. RFC 8866 section 5.7.
public enum SDPAddressType: String, Sendable, Equatable, CaseIterable {
    /// IPv4 ("IP4"). RFC 8866 section 5.7.
    case ip4 = "IP4"
    /// IPv6 ("IP6"). RFC 8866 section 5.7.
    case ip6 = "IP6"

    /// IP6 when `address` contains ':', IP4 otherwise. RFC 8866 section 5.7.
    public init(guessingFrom address: String) {
        self = address.contains(":") ? .ip6 : .ip4
    }
}

/// A c= line: where media is sent. RFC 8866 section 5.7.
public struct SDPConnection: Sendable, Equatable {
    /// `<nettype>`, "IN" for the Internet. RFC 8866 section 5.7.
    public var netType: String
    /// `<addrtype>`, IP4 or IP6. RFC 8866 section 5.7.
    public var addrType: SDPAddressType
    /// `<connection-address>`: an address or host name, with "/ttl" kept verbatim for multicast. RFC 8866 section 5.7.
    public var address: String

    /// Creates a connection; `addrType` is guessed from `address` when omitted. RFC 8866 section 5.7.
    public init(netType: String = "IN", addrType: SDPAddressType? = nil, address: String) {
        self.netType = netType
        self.addrType = addrType ?? SDPAddressType(guessingFrom: address)
        self.address = address
    }

    /// True for the RFC 2543 hold address 0.0.0.0, which answerers must still understand. RFC 3264 section 8.4.
    public var isHoldAddress: Bool {
        address == "0.0.0.0"
    }

    /// The c= value as printed: "nettype addrtype address". RFC 8866 section 5.7.
    public var fieldValue: String {
        "\(netType) \(addrType.rawValue) \(address)"
    }
}
