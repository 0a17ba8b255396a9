/// What an audio channel talks to every 20 ms: spandsp's fax terminal, or a lab stand-in (a
/// recording played back, a recorder wrapped around a terminal). Confined to the channel's shard.
public protocol FaxAudioEndpoint: AnyObject {
    /// Received audio (spandsp: fax_rx).
    func receive(_ samples: UnsafeMutableBufferPointer<Int16>)
    /// Received audio that was lost (spandsp: fax_rx_fillin).
    func fillIn(_ count: Int)
    /// Audio to send (spandsp: fax_tx).
    func transmit(into buffer: UnsafeMutableBufferPointer<Int16>)
    /// True once the endpoint has nothing more to do (T.30 phase E, or the end of a playback).
    var isComplete: Bool { get }
    /// Where its T.30 session is (a playback has none: `.idle`).
    var phase: T30Phase { get }
    /// Ends it and reports what it did; a receiver's document is complete on disk when it returns
    /// (it may wait for the page writer: not for a media shard).
    func hangUp() -> FaxTransferResult
    /// Ends it without waiting: `then` gets what it did once a receiver's document is complete on
    /// disk (on the page writer's queue), or at once on the caller's thread.
    func hangUp(then: @escaping @Sendable (FaxTransferResult) -> Void)
    var tones: FaxTones { get }
}

extension FaxAudioEndpoint {
    /// For endpoints that write no document.
    public func hangUp(then: @escaping @Sendable (FaxTransferResult) -> Void) { then(hangUp()) }
}

extension AudioFaxTerminal: FaxAudioEndpoint {}
