import Engine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Processing
import Store
import Synchronization

/// The HTTP API (`/api/fax/...`, the seed's endpoints and more), the operators' endpoints
/// (`/admin/...`, `/metrics`, `/healthz`) and the OpenAPI document, on Hummingbird 2.
///
/// Threads: Hummingbird runs handlers as Swift tasks on SwiftNIO's event loops. A handler reaches
/// the store with short synchronous hops onto its queue, queues sends through
/// `FaxService.enqueue`, asks the SIP thread for live calls with a post, and runs Ghostscript as a
/// child process it awaits without blocking a thread. Nothing here touches a media shard.
public final class APIServer: Sendable {
    let service: FaxService
    let settings: HTTPSettings
    let logger: Logger
    let limiter: RateLimiter
    let startedAt = Date()
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let port = Mutex<Int?>(nil)

    public init(service: FaxService, logger: Logger) {
        self.service = service
        settings = service.configuration.http
        self.logger = logger
        limiter = RateLimiter(perSecond: settings.rateLimitPerSecond, burst: settings.rateLimitBurst)
    }

    var store: FaxStore { service.store }
    var configuration: FaxdConfiguration { service.configuration }

    /// The admin token: FAXD_ADMIN_TOKEN, else `http.admin_token`; nil refuses every admin request.
    var adminToken: String? {
        // Too short a token from the environment is ignored as no token (refusing everyone), like
        // a short http.admin_token is refused at start.
        if let token = ProcessInfo.processInfo.environment["FAXD_ADMIN_TOKEN"], !token.isEmpty { return token.count >= 16 ? token : nil }
        return settings.adminToken
    }

    /// Starts listening; returns once the socket is bound (or throws why not).
    public func start() async throws {
        if let token = ProcessInfo.processInfo.environment["FAXD_ADMIN_TOKEN"], !token.isEmpty, token.count < 16 {
            logger.warning("FAXD_ADMIN_TOKEN is shorter than 16 characters and is ignored: the admin endpoints refuse everyone")
        } else if adminToken == nil {
            logger.notice("no admin token (http.admin_token or FAXD_ADMIN_TOKEN): /admin and /metrics refuse everyone")
        }
        let bound = AsyncStream<Result<Int, any Error>>.makeStream()
        let router = makeRouter()
        var appLogger = logger
        appLogger.logLevel = max(logger.logLevel, .notice)
        let requestTimeout = TimeAmount.seconds(Int64(settings.requestTimeoutSeconds))
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [RequestDeadlineHandler(timeout: requestTimeout)],
                                               idleTimeout: .seconds(Int64(settings.headerTimeoutSeconds)))
        let app = Application(router: router,
                              server: .http1(configuration: http1),
                              configuration: .init(address: .hostname(settings.listenHost, port: settings.listenPort),
                                                   serverName: configuration.sip.userAgent,
                                                   availableConnectionsDelegate: MaximumAvailableConnections(settings.maxConnections, logger: logger)),
                              onServerRunning: { channel in
                                  bound.continuation.yield(.success(channel.localAddress?.port ?? 0))
                              },
                              logger: appLogger)
        let running = Task {
            do {
                try await app.run()
            } catch {
                bound.continuation.yield(.failure(error))
            }
        }
        task.withLock { $0 = running }
        for await result in bound.stream {
            switch result {
            case .success(let port):
                self.port.withLock { $0 = port }
                // Other nodes forward commands for this node's calls here.
                service.advertiseAPI(settings.publicURL ?? "http://\(settings.listenHost):\(port)")
                logger.info("http listening", metadata: ["address": "\(settings.listenHost):\(port)"])
                return
            case .failure(let error):
                throw APIError(.internalServerError, "listen", "http.listen \(settings.listenHost):\(settings.listenPort): \(error)")
            }
        }
    }

    /// The port it listens on (after `start`).
    public var boundPort: Int? { port.withLock { $0 } }

    /// Stops listening (requests in flight are cut).
    public func stop() {
        task.withLock { $0 }?.cancel()
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: InternalErrorMiddleware(logger: logger))
        addFaxRoutes(router)
        addAdminRoutes(router)
        addVoiceRoutes(router)
        router.get("api/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        return router
    }

    // MARK: Authentication

    /// The account whose API key the request carries, after its rate limit.
    func account(_ request: Request) throws -> FaxAccount {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { throw APIError.unauthorized }
        let key = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty, let account = try store.read({ try $0.account(apiKeyHash: APIKeys.hash(key)) }) else {
            throw APIError(.unauthorized, "unauthorized", "the API key is not valid", headers: [.wwwAuthenticate: "Bearer realm=\"faxd\""])
        }
        guard account.status == .active else { throw APIError(.forbidden, "account_disabled", "account \(account.faxNumber) is disabled") }
        if let wait = limiter.take(APIKeys.hash(key)) {
            throw APIError(.tooManyRequests, "rate_limited",
                           "more than \(settings.rateLimitBurst) requests in a burst or \(settings.rateLimitPerSecond) a second on average; retry in \(wait) s",
                           headers: [.retryAfter: String(wait)])
        }
        return account
    }

    /// Checks the admin token.
    func admin(_ request: Request) throws {
        guard let token = adminToken else {
            throw APIError(.unauthorized, "unauthorized", "no admin token is configured (http.admin_token or FAXD_ADMIN_TOKEN)")
        }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
              Self.constantTimeEqual(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), token) else {
            throw APIError(.unauthorized, "unauthorized", "send Authorization: Bearer <admin token>",
                           headers: [.wwwAuthenticate: "Bearer realm=\"faxd admin\""])
        }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// The request body, at most `limit` bytes (413 beyond).
    func body(_ request: Request, limit: Int) async throws -> [UInt8] {
        do {
            var buffer = try await request.body.collect(upTo: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "too_large", "the body is larger than \(limit) bytes (http.max_upload_bytes)")
        }
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}

/// Turns errors that are not API errors (a store failure, say) into a JSON 500 with a neutral
/// message; the details go to the log, not to the client.
struct InternalErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError {
            throw error
        } catch {
            logger.error("http request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw APIError(.internalServerError, "internal", "the request failed inside faxd; the server log has the details")
        }
    }
}
