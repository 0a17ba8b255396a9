import Dispatch
import Foundation

/// The faxd database: one SQLite file (`<data>/faxd.sqlite`, the default) or a PostgreSQL
/// database several nodes share. One connection confined to one serial queue, which is the
/// process's only writer. `read` and `write` run a closure on that queue and wait for it; call
/// them from processing queues, never from the SIP thread or a shard.
/// Other processes (`faxd account`, `faxd fax`) open their own FaxStore: under SQLite, WAL lets
/// them read while the daemon writes, and BEGIN IMMEDIATE with a busy timeout serialises their
/// writes; under PostgreSQL every write transaction is SERIALIZABLE and is run again when it lost
/// a race with another node (`Database.transaction`).
public final class FaxStore: @unchecked Sendable {
    private let queue = DispatchQueue(label: "faxd-store")
    private let database: Database
    public let location: StoreLocation
    public var path: String { database.path }
    public var dialect: SQLDialect { database.dialect }
    /// Several nodes may use it (PostgreSQL): leases, heartbeats and wake-ups matter. A SQLite
    /// file has one daemon (the data directory's lock).
    public var isShared: Bool { dialect == .postgres }

    /// Opens the SQLite database at `path` and applies the migrations it lacks.
    public convenience init(path: String) throws(StoreError) {
        try self.init(location: .sqlite(path: path))
    }

    /// Opens the database at `location` and applies the migrations it lacks.
    public init(location: StoreLocation) throws(StoreError) {
        self.location = location
        database = try Database(location: location)
        try Self.migrate(database)
    }

    /// The database file inside a data directory.
    public static func path(inDataDirectory directory: String) -> String { directory + "/faxd.sqlite" }

    /// Runs `body` on the store's queue in one write transaction. A transaction that lost a race
    /// with another node (PostgreSQL's serialization failure) is run again, up to 100 times, so
    /// `body` must do nothing but database work it can repeat.
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.sync {
            var attempt = 0
            while true {
                do {
                    return try database.transaction { try body(database) }
                } catch let error as StoreError where database.isRetryable(error) && attempt < 100 {
                    attempt += 1
                    usleep(UInt32.random(in: 1_000...UInt32(min(100_000, 2_000 * attempt))))
                }
            }
        }
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

    /// Changes when another connection (another process, or another node) may have changed the
    /// accounts; the daemon polls it to reload its account directory.
    public func dataVersion() throws -> Int {
        try read { db in try db.dataVersion() }
    }

    static func migrate(_ db: Database) throws(StoreError) {
        // Nodes starting together on one PostgreSQL take turns (a session advisory lock).
        let postgres = db.dialect == .postgres
        if postgres { try db.query("SELECT pg_advisory_lock(19019)") }
        defer { if postgres { _ = try? db.query("SELECT pg_advisory_unlock(19019)") } }
        try db.execute(Migrations.sql("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)",
                                      for: db.dialect))
        let applied = Set(try db.query("SELECT name FROM schema_migrations").map { $0.string("name") })
        for migration in Migrations.all where !applied.contains(migration.name) {
            do {
                try db.transaction {
                    // Another process may have applied it between our read and this lock.
                    if try db.query("SELECT 1 FROM schema_migrations WHERE name = ?", [migration.name]).isEmpty {
                        try db.execute(Migrations.sql(migration.sql, for: db.dialect))
                        try db.query("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", [migration.name, Date()])
                    }
                }
            } catch let error as StoreError {
                throw StoreError(code: error.code, "migration \(migration.name): \(error.reason)", sqlState: error.sqlState)
            } catch {
                throw StoreError("migration \(migration.name): \(error)")
            }
        }
    }
}
