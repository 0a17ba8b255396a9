import Foundation

/// Where the store is: a SQLite file (one node, the default) or a PostgreSQL database shared by
/// several nodes. Written in the configuration as `store: sqlite`, `store: sqlite:/path/file` or
/// `store: postgres://user:password@host:port/database` (libpq's URL form; `?host=/run/postgresql`
/// names a Unix socket directory, `?sslmode=require` asks for TLS, and a missing password is
/// taken from PGPASSWORD).
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// Parses the configuration's `store:` value; `sqlite` is `<dataDirectory>/faxd.sqlite`.
    public init(parsing text: String, dataDirectory: String,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) {
        let value = text.trimmingCharacters(in: .whitespaces)
        if value.isEmpty || value == "sqlite" {
            self = .sqlite(path: FaxStore.path(inDataDirectory: dataDirectory))
        } else if value.hasPrefix("sqlite:") {
            let path = String(value.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw StoreError("store: sqlite: names no file") }
            self = .sqlite(path: path)
        } else if value.hasPrefix("postgres://") || value.hasPrefix("postgresql://") {
            self = .postgres(try PostgresLocation(url: value, environment: environment))
        } else {
            throw StoreError("store: \"\(value)\" is neither sqlite, sqlite:/path nor postgres://user@host/database")
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.description
        }
    }
}

/// A PostgreSQL server and database, from a postgres:// URL.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// A Unix socket directory (`?host=/dir`): the socket is `<dir>/.s.PGSQL.<port>`.
    public var socketDirectory: String?
    public var user: String
    public var password: String?
    public var database: String
    public var tls: Bool

    public init(url text: String, environment: [String: String] = [:]) throws(StoreError) {
        guard let url = URLComponents(string: text) else { throw StoreError("store: \"\(text)\" is not a URL") }
        var query: [String: String] = [:]
        for item in url.queryItems ?? [] { query[item.name] = item.value ?? "" }
        for name in query.keys where !["host", "sslmode", "port"].contains(name) {
            throw StoreError("store: unknown URL parameter \"\(name)\" (known: host, port, sslmode)")
        }
        socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        host = url.host.flatMap { $0.isEmpty ? nil : $0 } ?? query["host"].flatMap { $0.hasPrefix("/") ? nil : $0 } ?? "127.0.0.1"
        if socketDirectory == nil && url.host?.isEmpty != false && query["host"] == nil {
            throw StoreError("store: \(text) names no host (postgres://user@host/database, or ?host=/socket/directory)")
        }
        let port = url.port ?? query["port"].map({ Int($0) ?? -1 }) ?? 5432
        guard (1...65535).contains(port) else {
            throw StoreError("store: the port in \(text) is not 1...65535")
        }
        self.port = port
        user = url.user.flatMap { $0.isEmpty ? nil : $0 } ?? environment["PGUSER"] ?? "faxd"
        password = url.password ?? environment["PGPASSWORD"]
        let name = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !name.isEmpty, !name.contains("/") else {
            throw StoreError("store: \(text) names no database (postgres://user@host:port/database)")
        }
        database = name
        switch query["sslmode"] ?? "disable" {
        case "disable": tls = false
        case "require", "verify-full": tls = true
        case let other: throw StoreError("store: sslmode=\(other) is not supported (disable, require)")
        }
    }

    /// The URL without its password.
    public var description: String {
        let place = socketDirectory.map { "?host=\($0)" } ?? ""
        return "postgres://\(user)@\(socketDirectory == nil ? host : ""):\(port)/\(database)\(place)"
    }
}
