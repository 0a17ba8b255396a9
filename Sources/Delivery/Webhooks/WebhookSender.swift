import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

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
    private let client: HTTPClient
    private let timeout: TimeAmount
    private let userAgent: String

    public init(timeoutSeconds: Int, userAgent: String) {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(Int64(min(timeoutSeconds, 5))),
                                                                    read: .seconds(Int64(timeoutSeconds))))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        timeout = .seconds(Int64(timeoutSeconds))
        self.userAgent = userAgent
    }

    /// Delivers `body` to `url` signed with `secret`; `id` is the event's stable id.
    public func deliver(url: String, body: [UInt8], id: String, secret: String, now: Date = Date()) async -> DeliveryResult {
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let d = ContinuousClock.now - started
            return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
        }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              parsed.host != nil else {
            return DeliveryResult(statusCode: nil, error: "'\(url)' is not an http(s) URL", milliseconds: 0)
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
            let response = try await client.execute(request, timeout: timeout)
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

    public func shutdown() async {
        try? await client.shutdown()
    }
}
