import Dispatch
import Synchronization

/// Something that runs on a media shard every 20 ms: a call's media channel.
public protocol MediaTickable: AnyObject, Sendable {
    /// Runs one 20 ms step. `tick` counts the shard's ticks since it started. Return false when
    /// finished: the shard drops the member after this call. Must not block, lock or allocate.
    func tick(_ tick: UInt64) -> Bool
}

/// One serial DispatchQueue that owns a set of media channels and ticks them every 20 ms on
/// absolute deadlines (`start + n * 20 ms`), so drift never accumulates. A late wake-up runs the
/// missed ticks back to back; after a jump of more than `maxCatchUp` ticks (machine suspended,
/// debugger) it resynchronises instead. The timer runs only while the shard has channels: an idle
/// daemon does not wake up 50 times a second per shard. With a manual clock nothing runs until `advance` is called:
/// tests drive whole calls without sockets or wall-clock time.
public final class MediaShard: @unchecked Sendable {
    /// How the shard's time advances.
    public enum Clock: Sendable {
        /// Real time, ticking every `MediaShard.tickNanoseconds`.
        case realtime
        /// Only when `advance(ticks:)` is called.
        case manual
    }

    /// 20 ms: one G.711 frame of 160 samples.
    public static let tickNanoseconds: UInt64 = 20_000_000
    /// Ticks run back to back after a late wake-up before the shard gives up and resynchronises.
    public static let maxCatchUp: UInt64 = 25

    public let index: Int
    public let queue: DispatchQueue
    public let clock: Clock
    /// Where in the 20 ms period this shard's ticks fall (nanoseconds after a multiple of 20 ms of
    /// uptime): shards of one daemon are spread over the period, and a random part keeps two
    /// daemons on one machine from waking in step and contending for the same cores.
    public let phaseNanoseconds: UInt64
    // Queue-confined state.
    private var members: [MediaTickable] = []
    private var timer: DispatchSourceTimer?
    private var running = false
    private var startNanos: UInt64 = 0
    /// Ticks since the timer last started (the grid), and ticks since the shard was created (what
    /// members see, so it never goes backwards).
    private var gridTicks: UInt64 = 0
    private var ticksDone: UInt64 = 0
    private var lateness: LatenessHistogram
    private var resyncs = 0
    // Read from other threads for status and placement.
    private let memberCount = Atomic<Int>(0)
    private let statsSnapshot = Mutex<MediaShardStatistics>(MediaShardStatistics())

    public init(index: Int, clock: Clock = .realtime, phaseNanoseconds: UInt64 = 0) {
        self.index = index
        self.clock = clock
        self.phaseNanoseconds = phaseNanoseconds % Self.tickNanoseconds
        self.queue = DispatchQueue(label: "faxd.media.\(index)", qos: .userInteractive)
        self.lateness = LatenessHistogram()
    }

    /// Lets the real-time clock run whenever there are members (no-op for a manual clock).
    public func start() {
        guard clock == .realtime else { return }
        queue.async { [self] in
            running = true
            if !members.isEmpty { startTimer() }
        }
    }

    /// Stops the clock; members stay until removed.
    public func stop() {
        queue.sync {
            running = false
            stopTimer()
        }
    }

    private func startTimer() {
        guard timer == nil else { return }
        // The grid: the first tick at the next instant that is `phase` after a multiple of 20 ms.
        let now = DispatchTime.now().uptimeNanoseconds
        var first = now - now % Self.tickNanoseconds + phaseNanoseconds
        if first <= now { first += Self.tickNanoseconds }
        startNanos = first - Self.tickNanoseconds
        gridTicks = 0
        let source = DispatchSource.makeTimerSource(flags: .strict, queue: queue)
        source.schedule(deadline: DispatchTime(uptimeNanoseconds: first),
                        repeating: .nanoseconds(Int(Self.tickNanoseconds)), leeway: .microseconds(200))
        source.setEventHandler { [unowned self] in fire() }
        timer = source
        source.resume()
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
    }

    /// True while the real-time timer runs (only while there are members). Not from the shard queue.
    public var isTicking: Bool { queue.sync { timer != nil } }

    /// Number of members, readable from any thread.
    public var load: Int { memberCount.load(ordering: .relaxed) }

    /// Adds a member; it ticks from the next tick on. Any thread.
    public func add(_ member: MediaTickable) {
        memberCount.add(1, ordering: .relaxed)
        queue.async { [self] in
            members.append(member)
            if running { startTimer() }
        }
    }

    /// Runs `body` on the shard queue. Any thread.
    public func perform(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }

    /// Manual clock: runs `ticks` ticks now, synchronously, on the shard queue.
    public func advance(ticks: Int) {
        precondition(clock == .manual, "advance(ticks:) is for manual-clock shards")
        queue.sync {
            for _ in 0..<ticks { runTick(lateNanos: 0) }
        }
    }

    /// Lateness and tick figures since start.
    public var statistics: MediaShardStatistics {
        statsSnapshot.withLock { published in
            var copy = published
            // Fresh storage, so the shard's next publish finds its own buffer unshared.
            copy.latenessHistogram = LatenessHistogram.Counts(copying: published.latenessHistogram)
            return copy
        }
    }

    private func fire() {
        dispatchPrecondition(condition: .onQueue(queue))
        let now = DispatchTime.now().uptimeNanoseconds
        let due = (now &- startNanos) / Self.tickNanoseconds
        if due > gridTicks + Self.maxCatchUp {
            // Too far behind: count the jump and start the grid again from here.
            resyncs += 1
            gridTicks = due - 1
        }
        var start = now
        while gridTicks < due {
            let deadline = startNanos + (gridTicks + 1) * Self.tickNanoseconds
            gridTicks += 1
            // A catch-up tick starts when the one before it ended: that is its real lateness.
            runTick(lateNanos: start > deadline ? start - deadline : 0)
            if gridTicks < due { start = DispatchTime.now().uptimeNanoseconds }
        }
        if members.isEmpty {
            stopTimer()
            publishStatistics()
        }
    }

    private func runTick(lateNanos: UInt64) {
        ticksDone += 1
        lateness.record(nanos: lateNanos)
        let tick = ticksDone
        var i = 0
        var removed = 0
        while i < members.count {
            if members[i].tick(tick) {
                i += 1
            } else {
                members.swapAt(i, members.count - 1)
                members.removeLast()
                removed += 1
            }
        }
        if removed > 0 { memberCount.subtract(removed, ordering: .relaxed) }
        // Once a second of ticks, whichever way they came (a catch-up run may step over a multiple
        // of 50 only inside this loop).
        if ticksDone % 50 == 0 { publishStatistics() }
    }

    private func publishStatistics() {
        let p50 = lateness.percentile(0.50), p99 = lateness.percentile(0.99)
        statsSnapshot.withLock { published in
            published.ticks = ticksDone
            published.members = members.count
            published.latenessP50Micros = p50
            published.latenessP99Micros = p99
            published.latenessMaxMicros = lateness.maxMicros
            published.resyncs = resyncs
            // Element by element into storage allocated once: publishing never allocates.
            lateness.copyCounts(into: &published.latenessHistogram)
        }
    }
}

/// Tick figures of one shard, for the admin status and benchmarks.
public struct MediaShardStatistics: Sendable, Equatable {
    public var ticks: UInt64 = 0
    public var members: Int = 0
    public var latenessP50Micros: Int = 0
    public var latenessP99Micros: Int = 0
    public var latenessMaxMicros: Int = 0
    public var resyncs: Int = 0
    /// Ticks per lateness bucket since the shard was made (`LatenessHistogram` buckets): two
    /// snapshots subtract to the lateness of the interval between them.
    public var latenessHistogram = LatenessHistogram.Counts()
}

/// Tick lateness in fixed buckets (100 us wide up to 50 ms, then one overflow bucket); recording
/// never allocates.
public struct LatenessHistogram: Sendable {
    public static let bucketMicros = 100
    public static let buckets = 500

    /// Ticks per bucket: bucket i holds lateness in [i*100, (i+1)*100) us, the last one 50 ms and more.
    public struct Counts: Sendable, Equatable {
        public var values: [Int]
        public init() { values = [Int](repeating: 0, count: LatenessHistogram.buckets + 1) }
        init(copying other: Counts) { values = other.values.map { $0 } }
        public init(values: [Int]) { self.values = values }

        public var total: Int { values.reduce(0, +) }

        /// The ticks counted since `earlier`.
        public func subtracting(_ earlier: Counts) -> Counts {
            Counts(values: zip(values, earlier.values).map { $0 - $1 })
        }

        /// Adds another shard's counts.
        public func adding(_ other: Counts) -> Counts {
            Counts(values: zip(values, other.values).map { $0 + $1 })
        }

        /// Upper edge of the bucket holding the p-th quantile, in microseconds (0 without ticks).
        public func percentileMicros(_ p: Double) -> Int {
            let total = self.total
            guard total > 0 else { return 0 }
            let target = max(1, Int((Double(total) * p).rounded(.up)))
            var seen = 0
            for (bucket, count) in values.enumerated() {
                seen += count
                if seen >= target { return (bucket + 1) * LatenessHistogram.bucketMicros }
            }
            return values.count * LatenessHistogram.bucketMicros
        }

        /// Upper edge of the highest non-empty bucket, in microseconds.
        public var maxMicros: Int {
            guard let last = values.lastIndex(where: { $0 > 0 }) else { return 0 }
            return (last + 1) * LatenessHistogram.bucketMicros
        }
    }

    private var counts = Counts()
    private var total = 0
    private(set) var maxMicros = 0

    mutating func record(nanos: UInt64) {
        let micros = Int(nanos / 1000)
        if micros > maxMicros { maxMicros = micros }
        let bucket = min(micros / Self.bucketMicros, Self.buckets)
        counts.values[bucket] += 1
        total += 1
    }

    func percentile(_ p: Double) -> Int {
        guard total > 0 else { return 0 }
        return min(counts.percentileMicros(p), maxMicros)
    }

    func copyCounts(into target: inout Counts) {
        for i in counts.values.indices { target.values[i] = counts.values[i] }
    }
}
