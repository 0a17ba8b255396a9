/// The HTTP API and the operators' admin endpoints (`http:` in the configuration file).
public struct HTTPSettings: Sendable, Equatable {
    /// Where the API listens; `--http-listen HOST:PORT` overrides it. Port 0 turns HTTP off.
    public var listenHost = "127.0.0.1"
    public var listenPort = 8080
    /// Bearer token for /admin and /metrics; the FAXD_ADMIN_TOKEN environment variable wins.
    /// Without either the admin endpoints answer 401 to everyone (secure by default).
    public var adminToken: String?
    /// Base of the links faxd puts in webhooks (a recording's URL), e.g. "https://fax.example.com";
    /// nil: "http://<listen host>:<listen port>".
    public var publicURL: String?
    /// Seconds a connection may take to send a complete request head, and may then sit idle
    /// between requests, before it is closed (a connection that never finishes its headers
    /// must not hold a descriptor for good).
    public var headerTimeoutSeconds = 10
    /// Seconds one request may take from its head to the end of its body (a body trickled in a
    /// byte at a time is cut here).
    public var requestTimeoutSeconds = 300
    /// Connections open at once; beyond it faxd stops accepting (new ones wait in the kernel's
    /// backlog) until one closes, so a flood cannot take the descriptors SIP and media need.
    public var maxConnections = 512
    /// Largest document upload, bytes.
    public var maxUploadBytes = 20 * 1024 * 1024
    /// Most pages one document may have.
    public var maxPages = 50
    /// Requests per second one API key may make on average, and the burst it may save up.
    public var rateLimitPerSecond = 10.0
    public var rateLimitBurst = 40
    /// Seconds a document conversion (Ghostscript) may take.
    public var conversionTimeoutSeconds = 60
    /// Document conversions (Ghostscript) running at once; more wait for a slot.
    public var maxConversions = 2
    /// Seconds a request waits for a conversion slot before it gets 503 with Retry-After.
    public var conversionWaitSeconds = 10

    public init() {}
}
