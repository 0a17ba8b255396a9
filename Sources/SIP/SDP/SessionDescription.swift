/// A parsed SDP body: session-level lines plus the media descriptions, printable back in canonical order.
/// RFC 4566 section 5, RFC 8866 section 5.
public struct SessionDescription: Sendable, Equatable {
    /// v=, always 0 today. RFC 8866 section 5.1.
    public var version: Int
    /// o=. RFC 8866 section 5.2.
    public var origin: SDPOrigin
    /// s=; "-" when the offer had none (tolerated, many gateways omit it). RFC 8866 section 5.3.
    public var sessionName: String
    /// Session-level c=, used by media without their own. RFC 8866 section 5.7.
    public var connection: SDPConnection?
    /// Session-level b= lines. RFC 8866 section 5.8.
    public var bandwidths: [SDPBandwidth]
    /// The first t= line; "0 0" when absent. RFC 8866 section 5.9.
    public var timing: SDPTiming
    /// Session-level a= lines in order, unknown ones included. RFC 8866 section 5.13.
    public var attributes: [SDPAttribute]
    /// The media descriptions in offer order; an answer has the same count and order. RFC 3264 section 6.
    public var media: [MediaDescription]
    /// Session-level lines faxd does not model (i u e p, extra t, r z k, unknown), kept in print order. RFC 8866 section 5.
    public var otherFields: [SDPField]

    /// Creates a session description. RFC 8866 section 5.
    public init(
        version: Int = 0,
        origin: SDPOrigin,
        sessionName: String = "-",
        connection: SDPConnection? = nil,
        bandwidths: [SDPBandwidth] = [],
        timing: SDPTiming = .permanent,
        attributes: [SDPAttribute] = [],
        media: [MediaDescription] = [],
        otherFields: [SDPField] = []
    ) {
        self.version = version
        self.origin = origin
        self.sessionName = sessionName
        self.connection = connection
        self.bandwidths = bandwidths
        self.timing = timing
        self.attributes = attributes
        self.media = media
        self.otherFields = otherFields
    }

    /// Parses an SDP body (LF or CRLF); see `SDPParser` for what is tolerated. RFC 8866 section 5.
    public init(parsing text: String) throws(SDPError) {
        self = try SDPParser.parse(text)
    }

    // MARK: Inheritance and hold

    /// The session-level direction attribute, nil when absent. RFC 8866 section 6.7.
    public var direction: SDPDirection? {
        for attribute in attributes {
            if let direction = SDPDirection(attributeName: attribute.name), attribute.value == nil {
                return direction
            }
        }
        return nil
    }

    /// The direction in force for `media`: its own attribute, else the session's, else sendrecv. RFC 8866 section 6.7.
    public func direction(of media: MediaDescription) -> SDPDirection {
        media.direction ?? direction ?? .sendrecv
    }

    /// The c= in force for `media`: its own, else the session-level one. RFC 8866 section 5.7.
    public func connection(for media: MediaDescription) -> SDPConnection? {
        media.connection ?? connection
    }

    /// True when the offerer holds `media`: direction sendonly or inactive, or the RFC 2543 c=0.0.0.0. RFC 3264 section 8.4.
    public func isHold(_ media: MediaDescription) -> Bool {
        let direction = direction(of: media)
        return direction == .sendonly || direction == .inactive || (connection(for: media)?.isHoldAddress ?? false)
    }

    /// True when there is at least one active (non-zero port) stream and every one of them is on hold. RFC 3264 section 8.4.
    public var isHold: Bool {
        let active = media.filter { !$0.isDeclined }
        return !active.isEmpty && active.allSatisfy { isHold($0) }
    }

    /// Increments the origin's session version, as every changed re-offer must. RFC 3264 section 8.
    public mutating func bumpVersion() {
        origin.bumpVersion()
    }

    // MARK: Rendering

    /// Prints the body with CRLF line ends in RFC order: v o s (i u e p) c b t (r z k) a, then each m section. RFC 8866 section 5.
    public func render() -> String {
        var text = ""
        text += "v=\(version)\r\n"
        text += "o=\(origin.fieldValue)\r\n"
        text += "s=\(sessionName)\r\n"
        for field in otherFields where field.sessionRank < 4 { text += "\(field.type)=\(field.value)\r\n" }
        if let connection { text += "c=\(connection.fieldValue)\r\n" }
        for bandwidth in bandwidths { text += "b=\(bandwidth.fieldValue)\r\n" }
        text += "t=\(timing.fieldValue)\r\n"
        for field in otherFields where field.sessionRank >= 4 { text += "\(field.type)=\(field.value)\r\n" }
        for attribute in attributes { text += "a=\(attribute.fieldValue)\r\n" }
        for media in media { media.render(into: &text) }
        return text
    }
}
