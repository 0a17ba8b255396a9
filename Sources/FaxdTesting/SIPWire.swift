import Foundation
import Glibc
import Media

/// Raw SIP bytes on the wire, for tests that send what no SIP stack would: RFC 4475's torture
/// messages, floods, oversized and half-sent messages. Messages are bytes, not strings (some carry
/// NULs and binary bodies); text views use ISO 8859-1 so every byte maps to one character.
public enum SIPWire {
    /// A message from fixtures/sip, byte-exact.
    public static func fixture(_ name: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: Fixtures.path("sip/rfc4475/\(name).sip")) ?? Data())
    }

    /// Points the sent-by of the first Via at `sentBy` ("127.0.0.1:PORT") and, when given, sets its
    /// transport, leaving every other byte alone: the RFC's messages name hosts like 192.0.2.1 in
    /// their Via, and a response goes where the Via says (RFC 3261 section 18.2.2). Messages whose
    /// Via cannot be found (malformed on purpose) come back unchanged.
    public static func pointingTopVia(_ message: [UInt8], at sentBy: String, transport: String? = nil) -> [UInt8] {
        let text = latin1(message)
        let headerEnd = text.range(of: "\r\n\r\n").map { text.distance(from: text.startIndex, to: $0.lowerBound) } ?? text.count
        // Via or v, LWS (folding included) around '/' in the sent-protocol, then LWS, then sent-by.
        let pattern = #"(?im)^(?:via|v)[ \t]*:[ \t\r\n]*SIP[ \t\r\n]*/[ \t\r\n]*[0-9.]+[ \t\r\n]*/[ \t\r\n]*([A-Za-z]+)[ \t\r\n]+([^;,\s]+)"#
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: text, range: NSRange(location: 0, length: headerEnd)),
              let by = Range(match.range(at: 2), in: text), let proto = Range(match.range(at: 1), in: text) else { return message }
        var result = text
        result.replaceSubrange(by, with: sentBy)
        if let transport { result.replaceSubrange(proto, with: transport) }
        return bytes(result)
    }

    /// The status codes of every response in `text` (a datagram or a stream's worth).
    public static func statuses(_ text: String) -> [Int] {
        text.components(separatedBy: "\r\n").compactMap { line in
            guard line.hasPrefix("SIP/2.0 ") else { return nil }
            return Int(line.dropFirst(8).prefix(3))
        }
    }

    /// A request from a test socket on 127.0.0.1:`port` over `transport`: Via with a branch made
    /// from the Call-ID, From with a tag, Contact, and the body with its Content-Length.
    public static func request(_ method: String, _ uri: String, port: UInt16, transport: String = "UDP", callID: String,
                               cseq: Int = 1, to: String? = nil, headers: String = "",
                               contentType: String = "application/sdp", body: String? = nil) -> [UInt8] {
        var text = "\(method) \(uri) SIP/2.0\r\nVia: SIP/2.0/\(transport) 127.0.0.1:\(port);branch=z9hG4bK-\(callID)-\(cseq)\r\n"
            + "Max-Forwards: 70\r\nFrom: <sip:15550001111@127.0.0.1>;tag=\(callID)\r\nTo: \(to ?? "<\(uri)>")\r\n"
            + "Call-ID: \(callID)\r\nCSeq: \(cseq) \(method)\r\nContact: <sip:15550001111@127.0.0.1:\(port)>\r\n\(headers)"
        if let body {
            text += "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            text += "Content-Length: 0\r\n\r\n"
        }
        return Array(text.utf8)
    }

    public static func latin1(_ bytes: [UInt8]) -> String { String(bytes.map { Character(Unicode.Scalar($0)) }) }
    public static func bytes(_ text: String) -> [UInt8] { text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } }
}

/// One UDP socket sending raw datagrams to a SIP port and reading whatever comes back, up to
/// 64 KiB a datagram (a response to a long request can exceed any media MTU).
public final class SIPDatagramClient: @unchecked Sendable {
    private let fd: Int32
    public let localPort: UInt16
    private var target: sockaddr_in

    public init(target port: Int) throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &local.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        self.fd = fd
        guard fd >= 0, bound else {
            let e = errno
            Glibc.close(fd)
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "UDP socket: \(String(cString: strerror(e)))"])
        }
        localPort = UInt16(bigEndian: local.sin_port)
        target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &target.sin_addr)
        retarget(port)
    }

    deinit { Glibc.close(fd) }

    /// Sends to another port on 127.0.0.1 from now on.
    public func retarget(_ port: Int) { target.sin_port = UInt16(port).bigEndian }

    /// The last request sent, until anything comes back: resent on RFC 3261's timer A (0.5 s,
    /// doubling to 4 s) as a UDP client must, so one datagram lost or sent before the server's
    /// socket was up on a busy machine is not a failed test. ACKs are never resent.
    private var pending: (bytes: [UInt8], next: Date, interval: Double)?

    public func send(_ bytes: [UInt8]) {
        pending = bytes.starts(with: Array("ACK ".utf8)) || bytes.starts(with: Array("SIP/2.0".utf8)) ? nil : (bytes, Date().addingTimeInterval(0.5), 0.5)
        transmit(bytes)
    }

    private func transmit(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// One waiting datagram, nil when none.
    public func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? Array(buffer[0..<n]) : nil
    }

    /// Replies that arrive within `wait` seconds, or until `done` says the ones so far suffice.
    /// Waits `wait` seconds of wall time AND of this task's own turns (`TestClock.waited`): early
    /// in a loaded parallel suite the cooperative pool can run nothing for 15 s, and the replies
    /// that arrived meanwhile sat unread in the socket while the wall clock ran out.
    public func replies(wait: Double, until done: ([String]) -> Bool = { _ in false }) async throws -> [String] {
        var replies: [String] = []
        var clock = TestClock(wait)
        while !clock.done && !done(replies) {
            if let datagram = receive() {
                replies.append(SIPWire.latin1(datagram))
                pending = nil
            } else {
                if let retry = pending, Date() >= retry.next {
                    transmit(retry.bytes)
                    let interval = min(retry.interval * 2, 4)
                    pending = (retry.bytes, Date().addingTimeInterval(interval), interval)
                }
                try await clock.pause()
            }
        }
        return replies
    }
}

/// A test's timeout that counts only time the test itself got to run: it ends once `seconds` of
/// wall time have passed and the waiting task has also been scheduled often enough to have waited
/// that long in 10 ms steps at a fifth of the pace (a starved task's wall clock runs on; its turns
/// do not).
public struct TestClock: Sendable {
    private let deadline: Date
    private let turnsNeeded: Int
    private var turns = 0

    public init(_ seconds: Double) {
        deadline = Date().addingTimeInterval(seconds)
        turnsNeeded = Int(seconds / 0.05)
    }

    public var done: Bool { Date() >= deadline && turns >= turnsNeeded }

    /// Sleeps 10 ms and counts a turn.
    public mutating func pause() async throws {
        turns += 1
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// One TCP connection to a SIP port: raw bytes out, the byte stream back, and whether the far
/// end closed it.
public final class SIPStreamClient: @unchecked Sendable {
    private var fd: Int32
    public private(set) var closedByPeer = false
    public private(set) var received: [UInt8] = []

    public init(target: Int) throws {
        fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(target).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "connect to 127.0.0.1:\(target): \(String(cString: strerror(e)))"])
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { close() }

    /// The local port, to find this connection in /proc/net/tcp.
    public var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Writes all of `bytes` (blocking briefly when the peer's window is full); false when the
    /// peer has closed or reset the connection.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                guard poll(&p, 1, 2000) > 0 else { return false }
            } else {
                return false
            }
        }
        return true
    }

    /// Reads for up to `wait` seconds, stopping early once `done` holds for the text so far or the
    /// peer closed. Returns everything received on this connection so far.
    @discardableResult
    public func read(wait: Double, until done: (String) -> Bool = { _ in false }) async throws -> String {
        var clock = TestClock(wait)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !clock.done && !closedByPeer && !done(SIPWire.latin1(received)) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                received += buffer[0..<n]
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                closedByPeer = true
            } else {
                try await clock.pause()
            }
        }
        return SIPWire.latin1(received)
    }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}

/// TCP connections on a local port as the kernel sees them (/proc/net/tcp and tcp6), whatever
/// process holds them: a connection faxd forgot shows up here.
public enum TCPConnections {
    /// Connections on local `port` that a process still holds open: ESTABLISHED, or CLOSE_WAIT
    /// (the peer closed, the holder has not). TIME_WAIT and FIN_WAIT belong to the kernel.
    public static func open(localPort port: Int) -> Int {
        states(localPort: port).filter { $0 == "01" || $0 == "08" }.count
    }

    /// The state (hex, as in procfs) of every connection, listeners left out, on local `port`.
    public static func states(localPort port: Int) -> [String] {
        ["/proc/net/tcp", "/proc/net/tcp6"].flatMap { path -> [String] in
            guard let text = readAll(path) else { return [] }
            return text.split(separator: "\n").dropFirst().compactMap { line in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 3, let local = fields[1].split(separator: ":").last,
                      Int(local, radix: 16) == port, fields[3] != "0A" else { return nil }  // 0A = LISTEN
                return String(fields[3])
            }
        }
    }

    /// procfs files report size 0: read to EOF.
    static func readAll(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
