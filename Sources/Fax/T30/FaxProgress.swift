import Synchronization

/// A call's fax progress while it runs, readable from any thread without touching the shard:
/// spandsp's phase B and D handlers store into it (relaxed atomics), the admin status reads it.
public final class FaxProgress: Sendable {
    private let pagesStore = Atomic<Int>(0)
    private let bitRateStore = Atomic<Int>(0)

    /// Told each new count of confirmed pages, on the media shard, as T.30 confirms a page
    /// (phase D); must not block.
    private let onPages: (@Sendable (Int) -> Void)?

    public init(onPages: (@Sendable (Int) -> Void)? = nil) { self.onPages = onPages }

    /// Pages confirmed so far (updated from the one media shard that carries the call).
    public var pages: Int { pagesStore.load(ordering: .relaxed) }
    /// The modem bit rate negotiated in phase B (0 before).
    public var bitRate: Int { bitRateStore.load(ordering: .relaxed) }

    /// Only an increase counts: a terminal started afresh (audio to T.38 after a re-INVITE)
    /// counts its pages from 0 again, and what the far end confirmed stays confirmed.
    func update(pages: Int) {
        guard pages > pagesStore.load(ordering: .relaxed) else { return }
        pagesStore.store(pages, ordering: .relaxed)
        onPages?(pages)
    }
    func update(bitRate: Int) { bitRateStore.store(bitRate, ordering: .relaxed) }
}
