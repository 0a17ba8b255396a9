/// The digits of a `send_dtmf` command, checked: 1 to 64 of 0-9, *, #, A-D, with `w` (0.5 s) and
/// `W` (1 s) pauses. Telnyx Call Control v2: send_dtmf digits
public struct DTMFSendString: Sendable, Equatable {
    /// One step of the string: a key to press, or a pause.
    public enum Element: Sendable, Equatable {
        /// A DTMF key: one of 0-9, *, #, A-D. RFC 4733 section 3.2
        case key(Character)
        /// Silence between keys, in milliseconds (`w` 500, `W` 1000). Telnyx Call Control v2: send_dtmf
        case pause(milliseconds: Int)
    }

    /// The string as given.
    public let text: String
    /// Its keys and pauses in order.
    public let elements: [Element]

    /// Most characters a string may hold (keys and pauses).
    public static let maxLength = 64
    /// The keys accepted. RFC 4733 section 3.2
    static let keys: Set<Character> = Set("0123456789*#ABCD")

    /// Checks `text`; the error names the first bad character and its position.
    /// Telnyx Call Control v2: send_dtmf digits
    public init(_ text: String) throws(VoiceCommandError) {
        let expected = "expected 1-\(Self.maxLength) of 0-9, *, #, A-D, with w (0.5 s) and W (1 s) pauses"
        guard !text.isEmpty else { throw VoiceCommandError(.invalidDigits, "digits: empty (\(expected))") }
        var elements: [Element] = []
        for (offset, character) in text.enumerated() {
            if Self.keys.contains(character) {
                elements.append(.key(character))
            } else if character == "w" {
                elements.append(.pause(milliseconds: 500))
            } else if character == "W" {
                elements.append(.pause(milliseconds: 1000))
            } else {
                let hint = "abcd".contains(character) ? "; the keys A-D are upper case" : ""
                throw VoiceCommandError(.invalidDigits,
                                        "digits: '\(text)' holds '\(character)' at position \(offset + 1), which is not a DTMF key or pause (\(expected)\(hint))")
            }
        }
        guard elements.count <= Self.maxLength else {
            throw VoiceCommandError(.invalidDigits, "digits: \(elements.count) characters, more than \(Self.maxLength) (\(expected))")
        }
        self.text = text
        self.elements = elements
    }

    /// The keys alone, pauses dropped ("1w2#" -> "12#").
    public var keys: String { String(elements.compactMap { if case .key(let k) = $0 { k } else { nil } }) }

    /// Checks a `duration_millis` (how long each key sounds): 100 to 500, 250 when absent.
    /// Telnyx Call Control v2: send_dtmf duration_millis
    public static func toneDuration(_ milliseconds: Int?) throws(VoiceCommandError) -> Int {
        guard let milliseconds else { return 250 }
        guard (100...500).contains(milliseconds) else {
            throw VoiceCommandError(.invalidDigits, "duration_millis: \(milliseconds) is out of range (expected 100-500 ms; 250 when absent)")
        }
        return milliseconds
    }
}
