import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Processing
import Store

/// A request body written to a file under `<data dir>/fax_files/tmp` as it arrived, so a 20 MB
/// upload never sits in the heap. The file is deleted, and its bytes stop counting against the
/// account's quota, when the last reference goes (or when it was renamed into place).
final class SpooledBody: Sendable {
    /// The file.
    let path: String
    /// Bytes in it.
    let size: Int
    let accountID: Int64
    let storage: DocumentStorage

    init(path: String, size: Int, accountID: Int64, storage: DocumentStorage) {
        self.path = path
        self.size = size
        self.accountID = accountID
        self.storage = storage
    }

    /// Moves the file to `destination` (a rename; a durable copy when `files_dir` is another file
    /// system than the data directory's spool); the body is gone after.
    func move(to destination: String) throws(APIError) {
        do { try DurableFile.move(path, to: destination) } catch {
            throw APIError(.internalServerError, "storage", "cannot store the document (\(error))")
        }
    }

    /// The first `count` bytes.
    func head(_ count: Int) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        return [UInt8]((try? handle.read(upToCount: count)) ?? Data())
    }

    deinit {
        unlink(path)
        storage.arriving(-size, accountID: accountID)
    }
}

extension APIServer {
    /// Writes the request body to a file as it arrives: 413 once it passes `limit` bytes (before
    /// reading anything when Content-Length says so), and 413 naming the quota once the account's
    /// stored documents plus everything it is uploading now pass `processing.account_storage_mb`.
    func spool(_ request: Request, account: FaxAccount, limit: Int) async throws -> SpooledBody {
        if let length = request.headers[.contentLength].flatMap(Int.init) { try Self.checkSize(length, limit: limit) }
        let documents = service.documents
        let baseline = documents.use(of: account)
        try Self.checkQuota(documents, account, adding: 0, use: baseline)
        let directory = configuration.temporaryDirectory
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/body-\(UUID().uuidString)"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        try Self.checkOpened(fd)
        var written = 0
        var failure: (any Error)?
        do {
            for try await buffer in request.body {
                let count = buffer.readableBytes
                try Self.checkSize(written + count, limit: limit)
                try Self.checkQuota(documents, account, adding: count, use: baseline)
                documents.arriving(count, accountID: account.id)
                written += count
                try Self.write(buffer, to: fd)
            }
        } catch {
            failure = error
        }
        close(fd)
        // The body's bytes count as arriving until the SpooledBody goes.
        let body = SpooledBody(path: path, size: written, accountID: account.id, storage: documents)
        try Self.rethrow(failure)
        return body
    }

    /// Throws `error` if there is one: synchronous, because a `throw` statement in an async
    /// function crashed Swift 6.3's release build (LLVM coroutine splitting).
    static func rethrow(_ error: (any Error)?) throws {
        if let error { throw error }
    }

    static func checkSize(_ size: Int, limit: Int) throws(APIError) {
        guard size <= limit else {
            throw APIError(.contentTooLarge, "too_large", "the body is larger than \(limit) bytes (http.max_upload_bytes)")
        }
    }

    static func checkQuota(_ documents: DocumentStorage, _ account: FaxAccount, adding: Int, use: StorageUse) throws(APIError) {
        if let problem = documents.quotaProblem(account, adding: adding, use: use) {
            throw APIError(.contentTooLarge, "storage_quota", problem)
        }
    }

    static func checkOpened(_ fd: Int32) throws(APIError) {
        guard fd >= 0 else { throw APIError(.serviceUnavailable, "storage", "faxd cannot store the upload now (\(String(cString: strerror(errno))))") }
    }

    static func write(_ buffer: ByteBuffer, to fd: Int32) throws(APIError) {
        let ok = buffer.withUnsafeReadableBytes { bytes -> Bool in
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
        guard ok else { throw APIError(.serviceUnavailable, "storage", "faxd cannot store the upload now (\(String(cString: strerror(errno))))") }
    }
}
