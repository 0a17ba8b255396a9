/// An `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]` entry. RFC 8866 section 6.6.
public struct RTPMap: Sendable, Equatable {
    /// RTP payload type 0-127. RFC 3551 section 6.
    public var payloadType: UInt8
    /// Encoding name as written ("PCMU", "telephone-event"); compare ignoring case. RFC 8866 section 6.6.
    public var encodingName: String
    /// Clock rate in Hz. RFC 8866 section 6.6.
    public var clockRate: Int
    /// Audio channel count, nil when omitted (meaning 1). RFC 8866 section 6.6.
    public var channels: Int?

    /// Creates an rtpmap entry. RFC 8866 section 6.6.
    public init(payloadType: UInt8, encodingName: String, clockRate: Int, channels: Int? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
    }

    /// Parses an rtpmap attribute value such as "101 telephone-event/8000"; nil when malformed. RFC 8866 section 6.6.
    public init?(attributeValue: String) {
        let parts = attributeValue.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, isASCIIDigits(parts[0]), let pt = UInt8(parts[0]), pt <= 127 else { return nil }
        let encoding = parts[1].split(separator: "/", omittingEmptySubsequences: false)
        guard encoding.count == 2 || encoding.count == 3, !encoding[0].isEmpty,
              isASCIIDigits(encoding[1]), let rate = Int(encoding[1]) else { return nil }
        var channels: Int?
        if encoding.count == 3 {
            guard isASCIIDigits(encoding[2]), let count = Int(encoding[2]) else { return nil }
            channels = count
        }
        self.init(payloadType: pt, encodingName: String(encoding[0]), clockRate: rate, channels: channels)
    }

    /// The attribute value as printed: "0 PCMU/8000" or "96 L16/8000/2". RFC 8866 section 6.6.
    public var attributeValue: String {
        var text = "\(payloadType) \(encodingName)/\(clockRate)"
        if let channels { text += "/\(channels)" }
        return text
    }

    /// As an attribute line, `a=rtpmap:...`. RFC 8866 section 6.6.
    public var attribute: SDPAttribute {
        SDPAttribute(name: "rtpmap", value: attributeValue)
    }

    /// True when this entry names `encoding` at `rate` Hz, mono, ignoring case. RFC 3551 section 4.5.14.
    public func matches(_ encoding: String, clockRate rate: Int) -> Bool {
        asciiCaseInsensitiveEquals(encodingName, encoding) && clockRate == rate && (channels ?? 1) == 1
    }
}
