import Engine
import Foundation
import Logging
import Store

/// The data directory belongs to faxd's user alone: faxes, uploaded documents, call recordings
/// and the database hold customers' data. The executable sets umask 077, so what faxd creates
/// is 0700/0600; at start this tightens what an earlier version or another umask left.
public enum DataPermissions {
    /// chmod 0700 on the data directory and the directories faxd keeps in it, 0600 on the
    /// database files.
    /// Failures are logged (an operator's own layout may not be ours to change), never fatal.
    public static func restrict(configuration: FaxdConfiguration, logger: Logger) {
        // The directories faxd makes, and one level below uploads (one per account): not a walk
        // of the whole tree, which for a large archive would be millions of entries at start.
        let c = configuration
        var directories = [c.dataDirectory, c.filesDirectory, c.receiveDirectory, c.transmitDirectory,
                           c.archiveDirectory, c.uploadDirectory, c.thumbnailDirectory, c.temporaryDirectory]
        let accounts = (try? FileManager.default.contentsOfDirectory(atPath: c.uploadDirectory)) ?? []
        directories += accounts.map { c.uploadDirectory + "/" + $0 }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        for directory in directories where chmod(directory, 0o700) != 0 && errno != ENOENT {
            logger.warning("cannot make a data directory private", metadata: ["directory": "\(directory)", "error": "\(String(cString: strerror(errno)))"])
        }
        guard case .sqlite(let database)? = try? configuration.storeLocation() else { return }
        for suffix in ["", "-wal", "-shm"] {
            let path = database + suffix
            if chmod(path, 0o600) != 0 && errno != ENOENT {
                logger.warning("cannot make the database private", metadata: ["file": "\(path)", "error": "\(String(cString: strerror(errno)))"])
            }
        }
    }
}

extension FaxdConfiguration {
    /// Where the database is (`store:`): the SQLite file in the data directory by default.
    public func storeLocation() throws(StoreError) -> StoreLocation {
        try StoreLocation(parsing: store, dataDirectory: dataDirectory)
    }
}
