/// Why a fax session could not be set up (the session's own outcome is a `T30Result`).
public struct FaxError: Error, Equatable, CustomStringConvertible {
    /// Stable machine-readable class.
    public enum Code: String, Sendable {
        case documentUnreadable, documentUnsuitable, destinationUnwritable, engineInitFailed
    }
    /// The class of failure.
    public var code: Code
    /// What was wrong and what to do, for a human.
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }
}
