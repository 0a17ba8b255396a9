internal import CSpanDSP

/// A T.30 fax terminal over audio (G.711 samples at 8 kHz): spandsp's fax modem stack plus a
/// CNG/CED detector. Owns its `fax_state_t`. Confined to one media shard queue (or one test
/// thread); it never blocks, allocates or logs per call (spandsp: fax.h).
public final class AudioFaxTerminal: @unchecked Sendable {
    private let fax: OpaquePointer
    private let session: T30Session
    private let detector: ToneDetector
    /// The job this terminal runs.
    public let job: FaxJob

    /// Creates the terminal. The calling party sends CNG and waits for DIS; the answering party
    /// sends CED then DIS (spandsp: fax_init, t30_set_tx_file / t30_set_rx_file).
    public init(job: FaxJob, callingParty: Bool, options: FaxOptions, progress: FaxProgress? = nil) throws(FaxError) {
        try FaxDocumentCheck.validate(job)
        self.job = job
        guard let fax = fax_init(nil, callingParty ? 1 : 0) else {
            throw FaxError(.engineInitFailed, "spandsp could not create a fax terminal (fax_init failed)")
        }
        self.fax = fax
        detector = try ToneDetector()
        let tag = callingParty ? "FAX-CALLING" : "FAX-ANSWERING"
        cspandsp_configure_logging(fax_get_logging_state(fax), Int32(options.debugLogLevel),
                                   options.debugLogLevel > 0 ? 1 : 0, tag)
        session = T30Session(t30: fax_get_t30_state(fax), job: job, options: options, logTag: tag, progress: progress)
        session.installHandlers()
        // Keep sending silence while idle so the RTP stream never stops (spandsp: fax_set_transmit_on_idle).
        fax_set_transmit_on_idle(fax, 1)
        fax_set_tep_mode(fax, 0)
    }

    deinit {
        fax_free(fax)
    }

    /// Feeds received audio (spandsp: fax_rx).
    public func receive(_ samples: UnsafeMutableBufferPointer<Int16>) {
        guard let base = samples.baseAddress else { return }
        if !detector.stopped {
            detector.process(UnsafeBufferPointer(samples))
            if session.negotiated { detector.stopped = true }
        }
        fax_rx(fax, base, Int32(samples.count))
        session.armPageHooks()
    }

    /// Reports `count` samples that were lost or arrived too late (spandsp: fax_rx_fillin).
    /// Feeding silence instead breaks the modems' timing; fill-in lets them coast.
    public func fillIn(_ count: Int) {
        fax_rx_fillin(fax, Int32(count))
    }

    /// Produces exactly `buffer.count` samples to transmit (spandsp: fax_tx; idle is silence).
    public func transmit(into buffer: UnsafeMutableBufferPointer<Int16>) {
        guard let base = buffer.baseAddress else { return }
        let produced = Int(fax_tx(fax, base, Int32(buffer.count)))
        session.armPageHooks()
        if produced < buffer.count {
            (base + produced).update(repeating: 0, count: buffer.count - produced)
        }
    }

    /// True once T.30 reached phase E (success or failure).
    public var isComplete: Bool { session.completion != nil }

    /// Where T.30 is now.
    public var phase: T30Phase { session.phase }

    /// The result once complete.
    public var result: FaxTransferResult? { session.finalResult }

    /// Pages confirmed so far.
    public var pagesDone: Int { session.pagesDone }

    /// Bytes of spandsp state one audio terminal holds (its `fax_state_t`), before page images.
    public static var stateBytes: Int { Int(cspandsp_fax_state_size()) }

    /// Tones heard so far.
    public var tones: FaxTones { detector.tones }

    /// The final result: ends the session now if it has not reached phase E (call hung up; spandsp:
    /// t30_terminate), otherwise the phase E result unchanged.
    @discardableResult
    public func hangUp() -> FaxTransferResult {
        session.terminate()
        session.closeDocumentAndWait()
        return session.finalResult!
    }

    /// Ends the session now like `hangUp()`, without waiting for the received document's writes
    /// (media shards): `then` runs once the TIFF is complete, on the page writer's queue, or at
    /// once when no page is pending.
    public func hangUp(then: @escaping @Sendable (FaxTransferResult) -> Void) {
        session.terminate()
        let result = session.finalResult!
        session.closeDocument { then(result) }
    }

    /// Waits until the pages a sender decodes ahead are decoded: a manual clock runs a call in a
    /// fraction of a second, without the second or more of wall time a page's post-page exchange
    /// gives the decoding in a real call. Not for a media shard.
    public func waitForPreparedPages() { session.waitForPreparedPages() }

    /// A sender's pages given to spandsp already decoded (`ahead`), or decoded when spandsp asked
    /// for them (`late`, inside its tick, as spandsp itself would); the first page and pages of a
    /// document whose pages differ in width or resolution are read by spandsp and counted in
    /// neither.
    public var pagesFed: (ahead: Int, late: Int) { session.pagesFed }

    /// Bytes of spandsp's ECM frame buffer (256 x 260 bytes inside its state) in memory now: the
    /// terminal gives its pages back after init and, receiving, after each page; only frames
    /// written since take memory.
    public var residentECMBytes: Int { session.residentECMBytes }

    /// Bytes of page buffer spandsp holds for this call now: a receiver's decoded page while it
    /// arrives (none between pages: the page writer took it), a sender's encoded page.
    public var pageBufferBytes: Int { session.pageBufferBytes }
}
