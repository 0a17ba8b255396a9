import Fax
import Media

/// When a fax channel should end: T.30 done (after a short drain so the last frames leave), or
/// one of `MediaWatch`'s limits. A value the channel owns; manual-clock tests drive it exactly.
struct ChannelWatch {
    /// Ticks (20 ms) the stream keeps running after T.30 phase E before the BYE.
    static let drainTicks: UInt64 = 25

    private var limits: MediaWatch
    private var drainUntil: UInt64 = 0

    init(silenceTimeoutSeconds: Int, maxCallSeconds: Int) {
        limits = MediaWatch(silenceTimeoutSeconds: silenceTimeoutSeconds, maxCallSeconds: maxCallSeconds)
    }

    /// Call at the top of every tick.
    mutating func begin(_ tick: UInt64) { limits.begin(tick) }

    /// Media arrived in this tick.
    mutating func heard(_ tick: UInt64) { limits.heard(tick) }

    /// The far end is silent by design in this tick: this side is sending a page, and in T.38 the
    /// receiver sends no datagram until the page or ECM block ends (one ECM block of a dense page
    /// lasts over 30 s at 14,400 bit/s). Silence counts from the end of it.
    mutating func quietByDesign(_ tick: UInt64) { limits.heard(tick) }

    /// Ticks since media last arrived.
    func quietTicks(_ tick: UInt64) -> UInt64 { limits.quietTicks(tick) }

    /// Why the channel should end now, if it should.
    mutating func check(_ tick: UInt64, faxComplete: Bool, phase: @autoclosure () -> T30Phase) -> ChannelEndReason? {
        if drainUntil != 0 { return tick >= drainUntil ? .faxComplete : nil }
        if faxComplete {
            drainUntil = tick + Self.drainTicks
            return nil
        }
        switch limits.expired(tick) {
        case .silence(let seconds): return .mediaTimeout(seconds: seconds, phase: phase())
        case .duration(let seconds): return .maxDuration(seconds: seconds)
        case nil: return nil
        }
    }
}
