/// Why an SDP body could not be parsed: the 1-based line it failed on (0 for the body as a whole)
/// and a human reason naming what was wrong. RFC 8866 section 5.
public struct SDPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number in the body, counting blank lines; 0 when no single line is at fault. RFC 8866 section 5.
    public var line: Int
    /// What was wrong, quoting the offending line or token. RFC 8866 section 5.
    public var reason: String

    /// Creates an error for `line` with a human `reason`. RFC 8866 section 5.
    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    /// "SDP line 4: m= line ...", or "SDP: ..." when no line is at fault. RFC 8866 section 5.
    public var description: String {
        line > 0 ? "SDP line \(line): \(reason)" : "SDP: \(reason)"
    }
}
