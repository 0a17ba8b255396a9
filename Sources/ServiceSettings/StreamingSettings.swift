/// Media streams to applications over WebSocket (issue 17): limits, TLS trust and what a failed
/// stream does to its call. Twilio Media Streams; RFC 6455 section 10.4 (limits)
public struct StreamingSettings: Sendable, Equatable {
    /// What a call does when its stream fails (connection lost, application stalled).
    public enum OnFailure: String, Sendable, Equatable, CaseIterable {
        /// The call goes on without the stream (`streaming.failed` tells the application's webhook).
        case `continue`
        /// The call is hung up (hangup_cause normal_clearing, source callee/caller as faxd's side).
        case hangup
    }

    /// Largest message read from the application; a larger one is logged and ignored (30 s of
    /// audio in base64 fits in the default). A single WebSocket frame over 4 times this closes
    /// the stream (it cannot be read at all). RFC 6455 section 10.4
    public var maxMessageBytes = 512 * 1024
    /// Audio the writer may fall behind by before the oldest frames are dropped (and counted).
    public var upstreamMilliseconds = 2000
    /// Most application audio queued for playout; beyond it audio is dropped and counted.
    public var playoutMilliseconds = 30_000
    /// Frames dropped in each second for this long (the application stopped reading) fail the stream.
    public var stallTimeoutSeconds = 5
    /// PEM file of CA certificates wss:// servers are checked against; nil: the system's.
    public var caFile: String?
    public var onFailure = OnFailure.continue

    public init() {}
}
