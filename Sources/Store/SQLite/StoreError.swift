/// A storage failure: SQLite's result code and message, with what faxd was doing.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// SQLite's primary result code (SQLITE_BUSY = 5, SQLITE_CONSTRAINT = 19, ...); 0 for faxd's own checks.
    public var code: Int32
    public var reason: String

    public init(code: Int32 = 0, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }

    /// True for a UNIQUE/CHECK/foreign-key violation (SQLITE_CONSTRAINT).
    public var isConstraint: Bool { code & 0xff == 19 }
}
