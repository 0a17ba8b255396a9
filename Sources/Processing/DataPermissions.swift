import Engine
import Foundation
import Logging

/// The data directory belongs to faxd's user alone: faxes, uploaded documents, call recordings
/// and the database hold customers' data. The executable sets umask 077, so what faxd creates
/// is 0700/0600; at start this tightens what an earlier version or another umask left.
public enum DataPermissions {
    /// chmod 0700 on the data directory and its fax_files tree, 0600 on the database files.
    /// Failures are logged (an operator's own layout may not be ours to change), never fatal.
    public static func restrict(configuration: FaxdConfiguration, logger: Logger) {
        let root = configuration.dataDirectory
        var directories = [root]
        let files = root + "/fax_files"
        if let walker = FileManager.default.enumerator(atPath: files) {
            directories.append(files)
            while let entry = walker.nextObject() as? String {
                if (walker.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { directories.append(files + "/" + entry) }
            }
        }
        for directory in directories where chmod(directory, 0o700) != 0 && errno != ENOENT {
            logger.warning("cannot make a data directory private", metadata: ["directory": "\(directory)", "error": "\(String(cString: strerror(errno)))"])
        }
        for suffix in ["", "-wal", "-shm"] {
            let path = configuration.databasePath + suffix
            if chmod(path, 0o600) != 0 && errno != ENOENT {
                logger.warning("cannot make the database private", metadata: ["file": "\(path)", "error": "\(String(cString: strerror(errno)))"])
            }
        }
    }
}
