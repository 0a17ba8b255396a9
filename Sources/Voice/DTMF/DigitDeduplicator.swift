/// Reports each pressed key once when it arrives both as RFC 4733 events and as in-band tones:
/// a report from one source is paired with the next report of the same key from the other
/// source within `windowTicks`, and the second of the pair is dropped. In-band reports are also
/// dropped while an RFC 4733 event is in progress (the tone under it). Fixed slots, no
/// allocation after init. RFC 4733 section 2.6 (events and tones of one key are one press)
struct DigitDeduplicator {
    /// One second: in-band detection trails its event by the jitter delay plus ~40 ms.
    static let windowTicks: UInt64 = 50
    private static let slotCount = 8

    private struct Slot {
        var key: UInt8 = 0
        var fromRFC = false
        var tick: UInt64 = 0
        var live = false
    }

    // Allocated once with the channel; mutated in place (the channel owns the only copy).
    private var slots = [Slot](repeating: Slot(), count: slotCount)

    /// True when the digit is new and must be reported. RFC 4733 section 2.6
    mutating func admit(_ key: DTMFKey, source: DTMFSource, tick: UInt64, eventInProgress: Bool) -> Bool {
        let fromRFC = source == .rfc4733
        var twin = -1
        var free = -1
        var oldest = 0
        var oldestTick = UInt64.max
        slots.withUnsafeMutableBufferPointer { s in
            for i in 0..<Self.slotCount {
                if s[i].live && tick - s[i].tick > Self.windowTicks { s[i].live = false }
                if !s[i].live {
                    if free < 0 { free = i }
                    continue
                }
                if s[i].tick < oldestTick { oldestTick = s[i].tick; oldest = i }
                if s[i].key == key.eventCode && s[i].fromRFC != fromRFC && (twin < 0 || s[i].tick < s[twin].tick) { twin = i }
            }
            if twin >= 0 {
                s[twin].live = false
                return
            }
            if !fromRFC && eventInProgress { return }
            s[free >= 0 ? free : oldest] = Slot(key: key.eventCode, fromRFC: fromRFC, tick: tick, live: true)
        }
        if twin >= 0 { return false }
        if !fromRFC && eventInProgress { return false }
        return true
    }
}
