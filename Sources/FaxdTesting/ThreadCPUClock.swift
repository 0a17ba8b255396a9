#if canImport(Glibc)
import Glibc
#endif

/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID, nanosecond resolution): what a piece
/// of work cost, independent of what else the machine runs.
public enum ThreadCPUClock {
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Reads `ThreadCPUClock` only when enabled (else 0), so a run can be timed per side or not at all
/// with the same code. A read costs about half a microsecond: per-side timing inflates what it
/// measures, so cost figures take the untimed total and only the split from a timed run.
struct SideClock {
    let enabled: Bool
    @inline(__always) func now() -> UInt64 { enabled ? ThreadCPUClock.nanoseconds() : 0 }
}

/// The largest per-tick CPU time seen so far and the tick it was seen in.
struct TickMaximum {
    private(set) var nanoseconds: UInt64 = 0
    private(set) var tick = 0
    mutating func note(_ spent: UInt64, tick: Int) {
        if spent > nanoseconds { nanoseconds = spent; self.tick = tick }
    }
    var seconds: Double { Double(nanoseconds) / 1e9 }
}
