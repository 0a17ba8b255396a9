import Foundation

/// A multipart/form-data body (RFC 7578) split into its parts. Only what uploads need: each
/// part's name, filename, content type and bytes; headers are matched case-insensitively.
/// For bodies spooled to a file, `MultipartFile` finds the same parts without loading them.
public struct MultipartForm: Sendable {
    /// One part with its bytes in memory.
    public struct Part: Sendable {
        /// The `name` of its Content-Disposition.
        public var name: String
        /// The `filename` of its Content-Disposition, if any (file parts have one).
        public var filename: String?
        /// Its Content-Type header, if any.
        public var contentType: String?
        /// Its content.
        public var data: [UInt8]
    }

    /// The parts in body order.
    public var parts: [Part]

    /// The first part called `name`.
    public func part(_ name: String) -> Part? { parts.first { $0.name == name } }

    /// The text of part `name`.
    public func text(_ name: String) -> String? { part(name).map { String(decoding: $0.data, as: UTF8.self) } }

    /// The boundary parameter of a `multipart/form-data; boundary=...` content type.
    public static func boundary(contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty || value.count > 200 ? nil : value
            }
        }
        return nil
    }

    /// Parses `body`; throws `MultipartError` naming what is malformed.
    public init(body: [UInt8], boundary: String) throws(MultipartError) {
        let source = MemorySource(bytes: body)
        parts = try MultipartScanner.scan(source, boundary: boundary).map {
            Part(name: $0.name, filename: $0.filename, contentType: $0.contentType, data: source.read($0.range))
        }
    }

    static func parameter(_ name: String, in value: String) -> String? {
        for item in value.split(separator: ";").dropFirst() {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == name {
                var text = pair[1]
                if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = String(text.dropFirst().dropLast()) }
                return text
            }
        }
        return nil
    }
}

/// A multipart/form-data body in a file (an upload spooled to disk as it arrived), parsed with a
/// small fixed buffer: the parts are byte ranges of the file, read or copied on demand, so a
/// 20 MB document never sits in the heap.
public struct MultipartFile: Sendable {
    /// One part: its headers and where its content lies in the file.
    public struct Part: Sendable {
        /// The `name` of its Content-Disposition.
        public var name: String
        /// The `filename` of its Content-Disposition, if any.
        public var filename: String?
        /// Its Content-Type header, if any.
        public var contentType: String?
        /// Its content's byte range in the file.
        public var range: Range<Int>
    }

    /// The file.
    public let path: String
    /// The parts in body order.
    public let parts: [Part]

    /// Parses the body in `path`; throws `MultipartError` naming what is malformed or why the
    /// file cannot be read.
    public init(path: String, boundary: String) throws(MultipartError) {
        guard let source = FileSource(path: path) else { throw MultipartError("the spooled body cannot be read") }
        self.path = path
        parts = try MultipartScanner.scan(source, boundary: boundary).map {
            Part(name: $0.name, filename: $0.filename, contentType: $0.contentType, range: $0.range)
        }
    }

    /// The first part called `name`.
    public func part(_ name: String) -> Part? { parts.first { $0.name == name } }

    /// The bytes of `part`, at most `limit` of them (for text fields); nil when it is longer or unreadable.
    public func bytes(of part: Part, limit: Int) -> [UInt8]? {
        guard part.range.count <= limit, let source = FileSource(path: path) else { return nil }
        return source.read(part.range)
    }

    /// The bytes of the file in `range` (clamped to its end); empty when unreadable.
    public func bytes(in range: Range<Int>) -> [UInt8] {
        FileSource(path: path)?.read(range) ?? []
    }

    /// Copies `part`'s content into a new file `destination` in 256 KiB pieces; throws naming what failed.
    public func copy(_ part: Part, to destination: String) throws(MultipartError) {
        guard let source = FileSource(path: path) else { throw MultipartError("the spooled body cannot be read") }
        let out = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw MultipartError("cannot create the document file (\(String(cString: strerror(errno))))") }
        defer { close(out) }
        var position = part.range.lowerBound
        while position < part.range.upperBound {
            let chunk = source.read(position..<min(part.range.upperBound, position + 256 * 1024))
            guard !chunk.isEmpty else { throw MultipartError("the spooled body ended early") }
            let written = chunk.withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
            guard written == chunk.count else { throw MultipartError("cannot write the document file (\(String(cString: strerror(errno))))") }
            position += chunk.count
        }
    }
}

/// A malformed multipart body.
public struct MultipartError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, starting with "multipart body:".
    public var description: String
    init(_ description: String) { self.description = "multipart body: " + description }
}

/// Random access to a body's bytes.
protocol ByteSource {
    /// Bytes in all.
    var count: Int { get }
    /// The bytes in `range` (clamped to the end).
    func read(_ range: Range<Int>) -> [UInt8]
}

/// A body in memory.
struct MemorySource: ByteSource {
    let bytes: [UInt8]
    var count: Int { bytes.count }
    func read(_ range: Range<Int>) -> [UInt8] { Array(bytes[range.clamped(to: 0..<bytes.count)]) }
}

/// A body in a file, read with pread(2); the descriptor closes with the last copy.
final class FileSource: ByteSource, @unchecked Sendable {
    let fd: Int32
    let count: Int

    init?(path: String) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            return nil
        }
        count = Int(info.st_size)
    }

    deinit { close(fd) }

    func read(_ range: Range<Int>) -> [UInt8] {
        let range = range.clamped(to: 0..<count)
        guard !range.isEmpty else { return [] }
        var buffer = [UInt8](repeating: 0, count: range.count)
        var done = 0
        while done < range.count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, range.count - done, off_t(range.lowerBound + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        return Array(buffer[0..<done])
    }
}

/// The multipart grammar over any `ByteSource`, scanning with a bounded window: the memory and
/// the file parser are one parser (the memory one is fuzzed).
enum MultipartScanner {
    struct Found {
        var name: String
        var filename: String?
        var contentType: String?
        var range: Range<Int>
    }

    /// Part headers longer than this are refused (they are a few lines).
    static let maxHeaderBytes = 16 * 1024

    static func scan(_ body: some ByteSource, boundary: String) throws(MultipartError) -> [Found] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Found] = []
        guard var position = find(delimiter, in: body, from: 0) else { throw MultipartError("no part starts with the boundary") }
        position += delimiter.count
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            let next2 = body.read(position..<(position + 2))
            if next2 == [0x2D, 0x2D] { break }
            guard next2 == [0x0D, 0x0A] else { throw MultipartError("a boundary is not followed by a line break") }
            position += 2
            let window = body.read(position..<(position + maxHeaderBytes + 4))
            guard let headerEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: MemorySource(bytes: window), from: 0) else {
                throw MultipartError("a part's headers do not end")
            }
            let headerText = String(decoding: window[0..<headerEnd], as: UTF8.self)
            position += headerEnd + 4
            guard let next = find([0x0D, 0x0A] + delimiter, in: body, from: position) else {
                throw MultipartError("a part is not closed by the boundary")
            }
            var part = Found(name: "", filename: nil, contentType: nil, range: position..<next)
            for line in headerText.components(separatedBy: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if name == "content-type" { part.contentType = value }
                if name == "content-disposition" {
                    part.name = MultipartForm.parameter("name", in: value) ?? ""
                    part.filename = MultipartForm.parameter("filename", in: value)
                }
            }
            guard !part.name.isEmpty else { throw MultipartError("a part has no name in Content-Disposition") }
            parts.append(part)
            position = next + 2 + delimiter.count
            guard position <= body.count else { throw MultipartError("the body ends inside a boundary") }
            if position == body.count { throw MultipartError("the closing boundary is missing") }
        }
        return parts
    }

    /// The first `needle` at or after `start`, reading 256 KiB windows that overlap by the needle's length.
    static func find(_ needle: [UInt8], in body: some ByteSource, from start: Int) -> Int? {
        guard !needle.isEmpty else { return nil }
        let window = 256 * 1024
        var offset = start
        while offset + needle.count <= body.count {
            let chunk = body.read(offset..<min(body.count, offset + window + needle.count - 1))
            if let hit = search(needle, in: chunk) { return offset + hit }
            offset += window
        }
        return nil
    }

    /// memchr for the first byte, memcmp for the rest: a debug build scans 20 MB in milliseconds.
    static func search(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return haystack.withUnsafeBytes { hay -> Int? in
            needle.withUnsafeBytes { pin -> Int? in
                guard let base = hay.baseAddress, let first = pin.baseAddress else { return nil }
                let last = hay.count - needle.count
                var i = 0
                while i <= last {
                    guard let hit = memchr(base + i, Int32(needle[0]), last - i + 1) else { return nil }
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + at, first, needle.count) == 0 { return at }
                    i = at + 1
                }
                return nil
            }
        }
    }
}
