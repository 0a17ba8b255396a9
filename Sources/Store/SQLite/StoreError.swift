/// A storage failure: the engine's code and message, with what faxd was doing.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// SQLite's primary result code (SQLITE_BUSY = 5, SQLITE_CONSTRAINT = 19, ...); 0 for faxd's
    /// own checks. PostgreSQL's integrity violations (SQLSTATE class 23) are given 19 too.
    public var code: Int32
    public var reason: String
    /// PostgreSQL's SQLSTATE ("40001" serialization failure, "23505" unique violation...).
    public var sqlState: String?

    public init(code: Int32 = 0, _ reason: String, sqlState: String? = nil) {
        self.code = code
        self.reason = reason
        self.sqlState = sqlState
    }

    public var description: String { reason }

    /// True for a UNIQUE/CHECK/foreign-key violation (SQLITE_CONSTRAINT, SQLSTATE class 23).
    public var isConstraint: Bool { code & 0xff == 19 }
}
