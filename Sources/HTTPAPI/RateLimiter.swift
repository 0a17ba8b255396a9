import Engine
import Synchronization

/// A token bucket per API key: `perSecond` tokens a second up to `burst`; a request takes one.
final class RateLimiter: Sendable {
    private let buckets = Mutex<[String: TokenBucket]>([:])
    let perSecond: Double
    let burst: Int

    init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = burst
    }

    /// nil when `key` may go ahead (and takes a token); else the seconds until it may.
    func take(_ key: String) -> Int? {
        buckets.withLock { all in
            var bucket = all[key] ?? TokenBucket(perSecond: perSecond, burst: burst)
            defer { all[key] = bucket }
            return bucket.take()
        }
    }
}
