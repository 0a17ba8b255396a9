import Foundation

/// The SQL dialects faxd's store speaks. Queries are written once in the subset both accept
/// (`?` parameters, `INSERT ... ON CONFLICT`, `RETURNING`, `IS NOT DISTINCT FROM`); the few
/// differences are named here.
public enum SQLDialect: String, Sendable, CaseIterable {
    case sqlite, postgres
}

/// One connection to the store's database, whichever engine. Not thread safe: `Database` and
/// `FaxStore` confine it to one queue.
protocol SQLConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// Where it is, for logs (a PostgreSQL URL without its password).
    var description: String { get }
    /// Rows changed by the last statement.
    var changes: Int { get }
    /// Runs one or more statements without parameters.
    func execute(_ sql: String) throws(StoreError)
    /// Runs one statement with `arguments` bound to its `?` parameters, in order.
    func query(_ sql: String, _ arguments: [SQLValue]) throws(StoreError) -> [Row]
    func begin() throws(StoreError)
    /// True for a failure that running the transaction again may not hit (a serialization
    /// failure or deadlock between nodes).
    func isRetryable(_ error: StoreError) -> Bool
    /// A number that changes when the accounts may have been changed by another connection.
    func dataVersion() throws(StoreError) -> Int
}

/// The store's database, SQLite or PostgreSQL. Not thread safe: confine it to one queue
/// (`FaxStore` does: its serial queue owns the connection).
public final class Database {
    let connection: any SQLConnection

    init(connection: any SQLConnection) { self.connection = connection }

    /// Opens a SQLite file (creating it). `FaxStore(location:)` opens either kind.
    public convenience init(path: String) throws(StoreError) {
        self.init(connection: try SQLiteConnection(path: path))
    }

    /// Opens either engine's database (not migrated: `FaxStore` does that).
    public convenience init(location: StoreLocation) throws(StoreError) {
        switch location {
        case .sqlite(let path): self.init(connection: try SQLiteConnection(path: path))
        case .postgres(let place): self.init(connection: try PostgresSQLConnection(location: place))
        }
    }

    public var dialect: SQLDialect { connection.dialect }

    /// The file, or the PostgreSQL server and database (no password).
    public var path: String { connection.description }

    /// Runs one or more statements without parameters.
    public func execute(_ sql: String) throws(StoreError) { try connection.execute(sql) }

    /// Runs one statement with `arguments` bound to its `?` parameters; returns the rows.
    @discardableResult
    public func query(_ sql: String, _ arguments: [any SQLBindable] = []) throws(StoreError) -> [Row] {
        try connection.query(sql, arguments.map(\.sqlValue))
    }

    /// Runs an INSERT and returns the new row's id (`RETURNING id`, which both engines have).
    public func insertReturningID(_ sql: String, _ arguments: [any SQLBindable]) throws(StoreError) -> Int64 {
        guard let row = try query(sql + " RETURNING id", arguments).first else {
            throw StoreError("INSERT returned no id [\(sql.prefix(80))]")
        }
        return row.int64("id")
    }

    /// Runs `body` in one transaction; rolls back if it throws. On PostgreSQL the transaction is
    /// SERIALIZABLE, so a check-then-write (a claim, a status guard) behaves as under SQLite's
    /// single writer even with other nodes writing: when two nodes race, one fails with a
    /// serialization failure and `FaxStore.write` runs its body again.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try connection.begin()
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last statement.
    public var changes: Int { connection.changes }

    func isRetryable(_ error: StoreError) -> Bool { connection.isRetryable(error) }

    func dataVersion() throws(StoreError) -> Int { try connection.dataVersion() }
}
