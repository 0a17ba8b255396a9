#if canImport(Glibc)
import Glibc
#endif

/// Why a fax session could not be set up (the session's own outcome is a `T30Result`).
public struct FaxError: Error, Equatable, CustomStringConvertible {
    /// Stable machine-readable class.
    public enum Code: String, Sendable {
        case documentUnreadable, documentUnsuitable, destinationUnwritable, engineInitFailed
        /// The process or system ran out of file descriptors (EMFILE/ENFILE) or memory: nothing
        /// is wrong with the document, and the same job can succeed later.
        case resourcesExhausted
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

    /// True when the same job may succeed later: the failure was this machine's, not the document's.
    public var isTemporary: Bool { code == .engineInitFailed || code == .resourcesExhausted }

    /// The error for a failed open(2) of `path` (shown by its file name only: clients never see
    /// server paths); EMFILE, ENFILE and ENOMEM are temporary.
    static func opening(_ path: String, errno code: Int32, _ what: String) -> FaxError {
        let name = FileName.shown(path)
        if code == EMFILE || code == ENFILE || code == ENOMEM {
            return FaxError(.resourcesExhausted, "\(name): cannot open it now (\(String(cString: strerror(code)))); the job can be tried again")
        }
        return FaxError(.documentUnreadable, "\(name): \(what) (\(String(cString: strerror(code))))")
    }
}
