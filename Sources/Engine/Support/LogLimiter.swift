import Dispatch

/// A rate limit for log lines of one kind (refused calls): a flood of refused INVITEs must not
/// turn into a flood of log writes (each refusal was about 1.2 KB of log, rate-limited or not).
/// Lines beyond the rate are counted, and the next line that may be written reports how many were
/// left out. Owned by one thread (the SIP thread); no lock.
struct LogLimiter {
    private var bucket: TokenBucket
    /// Lines left out since the last one written.
    private(set) var suppressed = 0

    init(perSecond: Double, burst: Int) { bucket = TokenBucket(perSecond: perSecond, burst: burst) }

    /// Whether a line may be written now (`nowNanos` for tests); when it may, also how many were
    /// left out before it (and the count starts again).
    mutating func admit(nowNanos: UInt64 = DispatchTime.now().uptimeNanoseconds) -> (write: Bool, suppressedBefore: Int) {
        guard bucket.take(nowNanos: nowNanos) == nil else {
            suppressed += 1
            return (false, 0)
        }
        defer { suppressed = 0 }
        return (true, suppressed)
    }
}
