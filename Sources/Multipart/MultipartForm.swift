import Foundation

/// A multipart/form-data body (RFC 7578) split into its parts. Only what uploads need: each
/// part's name, filename, content type and bytes; headers are matched case-insensitively.
public struct MultipartForm: Sendable {
    public struct Part: Sendable {
        public var name: String
        public var filename: String?
        public var contentType: String?
        public var data: [UInt8]
    }

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
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Part] = []
        guard var position = Self.find(delimiter, in: body, from: 0) else { throw MultipartError("no part starts with the boundary") }
        position += delimiter.count
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if body[position...].starts(with: [0x2D, 0x2D]) { break }
            guard body[position...].starts(with: [0x0D, 0x0A]) else { throw MultipartError("a boundary is not followed by a line break") }
            position += 2
            guard let headerEnd = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: position) else {
                throw MultipartError("a part's headers do not end")
            }
            let headerText = String(decoding: body[position..<headerEnd], as: UTF8.self)
            position = headerEnd + 4
            guard let next = Self.find([0x0D, 0x0A] + delimiter, in: body, from: position) else {
                throw MultipartError("a part is not closed by the boundary")
            }
            var part = Part(name: "", filename: nil, contentType: nil, data: Array(body[position..<next]))
            for line in headerText.components(separatedBy: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if name == "content-type" { part.contentType = value }
                if name == "content-disposition" {
                    part.name = Self.parameter("name", in: value) ?? ""
                    part.filename = Self.parameter("filename", in: value)
                }
            }
            guard !part.name.isEmpty else { throw MultipartError("a part has no name in Content-Disposition") }
            parts.append(part)
            position = next + 2 + delimiter.count
            guard position <= body.count else { throw MultipartError("the body ends inside a boundary") }
            if position == body.count { throw MultipartError("the closing boundary is missing") }
        }
        self.parts = parts
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

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// A malformed multipart body.
public struct MultipartError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = "multipart body: " + description }
}

