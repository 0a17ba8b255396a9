import Foundation
import Media
import Synchronization
import Testing

/// Counts its ticks and leaves the shard after `limit` of them.
final class CountingMember: MediaTickable, @unchecked Sendable {
    let limit: Int
    let count = Atomic<Int>(0)
    let lastTick = Atomic<UInt64>(0)
    init(limit: Int) { self.limit = limit }
    func tick(_ tick: UInt64) -> Bool {
        lastTick.store(tick, ordering: .relaxed)
        return count.add(1, ordering: .relaxed).newValue < limit
    }
}

@Suite struct MediaShardTests {
    @Test func manualClockTicksOnlyWhenAdvanced() {
        let shard = MediaShard(index: 0, clock: .manual)
        let member = CountingMember(limit: 1000)
        shard.add(member)
        shard.advance(ticks: 7)
        #expect(member.count.load(ordering: .relaxed) == 7)
        #expect(member.lastTick.load(ordering: .relaxed) == 7)
    }

    /// Two snapshots of the bucket counts subtract to the lateness of the interval between them.
    @Test func latenessCountsSubtractAndGivePercentiles() {
        var earlier = LatenessHistogram.Counts()
        earlier.values[0] = 90  // 90 ticks under 100 us
        var later = earlier
        later.values[0] += 98   // then 98 more under 100 us,
        later.values[30] += 1   // one at 3.0-3.1 ms
        later.values[LatenessHistogram.buckets] += 1  // and one of 50 ms or more
        let interval = later.subtracting(earlier)
        #expect(interval.total == 100)
        #expect(interval.percentileMicros(0.5) == 100)
        #expect(interval.percentileMicros(0.99) == 3100)
        #expect(interval.maxMicros == (LatenessHistogram.buckets + 1) * 100)
        #expect(LatenessHistogram.Counts().percentileMicros(0.99) == 0)
        #expect(interval.adding(interval).total == 200)
    }

    /// Statistics are published every 50 ticks (once a second), counting every tick's lateness.
    @Test func publishesStatisticsEveryFiftyTicks() {
        let shard = MediaShard(index: 0, clock: .manual)
        shard.add(CountingMember(limit: 1000))
        shard.advance(ticks: 49)
        #expect(shard.statistics.ticks == 0)
        shard.advance(ticks: 2)
        #expect(shard.statistics.ticks == 50 && shard.statistics.latenessHistogram.total == 50)
        #expect(shard.statistics.members == 1)
    }

    @Test func finishedMembersLeaveTheShard() {
        let shard = MediaShard(index: 0, clock: .manual)
        shard.add(CountingMember(limit: 3))
        #expect(shard.load == 1)
        shard.advance(ticks: 5)
        #expect(shard.load == 0)
    }

    /// 25 ticks never come faster than the 20 ms grid allows (no upper bound: a loaded test machine
    /// may run them late, which the lateness histogram, not a unit test, reports), and an idle shard
    /// stops its timer.
    @Test func realtimeClockKeepsTheGridAndSleepsWhenIdle() async throws {
        let shard = MediaShard(index: 0)
        shard.start()
        defer { shard.stop() }
        #expect(!shard.isTicking, "no timer without members")
        let member = CountingMember(limit: 25)
        let started = Date()
        shard.add(member)
        while member.count.load(ordering: .relaxed) < 25 { try await Task.sleep(for: .milliseconds(5)) }
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.48, "25 ticks took \(elapsed) s")
        try await Task.sleep(for: .milliseconds(100))
        #expect(!shard.isTicking, "the timer stops when the last member leaves")
        let again = CountingMember(limit: 5)
        shard.add(again)
        while again.count.load(ordering: .relaxed) < 5 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(again.lastTick.load(ordering: .relaxed) > 25, "tick numbers keep rising across restarts")
    }
}
