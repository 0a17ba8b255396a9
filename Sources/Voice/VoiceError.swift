/// A voice media failure with a human reason naming what was wrong and what to do. RFC 3550 section 11
public struct VoiceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong and what to do.
    public var description: String

    /// Creates an error from its reason. RFC 3550 section 11
    public init(_ description: String) { self.description = description }
}
