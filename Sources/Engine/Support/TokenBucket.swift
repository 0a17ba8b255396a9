import Dispatch

/// A token bucket: `perSecond` tokens a second up to `burst`; each admitted event takes one.
/// The one rate limit behind the API keys' request limits, the INVITE limit per source address
/// and the refused-call log. A value: its owner keeps it on one thread or under its own lock.
public struct TokenBucket: Sendable {
    public let perSecond: Double
    public let burst: Double
    private var tokens: Double
    private var at: UInt64

    /// A full bucket at `nowNanos` (monotonic nanoseconds).
    public init(perSecond: Double, burst: Int, nowNanos: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        self.perSecond = perSecond
        self.burst = Double(burst)
        tokens = Double(burst)
        at = nowNanos
    }

    /// Takes a token: nil when the event may go ahead, else the whole seconds until one is there.
    public mutating func take(nowNanos: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int? {
        refill(nowNanos)
        guard tokens >= 1 else { return max(1, Int(((1 - tokens) / perSecond).rounded(.up))) }
        tokens -= 1
        return nil
    }

    /// True when the bucket would be full by `nowNanos` (its owner may forget it).
    public func isFull(nowNanos: UInt64) -> Bool {
        tokens + Double(nowNanos &- at) / 1e9 * perSecond >= burst
    }

    private mutating func refill(_ now: UInt64) {
        tokens = min(burst, tokens + Double(now &- at) / 1e9 * perSecond)
        at = now
    }
}
