import Fax

/// When a media channel should end, from tick counts alone: T.30 done (after a short drain so the
/// last frames leave), no media for the silence timeout, or the call too long. A value the channel
/// owns; no clock of its own, so manual-clock tests drive it exactly.
struct ChannelWatch {
    /// Ticks (20 ms) the stream keeps running after T.30 phase E before the BYE.
    static let drainTicks: UInt64 = 25

    private let silenceTicks: UInt64
    private let maxTicks: UInt64
    private var firstTick: UInt64 = 0
    private var lastMediaTick: UInt64 = 0
    private var drainUntil: UInt64 = 0

    init(silenceTimeoutSeconds: Int, maxCallSeconds: Int) {
        silenceTicks = UInt64(silenceTimeoutSeconds * 50)
        maxTicks = UInt64(maxCallSeconds * 50)
    }

    /// Call at the top of every tick.
    mutating func begin(_ tick: UInt64) {
        if firstTick == 0 {
            firstTick = tick
            lastMediaTick = tick
        }
    }

    /// Media arrived in this tick.
    mutating func heard(_ tick: UInt64) { lastMediaTick = tick }

    /// The far end is silent by design in this tick: this side is sending a page, and in T.38 the
    /// receiver sends no datagram until the page or ECM block ends (one ECM block of a dense page
    /// lasts over 30 s at 14,400 bit/s). Silence counts from the end of it.
    mutating func quietByDesign(_ tick: UInt64) { lastMediaTick = tick }

    /// Ticks since media last arrived.
    func quietTicks(_ tick: UInt64) -> UInt64 { tick - lastMediaTick }

    /// Why the channel should end now, if it should.
    mutating func check(_ tick: UInt64, faxComplete: Bool, phase: @autoclosure () -> T30Phase) -> ChannelEndReason? {
        if drainUntil != 0 { return tick >= drainUntil ? .faxComplete : nil }
        if faxComplete {
            drainUntil = tick + Self.drainTicks
            return nil
        }
        if tick - lastMediaTick > silenceTicks { return .mediaTimeout(seconds: Int(silenceTicks / 50), phase: phase()) }
        if tick - firstTick > maxTicks { return .maxDuration(seconds: Int(maxTicks / 50)) }
        return nil
    }
}
