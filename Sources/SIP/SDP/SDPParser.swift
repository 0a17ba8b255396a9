/// Parses SDP bodies as real carriers send them. RFC 4566 section 5, RFC 8866 section 5.
///
/// Tolerated: LF or CRLF line ends, trailing spaces and tabs, blank lines, a missing s= or t=, lines
/// out of canonical order, unknown line types and unknown attributes (all kept). Rejected with an
/// `SDPError` naming the line: a body not starting with v=, a missing or bad o=, a bad m= line or
/// port, a bad c= line, a bad b= or t= line, a line not of the form `<letter>=<value>`, and
/// duplicate v=, o=, s= or c= lines in one section. RFC 8866 section 5.
public enum SDPParser {
    /// Parses `text` into a `SessionDescription`. RFC 8866 section 5.
    public static func parse(_ text: String) throws(SDPError) -> SessionDescription {
        var state = State()
        var lineNumber = 0
        // Split on LF bytes: a "\r\n" pair is a single Character in Swift, so splitting the String would not work.
        for raw in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(raw)
            while let last = line.last, last == "\r" || last == " " || last == "\t" {
                line.removeLast()
            }
            if line.isEmpty { continue }
            try state.consume(String(line), number: lineNumber)
        }
        return try state.finish()
    }

    /// Parses a body given as UTF-8 bytes (invalid sequences become U+FFFD). RFC 8866 section 5.
    public static func parse(utf8 bytes: some Collection<UInt8>) throws(SDPError) -> SessionDescription {
        try parse(String(decoding: bytes, as: UTF8.self))
    }

    // MARK: Line grammar

    /// The accumulated description while lines are read. RFC 8866 section 5.
    private struct State {
        var sawVersion = false
        var version = 0
        var origin: SDPOrigin?
        var sessionName: String?
        var connection: SDPConnection?
        var bandwidths: [SDPBandwidth] = []
        var timing: SDPTiming?
        var attributes: [SDPAttribute] = []
        var otherFields: [SDPField] = []
        var media: [MediaDescription] = []
        var current: MediaDescription?

        mutating func consume(_ line: String, number: Int) throws(SDPError) {
            let chars = Array(line.prefix(2))
            guard chars.count == 2, chars[1] == "=", chars[0] != "=" else {
                if !sawVersion {
                    throw SDPError(line: number, reason: "SDP must start with a 'v=0' line, found '\(line)'")
                }
                throw SDPError(line: number, reason: "line '\(line)' is not of the form '<letter>=<value>'")
            }
            let type = chars[0]
            let value = String(line.dropFirst(2))

            guard sawVersion else {
                guard type == "v" else {
                    throw SDPError(line: number, reason: "SDP must start with a 'v=0' line, found '\(line)'")
                }
                guard isASCIIDigits(value), let parsed = Int(value) else {
                    throw SDPError(line: number, reason: "v= line '\(line)': version '\(value)' is not a number")
                }
                sawVersion = true
                version = parsed
                return
            }

            if type == "m" {
                if let current { media.append(current) }
                current = try SDPParser.mediaLine(line, value: value, number: number)
                return
            }

            if current != nil {
                try consumeMediaLevel(type: type, value: value, line: line, number: number)
            } else {
                try consumeSessionLevel(type: type, value: value, line: line, number: number)
            }
        }

        mutating func consumeSessionLevel(type: Character, value: String, line: String, number: Int) throws(SDPError) {
            switch type {
            case "v":
                throw SDPError(line: number, reason: "second v= line '\(line)'; only one is allowed")
            case "o":
                guard origin == nil else {
                    throw SDPError(line: number, reason: "second o= line '\(line)'; only one is allowed")
                }
                origin = try SDPParser.originLine(line, value: value, number: number)
            case "s":
                guard sessionName == nil else {
                    throw SDPError(line: number, reason: "second s= line '\(line)'; only one is allowed")
                }
                sessionName = value
            case "c":
                guard connection == nil else {
                    throw SDPError(line: number, reason: "second session-level c= line '\(line)'; only one is allowed")
                }
                connection = try SDPParser.connectionLine(line, value: value, number: number)
            case "b":
                bandwidths.append(try SDPParser.bandwidthLine(line, value: value, number: number))
            case "t":
                let parsed = try SDPParser.timingLine(line, value: value, number: number)
                if timing == nil {
                    timing = parsed
                } else {
                    otherFields.append(SDPField(type: "t", value: value))
                }
            case "a":
                attributes.append(SDPParser.attribute(value))
            default:
                otherFields.append(SDPField(type: type, value: value))
            }
        }

        mutating func consumeMediaLevel(type: Character, value: String, line: String, number: Int) throws(SDPError) {
            guard var media = current else { return }
            switch type {
            case "c":
                guard media.connection == nil else {
                    throw SDPError(line: number, reason: "second c= line '\(line)' in the '\(media.kind)' media section; only one is supported")
                }
                media.connection = try SDPParser.connectionLine(line, value: value, number: number)
            case "b":
                media.bandwidths.append(try SDPParser.bandwidthLine(line, value: value, number: number))
            case "a":
                media.attributes.append(SDPParser.attribute(value))
            default:
                media.otherFields.append(SDPField(type: type, value: value))
            }
            current = media
        }

        mutating func finish() throws(SDPError) -> SessionDescription {
            guard sawVersion else {
                throw SDPError(line: 0, reason: "SDP body is empty; expected it to start with 'v=0'")
            }
            guard let origin else {
                throw SDPError(line: 0, reason: "missing o= line; every SDP body needs an origin")
            }
            if let current { media.append(current) }
            for index in media.indices {
                media[index].otherFields = stableSorted(media[index].otherFields) { $0.mediaRank }
            }
            return SessionDescription(
                version: version,
                origin: origin,
                sessionName: sessionName ?? "-",
                connection: connection,
                bandwidths: bandwidths,
                timing: timing ?? .permanent,
                attributes: attributes,
                media: media,
                otherFields: stableSorted(otherFields) { $0.sessionRank }
            )
        }
    }

    // MARK: Individual lines

    private static func fields(_ value: String) -> [Substring] {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" })
    }

    /// m=<media> <port>[/<count>] <proto> <fmt> ...; zero formats are tolerated. RFC 8866 section 5.14.
    private static func mediaLine(_ line: String, value: String, number: Int) throws(SDPError) -> MediaDescription {
        let parts = fields(value)
        guard parts.count >= 3 else {
            throw SDPError(
                line: number,
                reason: "m= line '\(line)': expected '<media> <port> <proto> <fmt> ...', found \(parts.count) field(s)")
        }
        let portParts = parts[1].split(separator: "/", omittingEmptySubsequences: false)
        let portText = portParts[0]
        guard isASCIIDigits(portText) else {
            throw SDPError(line: number, reason: "m= line '\(line)': port '\(portText)' is not a number")
        }
        guard let port = UInt16(portText) else {
            throw SDPError(line: number, reason: "m= line '\(line)': port '\(portText)' is out of range 0-65535")
        }
        var portCount: Int?
        if portParts.count > 1 {
            guard portParts.count == 2, isASCIIDigits(portParts[1]), let count = Int(portParts[1]), count > 0 else {
                throw SDPError(line: number, reason: "m= line '\(line)': port count in '\(parts[1])' is not a positive number")
            }
            portCount = count
        }
        return MediaDescription(
            kind: MediaKind(rawValue: String(parts[0])),
            port: port,
            portCount: portCount,
            proto: String(parts[2]),
            formats: parts.dropFirst(3).map(String.init)
        )
    }

    /// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>. RFC 8866 section 5.2.
    private static func originLine(_ line: String, value: String, number: Int) throws(SDPError) -> SDPOrigin {
        let parts = fields(value)
        guard parts.count == 6 else {
            throw SDPError(
                line: number,
                reason: "o= line '\(line)': expected '<username> <sess-id> <sess-version> <nettype> <addrtype> <address>', found \(parts.count) field(s)")
        }
        guard isASCIIDigits(parts[1]), let id = UInt64(parts[1]) else {
            throw SDPError(line: number, reason: "o= line '\(line)': session id '\(parts[1])' is not a number below 2^64")
        }
        guard isASCIIDigits(parts[2]), let version = UInt64(parts[2]) else {
            throw SDPError(line: number, reason: "o= line '\(line)': session version '\(parts[2])' is not a number below 2^64")
        }
        return SDPOrigin(
            username: String(parts[0]), sessionID: id, sessionVersion: version,
            netType: String(parts[3]), addrType: String(parts[4]), address: String(parts[5]))
    }

    /// c=<nettype> <addrtype> <connection-address>; addrtype IP4 or IP6, any case. RFC 8866 section 5.7.
    private static func connectionLine(_ line: String, value: String, number: Int) throws(SDPError) -> SDPConnection {
        let parts = fields(value)
        guard parts.count == 3 else {
            throw SDPError(
                line: number,
                reason: "c= line '\(line)': expected '<nettype> <addrtype> <address>', found \(parts.count) field(s)")
        }
        guard let type = SDPAddressType.allCases.first(where: { asciiCaseInsensitiveEquals($0.rawValue, parts[1]) }) else {
            throw SDPError(line: number, reason: "c= line '\(line)': address type '\(parts[1])' is not IP4 or IP6")
        }
        return SDPConnection(netType: String(parts[0]), addrType: type, address: String(parts[2]))
    }

    /// b=<bwtype>:<bandwidth>. RFC 8866 section 5.8.
    private static func bandwidthLine(_ line: String, value: String, number: Int) throws(SDPError) -> SDPBandwidth {
        guard let colon = value.firstIndex(of: ":"), colon != value.startIndex else {
            throw SDPError(line: number, reason: "b= line '\(line)': expected '<bwtype>:<bandwidth>'")
        }
        let amount = value[value.index(after: colon)...]
        guard isASCIIDigits(amount), let parsed = UInt64(amount) else {
            throw SDPError(line: number, reason: "b= line '\(line)': bandwidth '\(amount)' is not a number")
        }
        return SDPBandwidth(type: String(value[..<colon]), value: parsed)
    }

    /// t=<start-time> <stop-time>. RFC 8866 section 5.9.
    private static func timingLine(_ line: String, value: String, number: Int) throws(SDPError) -> SDPTiming {
        let parts = fields(value)
        guard parts.count == 2, isASCIIDigits(parts[0]), isASCIIDigits(parts[1]),
              let start = UInt64(parts[0]), let stop = UInt64(parts[1]) else {
            throw SDPError(line: number, reason: "t= line '\(line)': expected '<start> <stop>' as two numbers")
        }
        return SDPTiming(start: start, stop: stop)
    }

    /// a=<name>[:<value>], split at the first ':'. RFC 8866 section 5.13.
    private static func attribute(_ value: String) -> SDPAttribute {
        guard let colon = value.firstIndex(of: ":") else { return SDPAttribute(name: value) }
        return SDPAttribute(name: String(value[..<colon]), value: String(value[value.index(after: colon)...]))
    }
}

/// Sorts by `rank`, keeping the original order among equal ranks (the standard sort does not promise stability). RFC 8866 section 5.
private func stableSorted(_ fields: [SDPField], by rank: (SDPField) -> Int) -> [SDPField] {
    fields.enumerated()
        .sorted { rank($0.element) != rank($1.element) ? rank($0.element) < rank($1.element) : $0.offset < $1.offset }
        .map(\.element)
}
