import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// What one delivery attempt came to.
public struct DeliveryResult: Sendable, Equatable {
    /// HTTP status, or the SMTP reply code that failed.
    public var statusCode: Int?
    /// Nil on success; otherwise what went wrong, for the delivery log.
    public var error: String?
    public var milliseconds: Int

    public var succeeded: Bool { error == nil }
}

/// POSTs signed webhook payloads with AsyncHTTPClient: no redirects (a 3xx is a failure, so a
/// payload never follows a redirect to another host), a timeout for the whole request, a 2xx
/// answer counts as delivered.
public final class WebhookSender: Sendable {
    /// Made at the first delivery: an HTTPClient must be shut down before it goes away, and a
    /// service that fails to start (its SIP port taken, say) never delivers nor shuts down.
    private let client = Mutex<HTTPClient?>(nil)
    private let configuration: HTTPClient.Configuration
    private let timeout: TimeAmount
    private let userAgent: String
    private let allowPrivate: Bool

    public init(timeoutSeconds: Int, userAgent: String, allowPrivateTargets: Bool = false) {
        allowPrivate = allowPrivateTargets
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(Int64(min(timeoutSeconds, 5))),
                                                                    read: .seconds(Int64(timeoutSeconds))))
        configuration.decompression = .disabled
        self.configuration = configuration
        timeout = .seconds(Int64(timeoutSeconds))
        self.userAgent = userAgent
    }

    private var httpClient: HTTPClient {
        client.withLock { existing in
            if let existing { return existing }
            let made = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            existing = made
            return made
        }
    }

    /// Delivers `body` to `url` signed with `secret`; `id` is the event's stable id.
    public func deliver(url: String, body: [UInt8], id: String, secret: String, now: Date = Date()) async -> DeliveryResult {
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let d = ContinuousClock.now - started
            return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
        }
        guard let parsed = Self.endpoint(url) else {
            return DeliveryResult(statusCode: nil, error: "'\(url)' is not an http(s) URL", milliseconds: 0)
        }
        if !allowPrivate, let host = parsed.host,
           let address = Self.internalAddress(of: host, port: parsed.port ?? (parsed.scheme?.lowercased() == "https" ? 443 : 80)) {
            return DeliveryResult(statusCode: nil,
                                  error: "\(host) resolves to \(address), an internal address; not delivered (delivery.allow_private_targets)",
                                  milliseconds: elapsed())
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: userAgent)
        for (name, value) in WebhookSignature.headers(id: id, timestamp: Int(now.timeIntervalSince1970), body: body, secret: secret) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await httpClient.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let code = Int(response.status.code)
            if (200..<300).contains(code) { return DeliveryResult(statusCode: code, error: nil, milliseconds: elapsed()) }
            let what = (300..<400).contains(code) ? "redirect to \(response.headers.first(name: "Location") ?? "?") not followed"
                                                  : "answered \(code) \(response.status.reasonPhrase)"
            return DeliveryResult(statusCode: code, error: what, milliseconds: elapsed())
        } catch {
            return DeliveryResult(statusCode: nil, error: "\(error)", milliseconds: elapsed())
        }
    }

    /// `url` when it can be a webhook endpoint: http or https with a host, at most 2000 characters.
    /// The one check the CLI, the API and each delivery apply.
    public static func endpoint(_ url: String) -> URL? {
        guard url.count <= 2000, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
              parsed.host?.isEmpty == false else { return nil }
        return parsed
    }

    /// The first loopback, private, link-local, unspecified or multicast address `host` resolves
    /// to, if any (getaddrinfo). Checked before every delivery, so a name that later resolves
    /// inward is caught too (the connection itself resolves again: a fast rebinding is not).
    static func internalAddress(of host: String, port: Int) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard getaddrinfo(name, String(port), &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(first) }
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let entry = node {
            if let sockaddr = entry.pointee.ai_addr {
                if entry.pointee.ai_family == AF_INET {
                    let v4 = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                    let a = v4 >> 24, b = (v4 >> 16) & 0xff
                    let isInternal = a == 0 || a == 10 || a == 127 || (a == 169 && b == 254) || (a == 172 && (16...31).contains(b))
                        || (a == 192 && b == 168) || (a == 100 && (64...127).contains(b)) || a >= 224
                    if isInternal { return "\(a).\(b).\((v4 >> 8) & 0xff).\(v4 & 0xff)" }
                } else if entry.pointee.ai_family == AF_INET6 {
                    let bytes = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                    }
                    let loopback = bytes.prefix(15).allSatisfy { $0 == 0 } && (bytes[15] == 1 || bytes[15] == 0)
                    let mapped = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
                    if loopback || mapped || bytes[0] & 0xfe == 0xfc || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80) || bytes[0] == 0xff {
                        return "IPv6 \(bytes.map { String(format: "%02x", $0) }.joined())"
                    }
                }
            }
            node = entry.pointee.ai_next
        }
        return nil
    }

    public func shutdown() async {
        guard let made = client.withLock({ $0 }) else { return }
        try? await made.shutdown()
    }
}
