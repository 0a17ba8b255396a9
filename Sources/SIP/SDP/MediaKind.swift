/// The `<media>` token of an m= line; unknown kinds are kept verbatim. RFC 8866 section 5.14.
public struct MediaKind: RawRepresentable, Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The token as written ("audio", "image", ...). RFC 8866 section 5.14.
    public var rawValue: String

    /// Wraps a media token. RFC 8866 section 5.14.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// Wraps a media token from a literal. RFC 8866 section 5.14.
    public init(stringLiteral value: String) {
        self.rawValue = value
    }

    /// "audio", carried over RTP/AVP for G.711 fax. RFC 8866 section 5.14.
    public static let audio = MediaKind(rawValue: "audio")
    /// "image", carried over udptl for T.38. ITU-T T.38 Annex D.
    public static let image = MediaKind(rawValue: "image")
    /// "video". RFC 8866 section 5.14.
    public static let video = MediaKind(rawValue: "video")
    /// "application". RFC 8866 section 5.14.
    public static let application = MediaKind(rawValue: "application")

    /// True when this kind equals `other` ignoring ASCII case. RFC 8866 section 5.14.
    public func matches(_ other: MediaKind) -> Bool {
        asciiCaseInsensitiveEquals(rawValue, other.rawValue)
    }

    /// The token as written. RFC 8866 section 5.14.
    public var description: String { rawValue }
}
