/// A b= line: proposed bandwidth, e.g. "AS:64" or "TIAS:64000". RFC 8866 section 5.8.
public struct SDPBandwidth: Sendable, Equatable {
    /// `<bwtype>`: "CT", "AS", "TIAS", "RR", "RS" or an extension, kept verbatim. RFC 8866 section 5.8.
    public var type: String
    /// `<bandwidth>`, kilobits per second for CT/AS. RFC 8866 section 5.8.
    public var value: UInt64

    /// Creates a bandwidth line. RFC 8866 section 5.8.
    public init(type: String, value: UInt64) {
        self.type = type
        self.value = value
    }

    /// The b= value as printed: "type:value". RFC 8866 section 5.8.
    public var fieldValue: String {
        "\(type):\(value)"
    }
}
