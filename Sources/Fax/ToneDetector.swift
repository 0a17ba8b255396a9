internal import CSpanDSP

/// Fax calling and answer tones seen on a call (ITU-T T.30 section 5.2: CNG 1100 Hz, CED 2100 Hz).
public struct FaxTones: Sendable, Equatable, Codable {
    /// The calling tone (CNG) was heard.
    public var cng = false
    /// The answer tone (CED/ANS) was heard.
    public var ced = false
    public init(cng: Bool = false, ced: Bool = false) {
        self.cng = cng
        self.ced = ced
    }
}

/// Listens for CNG and CED in received audio until both are seen or it is told to stop
/// (spandsp: modem_connect_tones_rx). Confined to its terminal's shard queue.
final class ToneDetector {
    private let cngDetector: OpaquePointer
    private let cedDetector: OpaquePointer
    private(set) var tones = FaxTones()
    /// Set when detection is no longer useful (T.30 already negotiating): saves the filter cost.
    var stopped = false

    init() throws(FaxError) {
        guard let cng = modem_connect_tones_rx_init(nil, Int32(MODEM_CONNECT_TONES_FAX_CNG), nil, nil) else {
            throw FaxError(.engineInitFailed, "spandsp could not create a CNG detector")
        }
        guard let ced = modem_connect_tones_rx_init(nil, Int32(MODEM_CONNECT_TONES_ANS), nil, nil) else {
            modem_connect_tones_rx_free(cng)
            throw FaxError(.engineInitFailed, "spandsp could not create a CED detector")
        }
        cngDetector = cng
        cedDetector = ced
    }

    deinit {
        modem_connect_tones_rx_free(cngDetector)
        modem_connect_tones_rx_free(cedDetector)
    }

    /// Feeds received samples to the detectors that have not fired yet.
    func process(_ samples: UnsafeBufferPointer<Int16>) {
        guard !stopped, let base = samples.baseAddress else { return }
        let count = Int32(samples.count)
        if !tones.cng {
            modem_connect_tones_rx(cngDetector, base, count)
            if modem_connect_tones_rx_get(cngDetector) == Int32(MODEM_CONNECT_TONES_FAX_CNG) { tones.cng = true }
        }
        if !tones.ced {
            modem_connect_tones_rx(cedDetector, base, count)
            if modem_connect_tones_rx_get(cedDetector) == Int32(MODEM_CONNECT_TONES_ANS) { tones.ced = true }
        }
        if tones.cng && tones.ced { stopped = true }
    }
}

/// Listens for a calling fax machine's CNG (1100 Hz, 0.5 s on, 3 s off) in a voice call's
/// received audio, for the `auto` numbers that answer as voice and switch to fax. Confined to
/// the shard of the call it listens to. ITU-T T.30 section 5.2, spandsp: modem_connect_tones_rx
public final class CallingToneListener: @unchecked Sendable {
    private let detector: ToneDetector

    public init() throws(FaxError) { detector = try ToneDetector() }

    /// Feeds 20 ms of received audio; true once CNG was heard.
    public func heardCNG(_ samples: UnsafeBufferPointer<Int16>) -> Bool {
        detector.process(samples)
        return detector.tones.cng
    }
}
