/// One DTMF key: 0-9, *, #, A-D. Stored as its RFC 4733 event code so it fits a byte on the tick.
/// RFC 4733 section 3.2, table 7
public struct DTMFKey: Sendable, Hashable, CustomStringConvertible {
    /// The RFC 4733 event code, 0...15 (0-9 digits, 10 '*', 11 '#', 12-15 'A'-'D'). RFC 4733 section 3.2
    public let eventCode: UInt8

    private static let characters: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"]

    /// A key from its event code; nil for codes above 15 (flash, tones). RFC 4733 section 3.2
    public init?(eventCode: UInt8) {
        guard eventCode < 16 else { return nil }
        self.eventCode = eventCode
    }

    /// A key from its character (lower-case a-d accepted); nil for anything else. RFC 4733 section 3.2
    public init?(_ character: Character) {
        let upper = Character(character.uppercased())
        guard let index = Self.characters.firstIndex(of: upper) else { return nil }
        eventCode = UInt8(index)
    }

    /// A key from the ASCII byte spandsp reports ('0'-'9', '*', '#', 'A'-'D'). spandsp: digits_rx_callback_t
    init?(ascii: UInt8) {
        switch ascii {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): eventCode = ascii - UInt8(ascii: "0")
        case UInt8(ascii: "*"): eventCode = 10
        case UInt8(ascii: "#"): eventCode = 11
        case UInt8(ascii: "A")...UInt8(ascii: "D"): eventCode = 12 + ascii - UInt8(ascii: "A")
        default: return nil
        }
    }

    /// The key's ASCII byte, what spandsp's generator takes. spandsp: dtmf_tx_put
    var ascii: UInt8 {
        switch eventCode {
        case 0...9: UInt8(ascii: "0") + eventCode
        case 10: UInt8(ascii: "*")
        case 11: UInt8(ascii: "#")
        default: UInt8(ascii: "A") + eventCode - 12
        }
    }

    /// The key as a character. RFC 4733 section 3.2
    public var character: Character { Self.characters[Int(eventCode)] }

    /// The key as a one-character string. RFC 4733 section 3.2
    public var description: String { String(character) }
}

/// How a received digit reached us. RFC 4733 section 2; ITU-T Q.24
public enum DTMFSource: Sendable, Equatable {
    /// A telephone-event packet. RFC 4733 section 2.3
    case rfc4733
    /// Tones in the received audio, found by spandsp's detector. spandsp: dtmf_rx
    case inBand
}

/// A digit the far end pressed, reported once. RFC 4733 section 2.5.2
public struct DTMFDigit: Sendable, Equatable {
    /// Which key.
    public var key: DTMFKey
    /// Where it was heard.
    public var source: DTMFSource
    /// Milliseconds since the channel's first tick when it was reported (20 ms resolution).
    public var atMilliseconds: Int

    /// A digit value. RFC 4733 section 2.5.2
    public init(key: DTMFKey, source: DTMFSource, atMilliseconds: Int) {
        self.key = key
        self.source = source
        self.atMilliseconds = atMilliseconds
    }
}

/// How this leg sends digits. RFC 4733 section 1; ITU-T Q.23
public enum DTMFSendMode: Sendable, Equatable {
    /// RFC 4733 events when the far end negotiated telephone-event, tones in the audio otherwise.
    case automatic
    /// Both at once, time-aligned (some gateways do this; the far end must report each digit once).
    case both
    /// Tones in the audio only, even when telephone-event was negotiated.
    case inBand
}

/// Why `sendDTMF` refused a string. RFC 4733 section 3.2
public struct DTMFStringError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong and what to do.
    public var description: String
}
