import CNet
import Dispatch

/// Returns freed memory every `interval` seconds on a utility queue, when `counter` (calls ended,
/// say) moved since the last time: an idle daemon does no work, one after a burst gives the
/// burst's memory back (glibc `malloc_trim`, which walks the allocator's arenas: milliseconds
/// for a large heap, so never on a media shard). A fixed 128 KB mmap threshold, so a received
/// page image growing inside an ECM block's tick would always go back when freed, made no
/// difference to RSS at 500 G.711 calls (169 against 170 KB per channel) and is not used.
public final class FreeMemoryReturner: @unchecked Sendable {
    private let timer: DispatchSourceTimer
    // Confined to the timer's queue.
    private var lastCount = 0

    private let interval: Double

    public init(interval: Double = 15) {
        self.interval = interval
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "faxd-memory", qos: .utility))
        // Active from the start (libdispatch traps when an inactive source is released), idle
        // until `start` schedules it.
        timer.activate()
    }

    /// Starts the timer (once).
    public func start(counter: @escaping @Sendable () -> Int) {
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            let count = counter()
            guard count != lastCount else { return }
            lastCount = count
            _ = cnet_malloc_trim()
        }
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .seconds(1))
    }

    public func stop() { timer.cancel() }

    deinit { timer.cancel() }
}
