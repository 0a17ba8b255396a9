/// The t= line: start and stop times as NTP seconds, "0 0" for an unbounded session as SIP uses. RFC 8866 section 5.9.
public struct SDPTiming: Sendable, Equatable {
    /// `<start-time>` in NTP seconds, 0 for "now". RFC 8866 section 5.9.
    public var start: UInt64
    /// `<stop-time>` in NTP seconds, 0 for unbounded. RFC 8866 section 5.9.
    public var stop: UInt64

    /// Creates a timing line. RFC 8866 section 5.9.
    public init(start: UInt64, stop: UInt64) {
        self.start = start
        self.stop = stop
    }

    /// "t=0 0", the permanent session SIP always uses. RFC 3264 section 5.
    public static let permanent = SDPTiming(start: 0, stop: 0)

    /// The t= value as printed: "start stop". RFC 8866 section 5.9.
    public var fieldValue: String {
        "\(start) \(stop)"
    }
}
