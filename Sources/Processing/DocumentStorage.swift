import Engine
import Foundation
import Store
import Synchronization

extension FaxdConfiguration {
    /// Request bodies being spooled and conversion scratch files: `<data dir>/fax_files/tmp`,
    /// emptied when the service starts (a crash leaves nothing there for good).
    public var temporaryDirectory: String { dataDirectory + "/fax_files/tmp" }
}

/// What an account's documents take, in bytes.
public struct StorageUse: Sendable, Equatable {
    /// Its uploads (`fax_files/uploads/<account>`).
    public var uploads: Int
    /// The documents of its queued, dialing and transmitting sends (`fax_files/tx`).
    public var queued: Int
    /// Request bodies of this account arriving now.
    public var arriving: Int
    /// All of it.
    public var total: Int { uploads + queued + arriving }
}

/// The account storage quota, upload expiry, the temporary directory and the conversion slots.
/// Any thread: its state is two leaf locks; the file system work it does is a directory listing
/// and stat calls.
public final class DocumentStorage: Sendable {
    let configuration: FaxdConfiguration
    let store: FaxStore
    private let arrivingBytes = Mutex<[Int64: Int]>([:])
    private let runningConversions = Mutex<Int>(0)

    init(configuration: FaxdConfiguration, store: FaxStore) {
        self.configuration = configuration
        self.store = store
    }

    /// `processing.account_storage_mb` in bytes.
    public var quotaBytes: Int { configuration.processing.accountStorageMegabytes * 1024 * 1024 }

    /// Where `account`'s uploads live.
    public func uploadDirectory(_ account: FaxAccount) -> String { "\(configuration.uploadDirectory)/\(account.uuid)" }

    /// What `account` stores now.
    public func use(of account: FaxAccount) -> StorageUse {
        var uploads = 0
        let directory = uploadDirectory(account)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !name.hasPrefix(".") {
            uploads += Self.size(of: "\(directory)/\(name)")
        }
        let paths = (try? store.read { try $0.pendingDocumentPaths(accountID: account.id) }) ?? []
        return StorageUse(uploads: uploads, queued: paths.reduce(0) { $0 + Self.size(of: $1) },
                          arriving: arrivingBytes.withLock { $0[account.id] ?? 0 })
    }

    /// Why `account` cannot store `adding` more bytes (naming the quota and the current use), or
    /// nil when it can.
    public func quotaProblem(_ account: FaxAccount, adding: Int, use known: StorageUse? = nil) -> String? {
        var use = known ?? self.use(of: account)
        use.arriving = arrivingBytes.withLock { $0[account.id] ?? 0 }
        guard use.total + adding > quotaBytes else { return nil }
        return "the account's storage quota is \(Self.megabytes(quotaBytes)) (processing.account_storage_mb); \(Self.megabytes(use.total)) are in use "
            + "(uploads \(Self.megabytes(use.uploads)), queued sends \(Self.megabytes(use.queued)), arriving \(Self.megabytes(use.arriving))) "
            + "and this needs \(Self.megabytes(adding)) more; uploads are deleted \(configuration.processing.uploadExpirySeconds) s after their last use"
    }

    /// Counts `bytes` more of a body arriving for `accountID` (negative when it is done).
    public func arriving(_ bytes: Int, accountID: Int64) {
        arrivingBytes.withLock {
            let now = ($0[accountID] ?? 0) + bytes
            $0[accountID] = now > 0 ? now : nil
        }
    }

    /// Takes a conversion slot (`http.max_conversions`), waiting up to `http.conversion_wait_s`;
    /// false when none came free. Give it back with `endConversion`.
    public func beginConversion() async -> Bool {
        let limit = configuration.http.maxConversions
        let deadline = ContinuousClock.now + .seconds(configuration.http.conversionWaitSeconds)
        while true {
            if runningConversions.withLock({ running in
                guard running < limit else { return false }
                running += 1
                return true
            }) { return true }
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Gives a conversion slot back.
    public func endConversion() { runningConversions.withLock { $0 -= 1 } }

    /// Conversions running now.
    public var conversionsRunning: Int { runningConversions.withLock { $0 } }

    /// Empties the temporary directory (at start: nothing in it belongs to a live request).
    func emptyTemporaryDirectory() throws {
        let directory = configuration.temporaryDirectory
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Deletes uploads last written or used before `now - processing.upload_expiry_s`; returns how many.
    func expireUploads(now: Date = Date()) -> Int {
        let cutoff = now.addingTimeInterval(-Double(configuration.processing.uploadExpirySeconds)).timeIntervalSince1970
        var removed = 0
        let root = configuration.uploadDirectory
        for account in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            let directory = "\(root)/\(account)"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                var info = stat()
                let path = "\(directory)/\(name)"
                guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                if Double(info.st_mtim.tv_sec) < cutoff, unlink(path) == 0 { removed += 1 }
            }
        }
        return removed
    }

    /// Marks an upload as used now (a send read it): its expiry counts from here.
    public static func touch(_ path: String) { _ = utimes(path, nil) }

    /// Bytes in the file at `path` (0 when there is none).
    public static func size(of path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }
}
