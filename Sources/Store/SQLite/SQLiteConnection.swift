import Foundation
internal import CSQLite

/// One SQLite connection (`sqlite3*`). Not thread safe: `Database` confines it to one queue.
final class SQLiteConnection: SQLConnection {
    private let handle: OpaquePointer
    let path: String
    private(set) var changes = 0

    var dialect: SQLDialect { .sqlite }
    var description: String { path }

    /// Opens (creating if needed) the database at `path` in WAL mode with foreign keys on and a
    /// 5 s busy timeout, so a CLI process and the daemon can share the file (sqlite3_open_v2).
    init(path: String) throws(StoreError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw StoreError(code: rc, "\(path): cannot open the database (\(message))")
        }
        handle = db
        sqlite3_busy_timeout(db, 5000)
        do {
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = NORMAL")
            try execute("PRAGMA foreign_keys = ON")
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
    }

    deinit { sqlite3_close_v2(handle) }

    func execute(_ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw StoreError(code: rc, "SQL failed: \(text) [\(sql.prefix(80))]")
        }
        changes = Int(sqlite3_changes(handle))
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws(StoreError) -> [Row] {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, sql) }
        defer { sqlite3_finalize(statement) }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let bound: Int32 = switch argument {
            case .integer(let v): sqlite3_bind_int64(statement, index, v)
            case .real(let v): sqlite3_bind_double(statement, index, v)
            case .text(let s): csqlite_bind_text(statement, index, s, Int32(s.utf8.count))
            case .blob(let b): b.withUnsafeBytes { csqlite_bind_blob(statement, index, $0.baseAddress, Int32(b.count)) }
            case .null: sqlite3_bind_null(statement, index)
            }
            guard bound == SQLITE_OK else { throw error(bound, sql) }
        }
        let count = Int(sqlite3_column_count(statement))
        var names: [String: Int] = [:]
        for i in 0..<count { names[String(cString: sqlite3_column_name(statement, Int32(i)))] = i }
        var rows: [Row] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw error(step, sql) }
            var values: [SQLValue] = []
            values.reserveCapacity(count)
            for i in 0..<Int32(count) {
                switch sqlite3_column_type(statement, i) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(statement, i)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(statement, i)))
                case SQLITE_TEXT: values.append(.text(String(cString: sqlite3_column_text(statement, i))))
                case SQLITE_BLOB:
                    let size = Int(sqlite3_column_bytes(statement, i))
                    let bytes = sqlite3_column_blob(statement, i).map { [UInt8](UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                    values.append(.blob(bytes))
                default: values.append(.null)
                }
            }
            rows.append(Row(names: names, values: values))
        }
        changes = Int(sqlite3_changes(handle))
        return rows
    }

    /// BEGIN IMMEDIATE takes the write lock at once, so two processes never deadlock upgrading a read.
    func begin() throws(StoreError) { try execute("BEGIN IMMEDIATE") }

    /// Never: SQLite serialises writers, a transaction cannot lose a race.
    func isRetryable(_ error: StoreError) -> Bool { false }

    /// PRAGMA data_version: changes when another connection has committed.
    func dataVersion() throws(StoreError) -> Int {
        try query("PRAGMA data_version", []).first?.int("data_version") ?? 0
    }

    private func error(_ rc: Int32, _ sql: String) -> StoreError {
        StoreError(code: rc, "SQL failed: \(String(cString: sqlite3_errmsg(handle))) [\(sql.prefix(80))]")
    }
}
