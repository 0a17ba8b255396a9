import Foundation
import Logging
import NIOPosix
import PostgresNIO
import Synchronization

/// Wake-ups between nodes sharing a PostgreSQL database: a transaction that queues work (a send,
/// an outbox entry) sends `NOTIFY faxd_work` with what it queued (`Database.wake`), delivered when
/// it commits; every node LISTENs on its own connection and runs `onWake` with the payload, so an
/// idle node takes the work at once instead of at its next poll. Polling stays: a lost
/// notification (a reconnect) costs one scheduler interval, never the work.
public final class StoreWakeups: Sendable {
    public static let channel = "faxd_work"
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let location: PostgresLocation
    private let logger: Logger
    private let onWake: @Sendable (String) -> Void

    /// Wake-ups for `location`; nil for SQLite (one node: nothing to wake).
    public init?(location: StoreLocation, logger: Logger, onWake: @escaping @Sendable (String) -> Void) {
        guard case .postgres(let place) = location else { return nil }
        self.location = place
        self.logger = logger
        self.onWake = onWake
    }

    /// Listens until `stop`, connecting again (after 1 s) whenever the connection drops.
    public func start() {
        let loop = Task.detached { [location, logger, onWake] in
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(),
                                                                          configuration: try location.configuration(),
                                                                          id: 0, logger: logger).get()
                    do {
                        try await connection.listen(on: Self.channel) { notifications in
                            for try await notification in notifications { onWake(notification.payload) }
                        }
                    } catch {
                        // Closed before it is released: postgres-nio traps on an open connection's deinit.
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("no wake-ups from other nodes for now (they still poll)", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        task.withLock { $0 = loop }
    }

    public func stop() {
        task.withLock { $0 }?.cancel()
    }
}

extension Database {
    /// Tells every node listening (`StoreWakeups`) that `what` was queued, when this transaction
    /// commits. Nothing under SQLite.
    public func wake(_ what: String) throws(StoreError) {
        guard dialect == .postgres else { return }
        try query("SELECT pg_notify(?, ?)", [StoreWakeups.channel, what])
    }
}
