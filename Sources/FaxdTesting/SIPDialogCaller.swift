import Foundation

/// One caller's dialog on a raw UDP socket, sent straight to a faxd or through a proxy
/// (Kamailio): INVITE, then ACK, re-INVITE and BYE to the 200's Contact along the route set its
/// Record-Route built (RFC 3261 section 12.1.2), as a UA would; a refused INVITE is ACKed on
/// its own transaction (section 17.1.1.3).
public final class SIPDialogCaller: @unchecked Sendable {
    public let client: SIPDatagramClient
    public let callID = "dialog-\(UInt32.random(in: 0...UInt32.max))"
    /// The initial Request-URI and To.
    public let requestURI: String
    /// Where the caller says its media is (nothing listens there: faxd's CED goes nowhere).
    public var mediaPort = 40000
    /// The 200's Contact: where requests inside the dialog go.
    public private(set) var remoteTarget: String?
    /// Route headers for requests inside the dialog: the 200's Record-Route, reversed.
    public private(set) var routeSet: [String] = []
    private var toTag = ""
    private var cseq = 0
    private var buffered: [String] = []

    /// A caller sending every request to 127.0.0.1:`port` (the node, or the proxy before it),
    /// calling `number` there.
    public init(via port: Int, number: String) throws {
        client = try SIPDatagramClient(target: port)
        requestURI = "sip:\(number)@127.0.0.1:\(port)"
    }

    /// The port of the 200's Contact: which node answered.
    public var answeringPort: Int? { remoteTarget.flatMap(Self.port) }

    /// An audio offer (PCMU) at `mediaPort`.
    public func audioSDP(_ version: Int = 1) -> String {
        "v=0\r\no=caller 1 \(version) IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(mediaPort) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    }

    /// A T.38 offer (UDPTL, redundancy) at `mediaPort`, for the re-INVITE that switches a call to T.38.
    public func imageSDP(_ version: Int = 2) -> String {
        "v=0\r\no=caller 1 \(version) IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=image \(mediaPort) udptl t38\r\n"
            + "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxDatagram:200\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"
    }

    /// Sends an INVITE (a re-INVITE once the dialog is up) and returns its final response, ACKed
    /// (a 2xx in the dialog, anything else on its transaction); nil when none came within `wait` s.
    public func invite(sdp: String, wait: Double = 30) async throws -> String? {
        cseq += 1
        let number = cseq
        client.send(request("INVITE", cseq: number, sdp: sdp))
        guard let final = try await response(cseq: number, "INVITE", wait: wait) else { return nil }
        let status = SIPWire.statuses(final).first ?? 0
        if (200..<300).contains(status) {
            if toTag.isEmpty {
                toTag = Self.header(final, "To").flatMap { $0.components(separatedBy: "tag=").last } ?? ""
                remoteTarget = Self.header(final, "Contact").flatMap(Self.uri)
                routeSet = Self.headers(final, "Record-Route").flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.reversed()
            }
            client.send(request("ACK", cseq: number))
        } else {
            // The ACK of a refusal: the INVITE's branch and Request-URI, the response's To.
            let to = Self.header(final, "To") ?? "<\(requestURI)>"
            client.send(Array(("ACK \(requestURI) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(client.localPort);rport;branch=\(branch(number, "INVITE"))\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:15550001111@127.0.0.1>;tag=caller\r\nTo: \(to)\r\nCall-ID: \(callID)\r\n"
                + "CSeq: \(number) ACK\r\nContent-Length: 0\r\n\r\n").utf8))
        }
        return final
    }

    /// A re-INVITE that the far end may refuse for a moment: after 500 with Retry-After (its
    /// INVITE transaction still waits for our ACK, which a proxy's other worker may not have
    /// passed on yet: RFC 3261 section 14.2) or 491, sent again after the wait it asks for (up to
    /// `attempts` times), as a UA does.
    public func reinvite(sdp: String, attempts: Int = 3) async throws -> String? {
        var last: String?
        for _ in 0..<attempts {
            last = try await invite(sdp: sdp)
            guard let answer = last, let status = SIPWire.statuses(answer).first, status == 491 || status == 500,
                  let wait = Self.header(answer, "Retry-After").flatMap({ Int($0.prefix { $0.isNumber }) }) ?? (status == 491 ? 2 : nil) else { break }
            try await Task.sleep(for: .seconds(min(wait, 5)))
        }
        return last
    }

    /// Sends BYE in the dialog; its final response, nil when none came within `wait` s.
    public func bye(wait: Double = 30) async throws -> String? { try await send("BYE", wait: wait) }

    /// Sends a bodiless request (BYE, OPTIONS) in the dialog; its final response, nil when none
    /// came within `wait` s.
    public func send(_ method: String, wait: Double = 30) async throws -> String? {
        cseq += 1
        client.send(request(method, cseq: cseq))
        return try await response(cseq: cseq, method, wait: wait)
    }

    /// An OPTIONS outside any dialog to whatever `client` targets; its final response.
    public static func options(to port: Int, wait: Double = 30) async throws -> String? {
        let caller = try SIPDialogCaller(via: port, number: "")
        caller.cseq = 1
        caller.client.send(caller.request("OPTIONS", cseq: 1, uri: "sip:127.0.0.1:\(port)"))
        return try await caller.response(cseq: 1, "OPTIONS", wait: wait)
    }

    private func branch(_ cseq: Int, _ method: String) -> String { "z9hG4bK-\(callID)-\(cseq)-\(method)" }

    private func request(_ method: String, cseq: Int, sdp: String? = nil, uri: String? = nil) -> [UInt8] {
        let inDialog = !toTag.isEmpty
        var text = "\(method) \(uri ?? (inDialog ? remoteTarget ?? requestURI : requestURI)) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:\(client.localPort);rport;branch=\(branch(cseq, method))\r\n"
            + "Max-Forwards: 70\r\nFrom: <sip:15550001111@127.0.0.1>;tag=caller\r\nTo: <\(uri ?? requestURI)>\(inDialog ? ";tag=\(toTag)" : "")\r\n"
            + "Call-ID: \(callID)\r\nCSeq: \(cseq) \(method)\r\nContact: <sip:15550001111@127.0.0.1:\(client.localPort)>\r\n"
        if inDialog && !routeSet.isEmpty { text += "Route: \(routeSet.joined(separator: ", "))\r\n" }
        if let sdp {
            text += "Content-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
        } else {
            text += "Content-Length: 0\r\n\r\n"
        }
        return Array(text.utf8)
    }

    /// The first final response to `cseq`/`method`; provisional ones and requests are dropped.
    private func response(cseq: Int, _ method: String, wait: Double) async throws -> String? {
        let key = "CSeq: \(cseq) \(method)\r\n"
        let deadline = Date().addingTimeInterval(wait)
        while true {
            if let i = buffered.firstIndex(where: { $0.contains(key) && (SIPWire.statuses($0).first ?? 0) >= 200 }) {
                return buffered.remove(at: i)
            }
            guard Date() < deadline else { return nil }
            buffered += try await client.replies(wait: 0.05).filter { $0.hasPrefix("SIP/2.0 ") }
        }
    }

    /// The value of the first `name` header in a message.
    public static func header(_ message: String, _ name: String) -> String? { headers(message, name).first }

    /// The values of every `name` header in a message's head.
    public static func headers(_ message: String, _ name: String) -> [String] {
        let head = message.components(separatedBy: "\r\n\r\n").first ?? message
        return head.components(separatedBy: "\r\n").compactMap { line in
            guard line.lowercased().hasPrefix(name.lowercased() + ":") else { return nil }
            return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
    }

    /// The URI inside a name-addr ("<sip:...>;params"), or the value itself.
    static func uri(_ value: String) -> String {
        guard let open = value.firstIndex(of: "<"), let close = value.firstIndex(of: ">"), open < close else { return value }
        return String(value[value.index(after: open)..<close])
    }

    /// The port of a SIP URI's host part ("sip:user@127.0.0.1:5071;transport=udp" -> 5071).
    static func port(_ uri: String) -> Int? {
        let hostPort = uri.split(separator: "@").last.map(String.init) ?? uri
        let beforeParams = hostPort.split(separator: ";").first.map(String.init) ?? hostPort
        return beforeParams.split(separator: ":").last.flatMap { Int($0) }
    }
}
