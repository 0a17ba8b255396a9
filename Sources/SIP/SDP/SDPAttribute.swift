/// An a= line, kept in order and verbatim so attributes faxd does not understand still round-trip.
/// `a=sendrecv` has a nil value; `a=rtpmap:0 PCMU/8000` has name "rtpmap" and value "0 PCMU/8000". RFC 8866 section 5.13.
public struct SDPAttribute: Sendable, Equatable {
    /// `<attribute-name>`, case preserved. RFC 8866 section 5.13.
    public var name: String
    /// `<attribute-value>` after the first ':', nil for a property attribute. RFC 8866 section 5.13.
    public var value: String?

    /// Creates an attribute; omit `value` for a property attribute such as "sendrecv". RFC 8866 section 5.13.
    public init(name: String, value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// True when `name` equals `other` ignoring ASCII case (T.38 and real gateways vary the case). RFC 8866 section 5.13.
    public func isNamed(_ other: String) -> Bool {
        asciiCaseInsensitiveEquals(name, other)
    }

    /// The a= value as printed: "name" or "name:value". RFC 8866 section 5.13.
    public var fieldValue: String {
        if let value { return "\(name):\(value)" }
        return name
    }
}

/// Compares two strings ignoring ASCII case, without Foundation. RFC 8866 section 5.13.
func asciiCaseInsensitiveEquals(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) where asciiLower(p) != asciiLower(q) {
        return false
    }
    return true
}

private func asciiLower(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte + 0x20 : byte
}

/// True when `text` is one or more ASCII digits (no sign, no spaces), as SDP numbers are. RFC 8866 section 9.
func isASCIIDigits(_ text: some StringProtocol) -> Bool {
    !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
}
