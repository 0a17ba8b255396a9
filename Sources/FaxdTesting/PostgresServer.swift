import ChildProcess
import Dispatch
import Foundation
import Store
import Synchronization

/// A throwaway PostgreSQL server for tests (Debian's postgresql package: initdb and postgres from
/// /usr/lib/postgresql/N/bin), one per test process, started on first use like the SMTP server:
/// its own data directory and Unix socket directory under /tmp, trust authentication for the
/// superuser `faxd`, no TCP port (nothing to collide with). Run as the `postgres` user when the
/// tests run as root (initdb refuses root). The server is a child of a thread that lives as long
/// as the test process and dies with it (setpriv --pdeathsig). Each test takes its own database.
/// Starting it blocks for seconds: call it through `TestStores` (async, off the cooperative
/// pool), never from a test's own thread, or the pool's two threads wait and every async test
/// in the process stalls (raw SIP tests then see no answer for tens of seconds).
public final class PostgresServer: Sendable {
    public let socketDirectory: String
    public let port = 5432
    private let binDirectory: String
    private let runAs: [String]
    private let names = Mutex(0)
    private let server: ChildProcess

    private static let shared = Mutex<Result<PostgresServer, PostgresServerError>?>(nil)

    /// The test process's server, started (and waited for) on first use.
    public static func running() throws -> PostgresServer {
        try shared.withLock { state in
            if state == nil { state = Result { () throws(PostgresServerError) in try PostgresServer() } }
            return try state!.get()
        }
    }

    private init() throws(PostgresServerError) {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted {
            (Int($0) ?? 0) > (Int($1) ?? 0)
        }
        guard let version = versions.first(where: { FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb") }) else {
            throw PostgresServerError("the PostgreSQL server is not installed (no /usr/lib/postgresql/N/bin/initdb): run ./scripts/setup")
        }
        binDirectory = "/usr/lib/postgresql/\(version)/bin"
        let root = "/tmp/faxd-pg-\(getpid())-\(UUID().uuidString.prefix(6))"
        socketDirectory = root + "/socket"
        let data = root + "/data"
        runAs = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        do {
            try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
            if getuid() == 0 {
                guard let user = getpwnam("postgres") else { throw PostgresServerError("running as root, and there is no postgres user to run the server as") }
                for path in [root, socketDirectory] { chown(path, user.pointee.pw_uid, user.pointee.pw_gid) }
            }
        } catch let error as PostgresServerError { throw error } catch { throw PostgresServerError("\(root): \(error)") }
        let initdb = Self.run(runAs + [binDirectory + "/initdb", "-D", data, "-U", "faxd", "--auth=trust", "-E", "UTF8", "--no-sync"])
        guard initdb.status == 0 else { throw PostgresServerError("initdb failed (\(initdb.status)): \(initdb.output.suffix(600))") }
        // runuser stays between us and the server: the server, too, dies when runuser does.
        let dies = FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && !runAs.isEmpty
            ? ["/usr/bin/setpriv", "--pdeathsig", "KILL"] : []
        let serverArguments = runAs + dies + [binDirectory + "/postgres", "-D", data, "-k", socketDirectory, "-p", "\(port)",
                                       "-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=300",
                                       "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"]
        let log = root + "/server.log"
        // ChildProcess, not Foundation's Process: the server must not inherit the test process's
        // sockets (SIP and media ports of the engines under test), and dies with it (PDEATHSIG).
        do {
            server = try ChildProcess(serverArguments[0], Array(serverArguments.dropFirst()), stdout: .file(log), stderr: .file(log))
        } catch {
            throw PostgresServerError("cannot start postgres: \(error)")
        }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if Self.run(runAs + [binDirectory + "/pg_isready", "-h", socketDirectory, "-p", "\(port)", "-U", "faxd", "-d", "postgres"]).status == 0 {
                return
            }
            usleep(100_000)
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw PostgresServerError("the PostgreSQL server did not accept connections within 120 s: \(text.suffix(800))")
    }

    /// A new, empty database; its location for `FaxStore(location:)`.
    public func freshDatabase(_ label: String) throws -> StoreLocation {
        let number = names.withLock { n -> Int in n += 1; return n }
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(number)_\(UUID().uuidString.prefix(6).lowercased())"
        let result = Self.run(runAs + [binDirectory + "/psql", "-h", socketDirectory, "-p", "\(port)", "-U", "faxd", "-d", "postgres",
                                       "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)"])
        guard result.status == 0 else { throw PostgresServerError("CREATE DATABASE \(name) failed: \(result.output)") }
        return location(database: name)
    }

    /// The URL form faxd's `store:` setting takes, for a database on this server.
    public func url(database: String) -> String { "postgres://faxd@/\(database)?host=\(socketDirectory)&port=\(port)" }

    public func location(database: String) -> StoreLocation {
        // The URL is built from our own directory and name: it parses.
        try! StoreLocation(parsing: url(database: database), dataDirectory: "/nonexistent")
    }

    private static func run(_ command: [String]) -> (status: Int32, output: String) {
        do {
            let result = try ChildProcess.run(command[0], Array(command.dropFirst()))
            return (result.status, result.stdout + result.stderr)
        } catch {
            return (-1, "\(command[0]): \(error)")
        }
    }
}

public struct PostgresServerError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh store of either engine, for tests that run against both.
public enum TestStores {
    /// A new empty SQLite file or PostgreSQL database (not yet migrated).
    public static func freshLocation(_ dialect: SQLDialect, _ label: String) async throws -> StoreLocation {
        switch dialect {
        case .sqlite: .sqlite(path: Fixtures.scratchDirectory(label) + "/faxd.sqlite")
        case .postgres: try await offPool { try PostgresServer.running().freshDatabase(label) }
        }
    }

    /// A new store, migrated.
    public static func fresh(_ dialect: SQLDialect, _ label: String) async throws -> FaxStore {
        let location = try await freshLocation(dialect, label)
        return try await open(location)
    }

    /// Opens (and migrates) a store off the cooperative pool.
    public static func open(_ location: StoreLocation) async throws -> FaxStore {
        try await offPool { try FaxStore(location: location) }
    }
}

/// Runs blocking work (a process, a database round trip, a loop of synchronous store calls) on a
/// Dispatch worker and awaits it, so the cooperative pool's threads stay free for other tests.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result(catching: body)) }
    }
}
