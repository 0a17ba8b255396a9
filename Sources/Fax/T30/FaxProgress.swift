import Synchronization

/// A call's fax progress while it runs, readable from any thread without touching the shard:
/// spandsp's phase B and D handlers store into it (relaxed atomics), the admin status reads it.
public final class FaxProgress: Sendable {
    private let pagesStore = Atomic<Int>(0)
    private let bitRateStore = Atomic<Int>(0)

    public init() {}

    /// Pages confirmed so far.
    public var pages: Int { pagesStore.load(ordering: .relaxed) }
    /// The modem bit rate negotiated in phase B (0 before).
    public var bitRate: Int { bitRateStore.load(ordering: .relaxed) }

    func update(pages: Int) { pagesStore.store(pages, ordering: .relaxed) }
    func update(bitRate: Int) { bitRateStore.store(bitRate, ordering: .relaxed) }
}
