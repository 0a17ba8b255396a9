import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// One PostgreSQL connection through postgres-nio, used synchronously: `FaxStore` confines it to
/// its serial Dispatch queue (never an event loop), so waiting on a future here is allowed and
/// the store keeps one API for both engines. A dropped connection is opened again on next use.
final class PostgresSQLConnection: SQLConnection {
    let location: PostgresLocation
    private var connection: PostgresConnection?
    private let logger: Logger
    private(set) var changes = 0
    private static let nextID = Atomic<Int>(0)

    var dialect: SQLDialect { .postgres }
    var description: String { location.description }

    init(location: PostgresLocation) throws(StoreError) {
        self.location = location
        var logger = Logger(label: "faxd.store.postgres")
        logger.logLevel = .warning
        self.logger = logger
        _ = try open()
    }

    /// Closes without waiting: the last reference may go on any thread, an event loop's included,
    /// where waiting on a future traps (a node crashed so at SIGTERM in CI).
    /// The closure holds the connection until it is closed (postgres-nio traps on an open one's deinit).
    deinit {
        guard let connection else { return }
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    private func open() throws(StoreError) -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        let configuration = try location.configuration()
        let id = Self.nextID.add(1, ordering: .relaxed).newValue
        do {
            let opened = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                                        id: id, logger: logger).wait()
            connection = opened
            return opened
        } catch {
            throw Self.storeError(error, "\(location): cannot connect")
        }
    }

    func execute(_ sql: String) throws(StoreError) {
        for statement in Self.statements(sql) { _ = try query(statement, []) }
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws(StoreError) -> [Row] {
        let connection = try open()
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .integer(let v): bindings.append(v)
            case .real(let v): bindings.append(v)
            case .text(let s): bindings.append(s)
            case .blob(let b): bindings.append(ByteBuffer(bytes: b))
            case .null: bindings.appendNull()
            }
        }
        let statement = PostgresQuery(unsafeSQL: Self.numberedParameters(sql), binds: bindings)
        let result: PostgresQueryResult
        do { result = try connection.query(statement, logger: logger).wait() } catch {
            throw Self.storeError(error, "SQL failed [\(sql.prefix(80))]")
        }
        changes = result.metadata.rows ?? result.rows.count
        guard let first = result.rows.first else { return [] }
        var names: [String: Int] = [:]
        for (index, cell) in first.enumerated() where names[cell.columnName] == nil { names[cell.columnName] = index }
        return result.rows.map { row in Row(names: names, values: row.map(Self.value)) }
    }

    func begin() throws(StoreError) { try execute("BEGIN ISOLATION LEVEL SERIALIZABLE") }

    /// Serialization failure and deadlock: another node's transaction won; run again.
    func isRetryable(_ error: StoreError) -> Bool { error.sqlState == "40001" || error.sqlState == "40P01" }

    /// The accounts' count and latest change: every account write stamps updated_at, on any node.
    func dataVersion() throws(StoreError) -> Int {
        guard let row = try query("SELECT COUNT(*) AS n, COALESCE(MAX(updated_at), 0) AS t FROM fax_accounts", []).first else { return 0 }
        var hasher = Hasher()
        hasher.combine(row.int("n"))
        hasher.combine(row.double("t"))
        return hasher.finalize()
    }

    /// A cell as one of the five SQL values faxd reads (NUMERIC sums and averages become REAL or INTEGER).
    private static func value(_ cell: PostgresCell) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map(SQLValue.integer) ?? .null
        case .float4, .float8: return (try? cell.decode(Double.self)).map(SQLValue.real) ?? .null
        case .bool: return (try? cell.decode(Bool.self)).map { .integer($0 ? 1 : 0) } ?? .null
        case .numeric:
            guard let decimal = try? cell.decode(Decimal.self) else { return .null }
            let double = NSDecimalNumber(decimal: decimal).doubleValue
            return double == double.rounded() && abs(double) < 9e15 ? .integer(Int64(double)) : .real(double)
        case .bytea: return (try? cell.decode(ByteBuffer.self)).map { .blob(Array($0.readableBytesView)) } ?? .null
        default: return (try? cell.decode(String.self)).map(SQLValue.text) ?? .null
        }
    }

    /// `?` parameters as PostgreSQL's `$1, $2...` (not inside quoted strings).
    static func numberedParameters(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var quoted = false
        var number = 0
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                number += 1
                out += "$\(number)"
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// Statements of a script, split at semicolons outside quoted strings.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == ";" && !quoted {
                statements.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        statements.append(current)
        return statements.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// PSQLError's description hides the server's message; the store's errors carry it.
    private static func storeError(_ error: any Error, _ doing: String) -> StoreError {
        guard let psql = error as? PSQLError else { return StoreError("\(doing): \(error)") }
        let state = psql.serverInfo?[.sqlState]
        let message = psql.serverInfo?[.message] ?? psql.underlying.map { "\($0)" } ?? "\(psql.code)"
        let detail = psql.serverInfo?[.detail].map { " (\($0))" } ?? ""
        let code: Int32 = state?.hasPrefix("23") == true ? 19 : state?.hasPrefix("40") == true ? 5 : 1
        return StoreError(code: code, "\(doing): \(message)\(detail)\(state.map { " [SQLSTATE \($0)]" } ?? "")", sqlState: state)
    }
}

extension PostgresLocation {
    /// postgres-nio's connection settings for this location (10 s to connect).
    func configuration() throws(StoreError) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let directory = socketDirectory {
            configuration = .init(unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            let mode: PostgresConnection.Configuration.TLS
            if tls {
                do { mode = .require(try NIOSSLContext(configuration: .makeClientConfiguration())) } catch {
                    throw StoreError("\(self): cannot set up TLS (\(error))")
                }
            } else {
                mode = .disable
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: mode)
        }
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
