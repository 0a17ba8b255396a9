import Dispatch
import Foundation

/// The faxd database: one SQLite file (`<data>/faxd.sqlite`), one connection confined to one
/// serial queue, which is the process's only writer. `read` and `write` run a closure on that
/// queue and wait for it; call them from processing queues, never from the SIP thread or a shard.
/// Other processes (`faxd account`, `faxd fax`) open their own FaxStore: WAL lets them read while
/// the daemon writes, and BEGIN IMMEDIATE with a busy timeout serialises their writes.
public final class FaxStore: @unchecked Sendable {
    private let queue = DispatchQueue(label: "faxd-store")
    private let database: Database
    public var path: String { database.path }

    /// Opens the database and applies the migrations it lacks.
    public init(path: String) throws(StoreError) {
        database = try Database(path: path)
        try Self.migrate(database)
    }

    /// The database file inside a data directory.
    public static func path(inDataDirectory directory: String) -> String { directory + "/faxd.sqlite" }

    /// Runs `body` on the store's queue in one write transaction.
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.sync { try database.transaction { try body(database) } }
    }

    /// Runs `body` on the store's queue (reads see a consistent snapshot only inside one statement;
    /// use `write` when several reads must agree).
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.sync { try body(database) }
    }

    /// Names of the migrations applied, in order.
    public func appliedMigrations() throws -> [String] {
        try read { db in try db.query("SELECT name FROM schema_migrations ORDER BY name").map { $0.string("name") } }
    }

    /// Changes when another connection (another process) has committed since the last call
    /// (PRAGMA data_version); the daemon polls it to reload its account directory.
    public func dataVersion() throws -> Int {
        try read { db in try db.query("PRAGMA data_version").first?.int("data_version") ?? 0 }
    }

    static func migrate(_ db: Database) throws(StoreError) {
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        let applied = Set(try db.query("SELECT name FROM schema_migrations").map { $0.string("name") })
        for migration in Migrations.all where !applied.contains(migration.name) {
            do {
                try db.transaction {
                    // Another process may have applied it between our read and this lock.
                    if try db.query("SELECT 1 FROM schema_migrations WHERE name = ?", [migration.name]).isEmpty {
                        try db.execute(migration.sql)
                        try db.query("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", [migration.name, Date()])
                    }
                }
            } catch let error as StoreError {
                throw StoreError(code: error.code, "migration \(migration.name): \(error.reason)")
            } catch {
                throw StoreError("migration \(migration.name): \(error)")
            }
        }
    }
}
