internal import CSpanDSP

/// Owner of one spandsp DTMF receiver: finds digits in received 8 kHz audio and reports each
/// once. Confined to its channel's shard; `process` does not allocate. spandsp: dtmf_rx_init
final class DTMFDetector {
    // Optional only because spandsp needs `self` as user data before init can finish.
    private var state: OpaquePointer?
    /// Keys found during the current `process` call; spandsp reports at most a few per 20 ms.
    private var found: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    private var foundCount = 0

    /// Creates the receiver; throws when spandsp cannot allocate it. spandsp: dtmf_rx_init
    init() throws(VoiceError) {
        // Unretained: spandsp calls back only from inside dtmf_rx, which this object calls and
        // outlives; retaining would make a cycle the deinit never breaks.
        let user = Unmanaged.passUnretained(self).toOpaque()
        guard let s = dtmf_rx_init(nil, { user, digits, len in
            guard let user, let digits, len > 0 else { return }
            let me = Unmanaged<DTMFDetector>.fromOpaque(user).takeUnretainedValue()
            for i in 0..<Int(len) { me.record(UInt8(bitPattern: digits[i])) }
        }, user) else { throw VoiceError("dtmf: spandsp could not create a DTMF receiver") }
        state = s
    }

    deinit { if let state { dtmf_rx_free(state) } }

    private func record(_ ascii: UInt8) {
        guard let key = DTMFKey(ascii: ascii) else { return }
        switch foundCount {
        case 0: found.0 = key.eventCode
        case 1: found.1 = key.eventCode
        case 2: found.2 = key.eventCode
        case 3: found.3 = key.eventCode
        default: return
        }
        foundCount += 1
    }

    /// Runs the detector over one frame and calls `report` for each digit it completed. spandsp: dtmf_rx
    @inline(__always)
    func process(_ samples: UnsafeBufferPointer<Int16>, report: (DTMFKey) -> Void) {
        foundCount = 0
        _ = dtmf_rx(state, samples.baseAddress, Int32(samples.count))
        let n = foundCount
        if n > 0 { report(DTMFKey(eventCode: found.0)!) }
        if n > 1 { report(DTMFKey(eventCode: found.1)!) }
        if n > 2 { report(DTMFKey(eventCode: found.2)!) }
        if n > 3 { report(DTMFKey(eventCode: found.3)!) }
    }
}

/// Owner of one spandsp DTMF generator: the in-band fallback when the far end did not negotiate
/// telephone-event. Confined to its channel's shard. spandsp: dtmf_tx_init
final class DTMFGenerator {
    private let state: OpaquePointer

    /// Creates the generator with the given tone and gap lengths. spandsp: dtmf_tx_init, dtmf_tx_set_timing
    init(toneMilliseconds: Int, gapMilliseconds: Int) throws(VoiceError) {
        guard let s = dtmf_tx_init(nil) else { throw VoiceError("dtmf: spandsp could not create a DTMF generator") }
        state = s
        dtmf_tx_set_timing(s, Int32(toneMilliseconds), Int32(gapMilliseconds))
    }

    deinit { dtmf_tx_free(state) }

    /// Queues one key (spandsp holds up to 128). Returns false when its queue is full. spandsp: dtmf_tx_put
    func put(_ key: DTMFKey) -> Bool {
        var c = CChar(bitPattern: key.ascii)
        return dtmf_tx_put(state, &c, 1) == 1
    }

    /// Writes up to `samples.count` samples of tone or gap; returns how many (0 when idle). spandsp: dtmf_tx
    @inline(__always)
    func generate(into samples: UnsafeMutableBufferPointer<Int16>) -> Int {
        Int(dtmf_tx(state, samples.baseAddress, Int32(samples.count)))
    }
}
