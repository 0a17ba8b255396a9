internal import CSpanDSP

/// Where a T.38 terminal's IFP packets go (the channel wraps them in UDPTL).
public protocol T38PacketSink: AnyObject {
    /// One IFP packet to send `repeatCount` times (spandsp repeats indicators for robustness);
    /// the bytes are valid only during the call. Must not block.
    func sendIFP(_ ifp: UnsafeRawBufferPointer, repeatCount: Int)
}

/// The session parameters a T.38 terminal runs with, from the SDP negotiation
/// (ITU-T T.38 Annex D attributes).
public struct T38Session: Sendable, Equatable, Codable {
    /// T38FaxVersion agreed.
    public var version: Int
    /// Largest IFP the far end accepts in one datagram (from its T38FaxMaxDatagram, minus UDPTL overhead).
    public var maxIFPSize: Int
    /// T38FaxMaxBuffer we announce.
    public var maxBuffer: Int
    /// T38MaxBitRate agreed.
    public var maxBitRate: Int
    /// T38FaxFillBitRemoval agreed by both sides.
    public var fillBitRemoval: Bool

    public init(version: Int = 0, maxIFPSize: Int = 400, maxBuffer: Int = 2000, maxBitRate: Int = 14400, fillBitRemoval: Bool = false) {
        self.version = version
        self.maxIFPSize = maxIFPSize
        self.maxBuffer = maxBuffer
        self.maxBitRate = maxBitRate
        self.fillBitRemoval = fillBitRemoval
    }
}

/// A T.30 fax terminal over T.38 IFP packets: spandsp's T.38 terminal, paced by the media clock.
/// Owns its `t38_terminal_state_t`. Confined to one media shard queue (spandsp: t38_terminal.h).
public final class T38FaxTerminal: @unchecked Sendable {
    private let terminal: OpaquePointer
    private let core: OpaquePointer
    private let session: T30Session
    private unowned(unsafe) let sink: T38PacketSink
    /// Handed to spandsp as the packet handler's user data before `self` exists; filled in after.
    private let context: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// The job this terminal runs.
    public let job: FaxJob
    /// The negotiated T.38 parameters.
    public let parameters: T38Session

    /// Creates the terminal; `sink` must outlive it (the channel owns both).
    public init(job: FaxJob, callingParty: Bool, options: FaxOptions, session parameters: T38Session,
                sink: T38PacketSink, progress: FaxProgress? = nil) throws(FaxError) {
        try FaxDocumentCheck.validate(job)
        self.job = job
        self.parameters = parameters
        self.sink = sink
        context = .allocate(capacity: 1)
        context.initialize(to: nil)
        // spandsp wants the handler's user data before `self` exists: give it a slot filled below.
        guard let terminal = t38_terminal_init(nil, callingParty ? 1 : 0, { _, user, buf, len, count in
            guard let slot = user?.assumingMemoryBound(to: UnsafeMutableRawPointer?.self),
                  let owner = slot.pointee, let buf else { return 0 }
            let me = Unmanaged<T38FaxTerminal>.fromOpaque(owner).takeUnretainedValue()
            me.sink.sendIFP(UnsafeRawBufferPointer(start: buf, count: Int(len)), repeatCount: Int(count))
            return 0
        }, context) else {
            context.deallocate()
            throw FaxError(.engineInitFailed, "spandsp could not create a T.38 terminal (t38_terminal_init failed)")
        }
        self.terminal = terminal
        self.core = t38_terminal_get_t38_core_state(terminal)
        let tag = callingParty ? "T38-CALLING" : "T38-ANSWERING"
        cspandsp_configure_logging(t38_terminal_get_logging_state(terminal), Int32(options.debugLogLevel),
                                   options.debugLogLevel > 0 ? 1 : 0, tag)
        cspandsp_configure_logging(t38_core_get_logging_state(core), Int32(options.debugLogLevel),
                                   options.debugLogLevel > 0 ? 1 : 0, tag)
        session = T30Session(t30: t38_terminal_get_t30_state(terminal), job: job, options: options, logTag: tag, progress: progress)
        session.installHandlers()
        context.pointee = Unmanaged.passUnretained(self).toOpaque()
        t38_set_t38_version(core, Int32(parameters.version))
        t38_set_max_datagram_size(core, Int32(parameters.maxIFPSize))
        t38_set_max_buffer_size(core, Int32(parameters.maxBuffer))
        t38_set_fastest_image_data_rate(core, Int32(parameters.maxBitRate))
        t38_set_fill_bit_removal(core, parameters.fillBitRemoval ? 1 : 0)
        t38_set_mmr_transcoding(core, 0)
        t38_set_jbig_transcoding(core, 0)
        // UDP: the TCF training check is transferred end to end (T.38 Annex D, T38FaxRateManagement).
        t38_set_data_rate_management_method(core, Int32(T38_DATA_RATE_MANAGEMENT_TRANSFERRED_TCF.rawValue))
        t38_terminal_set_config(terminal, 0)
        t38_terminal_set_tep_mode(terminal, 0)
        t38_terminal_set_fill_bit_removal(terminal, parameters.fillBitRemoval ? 1 : 0)
    }

    deinit {
        t38_terminal_free(terminal)
        context.deallocate()
    }

    /// Feeds one received IFP with its UDPTL sequence number (spandsp: t38_core_rx_ifp_packet).
    public func receiveIFP(_ ifp: UnsafeRawBufferPointer, sequence: UInt16) {
        guard let base = ifp.baseAddress else { return }
        t38_core_rx_ifp_packet(core, base.assumingMemoryBound(to: UInt8.self), Int32(ifp.count), sequence)
        // After every IFP, not only in `advance`: an IFP may complete an ECM block, which spandsp
        // decodes into a whole page image at once; its rows go to the writer right away, whatever
        // order the owner calls receive and advance in.
        session.armPageHooks()
    }

    /// Lets `samples` (8 kHz) of time pass: drives T.30 timers and paces transmission
    /// (spandsp: t38_terminal_send_timeout).
    public func advance(samples: Int) {
        t38_terminal_send_timeout(terminal, Int32(samples))
        session.armPageHooks()
    }

    /// True once T.30 reached phase E.
    public var isComplete: Bool { session.completion != nil }

    /// Where T.30 is now.
    public var phase: T30Phase { session.phase }

    /// Bytes of spandsp state one T.38 terminal holds (its `t38_terminal_state_t`), before page images.
    public static var stateBytes: Int { Int(cspandsp_t38_terminal_state_size()) }

    /// The result once complete.
    public var result: FaxTransferResult? { session.finalResult }

    /// Pages confirmed so far.
    public var pagesDone: Int { session.pagesDone }

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
