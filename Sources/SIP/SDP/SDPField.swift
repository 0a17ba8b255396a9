/// A line faxd does not model (i=, u=, e=, p=, r=, z=, k=, extra t= or an unknown letter), kept so it round-trips.
/// The RFC tells parsers to ignore a whole description with an unknown type letter; faxd keeps the line and
/// carries on, because refusing a carrier's call over one odd line helps nobody. RFC 8866 section 5.
public struct SDPField: Sendable, Equatable {
    /// The one-character `<type>` before '='. RFC 8866 section 5.
    public var type: Character
    /// Everything after '=', trailing whitespace removed. RFC 8866 section 5.
    public var value: String

    /// Creates a kept line. RFC 8866 section 5.
    public init(type: Character, value: String) {
        self.type = type
        self.value = value
    }

    /// Where a session-level field is printed: 0-3 (i u e p) between s= and c=, 4 (t r z) after t=, 5 (k) and 6 (unknown) before a=. RFC 8866 section 5.
    var sessionRank: Int {
        switch type {
        case "i": 0
        case "u": 1
        case "e": 2
        case "p": 3
        case "t", "r", "z": 4
        case "k": 5
        default: 6
        }
    }

    /// Where a media-level field is printed: 0 (i) between m= and c=, 1 (k) and 2 (unknown) between b= and a=. RFC 8866 section 5.
    var mediaRank: Int {
        switch type {
        case "i": 0
        case "k": 1
        default: 2
        }
    }
}
