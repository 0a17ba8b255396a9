import Foundation
import Logging
import Synchronization

/// Writes one line per log record to stderr: `TIME LEVEL LABEL: message key=value ...`.
/// Records never come from a media tick (shards do not log).
public struct LineLogHandler: LogHandler {
    private static let lock = Mutex<Void>(())
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(Date().formatted(.iso8601)) \(event.level) \(label): \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() {
            let value = "\(merged[key]!)"
            line += value.contains(" ") && !value.hasPrefix("{") ? " \(key)=\"\(value)\"" : " \(key)=\(value)"
        }
        line += "\n"
        Self.lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }
}
