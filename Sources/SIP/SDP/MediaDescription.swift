/// One media description: an m= line and the i=, c=, b=, k= and a= lines that follow it. RFC 8866 section 5.14.
public struct MediaDescription: Sendable, Equatable {
    /// `<media>`: audio, image or anything else (kept). RFC 8866 section 5.14.
    public var kind: MediaKind
    /// `<port>`; 0 means the stream is declined or disabled. RFC 3264 section 5.1.
    public var port: UInt16
    /// The "/<number of ports>" suffix of the port, nil when absent. RFC 8866 section 5.14.
    public var portCount: Int?
    /// `<proto>` as written: "RTP/AVP", "RTP/SAVP", "udptl", "UDPTL", ... RFC 8866 section 5.14.
    public var proto: String
    /// `<fmt>` list in offer order: RTP payload types for RTP, "t38" for udptl. RFC 8866 section 5.14.
    public var formats: [String]
    /// Media-level c=, which overrides the session-level one. RFC 8866 section 5.7.
    public var connection: SDPConnection?
    /// Media-level b= lines. RFC 8866 section 5.8.
    public var bandwidths: [SDPBandwidth]
    /// a= lines in their original order, unknown ones included. RFC 8866 section 5.13.
    public var attributes: [SDPAttribute]
    /// i=, k= and unknown lines of this media section, kept so they round-trip; the parser stores them in print order (i first). RFC 8866 section 5.
    public var otherFields: [SDPField]

    /// Creates a media description. RFC 8866 section 5.14.
    public init(
        kind: MediaKind,
        port: UInt16,
        portCount: Int? = nil,
        proto: String,
        formats: [String],
        connection: SDPConnection? = nil,
        bandwidths: [SDPBandwidth] = [],
        attributes: [SDPAttribute] = [],
        otherFields: [SDPField] = []
    ) {
        self.kind = kind
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.connection = connection
        self.bandwidths = bandwidths
        self.attributes = attributes
        self.otherFields = otherFields
    }

    // MARK: Attribute access

    /// Every attribute called `name`, ignoring ASCII case, in order. RFC 8866 section 5.13.
    public func attributes(named name: String) -> [SDPAttribute] {
        attributes.filter { $0.isNamed(name) }
    }

    /// The first attribute called `name`, ignoring ASCII case. RFC 8866 section 5.13.
    public func attribute(named name: String) -> SDPAttribute? {
        attributes.first { $0.isNamed(name) }
    }

    /// True when an attribute called `name` is present. RFC 8866 section 5.13.
    public func hasAttribute(_ name: String) -> Bool {
        attribute(named: name) != nil
    }

    /// All well-formed a=rtpmap entries in order; malformed ones are skipped. RFC 8866 section 6.6.
    public var rtpMaps: [RTPMap] {
        attributes(named: "rtpmap").compactMap { $0.value.flatMap(RTPMap.init(attributeValue:)) }
    }

    /// The a=rtpmap entry for `payloadType`, if any. RFC 8866 section 6.6.
    public func rtpMap(for payloadType: UInt8) -> RTPMap? {
        rtpMaps.first { $0.payloadType == payloadType }
    }

    /// The format parameters after "a=fmtp:<format> ", e.g. "0-16" for telephone-event. RFC 8866 section 6.15.
    public func fmtp(for format: String) -> String? {
        for attribute in attributes(named: "fmtp") {
            guard let value = attribute.value else { continue }
            let head = value.prefix { $0 != " " && $0 != "\t" }
            guard head == format else { continue }
            return String(value.dropFirst(head.count).drop { $0 == " " || $0 == "\t" })
        }
        return nil
    }

    /// The format parameters for an RTP payload type. RFC 8866 section 6.15.
    public func fmtp(for payloadType: UInt8) -> String? {
        fmtp(for: String(payloadType))
    }

    /// a=ptime in milliseconds; a fractional value such as "20.0" is truncated, nonsense gives nil. RFC 8866 section 6.4.
    public var ptime: Int? {
        guard let value = attribute(named: "ptime")?.value else { return nil }
        let whole = value.prefix { $0 != "." }
        guard isASCIIDigits(whole), let ms = Int(whole), ms > 0 else { return nil }
        return ms
    }

    /// The media-level direction attribute, nil when absent (see `SessionDescription.direction(of:)` for inheritance). RFC 8866 section 6.7.
    public var direction: SDPDirection? {
        for attribute in attributes {
            if let direction = SDPDirection(attributeName: attribute.name), attribute.value == nil {
                return direction
            }
        }
        return nil
    }

    /// True when the port is 0: the stream is declined. RFC 3264 section 6.
    public var isDeclined: Bool {
        port == 0
    }

    /// The m= value as printed: "audio 49170 RTP/AVP 0 8". RFC 8866 section 5.14.
    public var fieldValue: String {
        var text = "\(kind.rawValue) \(port)"
        if let portCount { text += "/\(portCount)" }
        text += " \(proto)"
        for format in formats { text += " \(format)" }
        return text
    }

    /// Appends this section's lines in RFC order (m i c b k a), each ending in CRLF. RFC 8866 section 5.
    func render(into text: inout String) {
        text += "m=\(fieldValue)\r\n"
        for field in otherFields where field.mediaRank == 0 { text += "\(field.type)=\(field.value)\r\n" }
        if let connection { text += "c=\(connection.fieldValue)\r\n" }
        for bandwidth in bandwidths { text += "b=\(bandwidth.fieldValue)\r\n" }
        for field in otherFields where field.mediaRank > 0 { text += "\(field.type)=\(field.value)\r\n" }
        for attribute in attributes { text += "a=\(attribute.fieldValue)\r\n" }
    }
}
