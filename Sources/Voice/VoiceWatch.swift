/// When a voice channel should end, from tick counts alone: no RTP for the silence timeout, or
/// the call too long. A value the channel owns; manual-clock tests drive it exactly. RFC 3550 section 6.3.5
struct VoiceWatch {
    private let silenceTicks: UInt64
    private let maxTicks: UInt64
    private var firstTick: UInt64 = 0
    private var lastMediaTick: UInt64 = 0

    init(silenceTimeoutSeconds: Int, maxCallSeconds: Int) {
        silenceTicks = UInt64(max(0, silenceTimeoutSeconds) * 50)
        maxTicks = UInt64(max(0, maxCallSeconds) * 50)
    }

    /// Call at the top of every tick.
    mutating func begin(_ tick: UInt64) {
        if firstTick == 0 {
            firstTick = tick
            lastMediaTick = tick
        }
    }

    /// RTP arrived in this tick.
    mutating func heard(_ tick: UInt64) { lastMediaTick = tick }

    /// Why the channel should end now, if it should.
    func check(_ tick: UInt64) -> VoiceEndReason? {
        if silenceTicks > 0 && tick - lastMediaTick > silenceTicks { return .mediaTimeout(seconds: Int(silenceTicks / 50)) }
        if maxTicks > 0 && tick - firstTick > maxTicks { return .maxDuration(seconds: Int(maxTicks / 50)) }
        return nil
    }
}
