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
    /// How long the attempt took.
    public var milliseconds: Int

    /// True when the receiver took it.
    public var succeeded: Bool { error == nil }
}

/// POSTs signed webhook payloads with AsyncHTTPClient: no redirects (a 3xx is a failure, so a
/// payload never follows a redirect to another host), a timeout for the whole request, a 2xx
/// answer counts as delivered; the connection goes to the address that was checked
/// (`WebhookTarget`), and URLs in its errors are redacted (`WebhookURL`).
public final class WebhookSender: Sendable {
    /// Made at the first delivery: an HTTPClient must be shut down before it goes away, and a
    /// service that fails to start (its SIP port taken, say) never delivers nor shuts down.
    private let client = Mutex<HTTPClient?>(nil)
    private let configuration: HTTPClient.Configuration
    private let timeout: TimeAmount
    private let userAgent: String
    private let allowPrivate: Bool
    /// Resolves and checks a host (`WebhookTarget.resolve`); tests stand in a resolver to show the
    /// connection goes to the address it returned and nowhere a second lookup would say.
    let resolve: @Sendable (String, Int) async throws(WebhookTarget.Refusal) -> WebhookTarget.Resolved

    /// A sender whose requests time out after `timeoutSeconds`; `allowPrivateTargets` skips the address check.
    public convenience init(timeoutSeconds: Int, userAgent: String, allowPrivateTargets: Bool = false) {
        self.init(timeoutSeconds: timeoutSeconds, userAgent: userAgent, allowPrivateTargets: allowPrivateTargets) {
            host, port throws(WebhookTarget.Refusal) in try await WebhookTarget.resolve(host: host, port: port)
        }
    }

    /// As above, with `resolve` in place of `WebhookTarget.resolve`.
    init(timeoutSeconds: Int, userAgent: String, allowPrivateTargets: Bool,
         resolve: @escaping @Sendable (String, Int) async throws(WebhookTarget.Refusal) -> WebhookTarget.Resolved) {
        self.resolve = resolve
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

    /// Delivers `body` to `url` signed with `secret`; `id` is the event's stable id. Unless
    /// private targets are allowed, the host is resolved once and checked (`WebhookTarget`), and
    /// the request connects to that very address (AsyncHTTPClient's `dnsOverride`: `Host` and the
    /// TLS certificate check still use the name), so a DNS answer that changes between the check
    /// and the connection (rebinding) cannot send it inward.
    public func deliver(url: String, body: [UInt8], id: String, secret: String, now: Date = Date()) async -> DeliveryResult {
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let d = ContinuousClock.now - started
            return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
        }
        guard let parsed = Self.endpoint(url) else {
            return DeliveryResult(statusCode: nil, error: "'\(WebhookURL.redacted(url))' is not an http(s) URL", milliseconds: 0)
        }
        var pinned: HTTPClient?
        if !allowPrivate, let host = parsed.host {
            let resolved: WebhookTarget.Resolved
            do throws(WebhookTarget.Refusal) {
                resolved = try await resolve(host, parsed.port ?? (parsed.scheme?.lowercased() == "https" ? 443 : 80))
            } catch {
                return DeliveryResult(statusCode: nil, error: "not delivered: \(error)", milliseconds: elapsed())
            }
            if WebhookTarget.parse(resolved.host) == nil {
                // A client of its own: dnsOverride is per client, and this mapping holds for this attempt only.
                var configuration = self.configuration
                configuration.dnsOverride = [resolved.host: resolved.address]
                pinned = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            }
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: userAgent)
        for (name, value) in WebhookSignature.headers(id: id, timestamp: Int(now.timeIntervalSince1970), body: body, secret: secret) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let result: DeliveryResult
        do {
            let response = try await (pinned ?? httpClient).execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let code = Int(response.status.code)
            if (200..<300).contains(code) {
                result = DeliveryResult(statusCode: code, error: nil, milliseconds: elapsed())
            } else {
                let what = (300..<400).contains(code)
                    ? "redirect to \(WebhookURL.redacted(response.headers.first(name: "Location") ?? "?")) not followed"
                    : "answered \(code) \(response.status.reasonPhrase)"
                result = DeliveryResult(statusCode: code, error: what, milliseconds: elapsed())
            }
        } catch {
            result = DeliveryResult(statusCode: nil, error: WebhookURL.redacted("\(error)"), milliseconds: elapsed())
        }
        if let pinned { try? await pinned.shutdown() }
        return result
    }

    /// `url` when it can be a webhook endpoint: http or https with a host, at most 2000 characters.
    /// The one check the CLI, the API and each delivery apply.
    public static func endpoint(_ url: String) -> URL? {
        guard url.count <= 2000, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
              parsed.host?.isEmpty == false else { return nil }
        return parsed
    }

    /// Shuts the shared HTTP client down (after the last delivery).
    public func shutdown() async {
        guard let made = client.withLock({ $0 }) else { return }
        try? await made.shutdown()
    }
}
