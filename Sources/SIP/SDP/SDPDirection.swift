/// The stream direction attributes, sendrecv when absent. RFC 8866 section 6.7, RFC 3264 section 5.1.
public enum SDPDirection: String, Sendable, Equatable, CaseIterable {
    /// `a=sendrecv`, the default. RFC 8866 section 6.7.4.
    case sendrecv
    /// `a=sendonly`: the sender will not receive (used to put the other side on hold). RFC 8866 section 6.7.3.
    case sendonly
    /// `a=recvonly`: the sender will only receive. RFC 8866 section 6.7.2.
    case recvonly
    /// `a=inactive`: no media either way. RFC 8866 section 6.7.1.
    case inactive

    /// Recognises a direction attribute name, ignoring ASCII case. RFC 8866 section 6.7.
    public init?(attributeName: String) {
        guard let match = Self.allCases.first(where: { asciiCaseInsensitiveEquals($0.rawValue, attributeName) }) else {
            return nil
        }
        self = match
    }

    /// The direction an answerer uses for this offered direction: sendonly <-> recvonly, others unchanged. RFC 3264 section 6.1.
    public var answer: SDPDirection {
        switch self {
        case .sendonly: .recvonly
        case .recvonly: .sendonly
        case .sendrecv, .inactive: self
        }
    }

    /// As an attribute line, e.g. `a=sendonly`. RFC 8866 section 6.7.
    public var attribute: SDPAttribute {
        SDPAttribute(name: rawValue)
    }
}
