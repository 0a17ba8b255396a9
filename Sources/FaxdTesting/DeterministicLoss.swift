/// Drops a share of packets with a seeded xorshift generator, so a loss test replays exactly.
public struct DeterministicLoss: Sendable {
    private var state: UInt64
    public let rate: Double

    public init(rate: Double, seed: UInt64) {
        self.rate = rate
        state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    }

    /// True for about `rate` of the calls.
    public mutating func drop() -> Bool {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Double(state % 1_000_000) / 1_000_000 < rate
    }
}
