/// The two limits every media channel keeps, from tick counts alone: no media for the silence
/// timeout, or the call longer than its maximum (0 turns either off). A value its channel owns;
/// no clock of its own, so manual-clock tests drive it exactly. Fax channels add their T.30
/// rules on top (`ChannelWatch` in Engine), voice legs use it as it is.
public struct MediaWatch: Sendable {
    /// Which limit ran out, with its length in seconds.
    public enum Expiry: Sendable, Equatable {
        case silence(seconds: Int)
        case duration(seconds: Int)
    }

    private let silenceTicks: UInt64
    private let maxTicks: UInt64
    private var firstTick: UInt64 = 0
    private var lastMediaTick: UInt64 = 0

    public init(silenceTimeoutSeconds: Int, maxCallSeconds: Int) {
        silenceTicks = UInt64(max(0, silenceTimeoutSeconds) * 50)
        maxTicks = UInt64(max(0, maxCallSeconds) * 50)
    }

    /// Call at the top of every tick.
    public mutating func begin(_ tick: UInt64) {
        if firstTick == 0 {
            firstTick = tick
            lastMediaTick = tick
        }
    }

    /// Media arrived in this tick, or the far end is silent by design in it (silence counts
    /// from the last such tick).
    public mutating func heard(_ tick: UInt64) { lastMediaTick = tick }

    /// Ticks since media last arrived.
    public func quietTicks(_ tick: UInt64) -> UInt64 { tick - lastMediaTick }

    /// The limit that ran out by `tick`, if one did.
    public func expired(_ tick: UInt64) -> Expiry? {
        if silenceTicks > 0 && tick - lastMediaTick > silenceTicks { return .silence(seconds: Int(silenceTicks / 50)) }
        if maxTicks > 0 && tick - firstTick > maxTicks { return .duration(seconds: Int(maxTicks / 50)) }
        return nil
    }
}
