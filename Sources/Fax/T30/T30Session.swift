internal import CSpanDSP

/// Configures one spandsp T.30 engine and records what its phase B/D/E handlers report.
/// The T.30 state belongs to the terminal that owns this session (audio or T.38); the session only
/// borrows it. Confined to the owner's media shard queue like the terminal.
final class T30Session {
    private let t30: OpaquePointer
    let job: FaxJob
    private(set) var completion: T30Result?
    private(set) var finalResult: FaxTransferResult?
    /// Pages confirmed so far (phase D count).
    private(set) var pagesDone = 0
    /// True once phase B (negotiation) started.
    private(set) var negotiated = false
    /// Published progress for other threads (pages, bit rate), if the owner wants it.
    let progress: FaxProgress?
    /// A receiver's pages: spandsp hands each finished page to `pageHook`, the writer writes it to
    /// the job's TIFF on a utility queue (spandsp itself writes only its scratch file, which it
    /// removes at the end because no page reached it).
    private let writer: ReceivedDocumentWriter?
    private let pageHook: OpaquePointer?
    /// A sender's pages after the first: decoded ahead on a utility queue and fed to spandsp's
    /// encoder (`SentPageReader`); nil when the sender reads them itself.
    private let reader: SentPageReader?
    private let pageSource: OpaquePointer?
    /// The document's page count once the reader found it fit to feed; -1 not yet known, 0 never.
    private var feedablePages = -1
    /// The last page whose decoding was asked for.
    private var prefetched = -1

    /// The file spandsp opens for a received document: `path` + ".spandsp". It stays empty and
    /// spandsp removes it when the session ends (t4_rx removes a file it wrote no page to); a
    /// process killed during the call leaves it behind (`FaxJob.removeScratchFiles`).
    static func scratchPath(for path: String) -> String { path + ".spandsp" }

    /// Applies identity, capabilities and the document to `t30` (spandsp: t30_set_* in t30_api.h).
    init(t30: OpaquePointer, job: FaxJob, options: FaxOptions, logTag: String, progress: FaxProgress? = nil) {
        self.t30 = t30
        self.progress = progress
        self.job = job
        cspandsp_configure_logging(t30_get_logging_state(t30), Int32(options.debugLogLevel),
                                   options.debugLogLevel > 0 ? 1 : 0, logTag)
        if !options.stationID.isEmpty { t30_set_tx_ident(t30, String(options.stationID.prefix(20))) }
        if let header = options.headerInfo, !header.isEmpty { t30_set_tx_page_header_info(t30, header) }
        t30_set_ecm_capability(t30, options.ecm ? 1 : 0)
        t30_set_supported_modems(t30, Int32(options.modems.rawValue))
        var compressions = options.compressions
        // T.6 is only defined with ECM (T.30 Table 2 note); never offer it without.
        if !options.ecm { compressions.remove(.t6) }
        t30_set_supported_compressions(t30, Int32(compressions.rawValue))
        t30_set_supported_resolutions(t30, Int32(T30_SUPPORT_STANDARD_RESOLUTION
            | T30_SUPPORT_FINE_RESOLUTION | T30_SUPPORT_SUPERFINE_RESOLUTION
            | T30_SUPPORT_R8_RESOLUTION | T30_SUPPORT_R16_RESOLUTION))
        t30_set_supported_image_sizes(t30, Int32(T30_SUPPORT_US_LETTER_LENGTH
            | T30_SUPPORT_US_LEGAL_LENGTH | T30_SUPPORT_UNLIMITED_LENGTH
            | T30_SUPPORT_215MM_WIDTH | T30_SUPPORT_255MM_WIDTH
            | T30_SUPPORT_303MM_WIDTH))
        switch job {
        case .send(let path): t30_set_tx_file(t30, path, options.firstPage > 0 ? Int32(options.firstPage) : -1, -1)
        case .receive(let path):
            t30_set_rx_file(t30, options.receivedPagesWrittenBySpanDSP ? path : Self.scratchPath(for: path), -1)
        }
        if case .receive(let path) = job, !options.receivedPagesWrittenBySpanDSP {
            let writer = ReceivedDocumentWriter(path: path)
            self.writer = writer
            pageHook = cspandsp_rx_page_hook_new({ user, page in
                guard let user, let page else { return }
                let writer = Unmanaged<ReceivedDocumentWriter>.fromOpaque(user).takeUnretainedValue()
                if page.pointee.final != 0 { writer.pageEndedThisStep = true }
                writer.append(page)
            }, Unmanaged.passUnretained(writer).toOpaque())
        } else {
            writer = nil
            pageHook = nil
        }
        if case .send(let path) = job, !options.sentPagesReadBySpanDSP {
            let reader = SentPageReader(path: path)
            self.reader = reader
            pageSource = cspandsp_tx_page_source_new({ user, index, stride, rows in
                guard let user, let stride, let rows else { return nil }
                let page = Unmanaged<SentPageReader>.fromOpaque(user).takeUnretainedValue().take(Int(index))
                stride.pointee = Int32(page.bytesPerRow)
                rows.pointee = Int32(page.count)
                return page.rows
            }, Unmanaged.passUnretained(reader).toOpaque())
        } else {
            reader = nil
            pageSource = nil
        }
        // spandsp's init zeroed its ECM frame buffer (touching every page of it); a call without
        // ECM never writes it, one with ECM writes as many frames as its blocks need.
        _ = cspandsp_t30_release_ecm_buffer(t30)
    }

    deinit {
        // The owning terminal freed the T.30 state first: spandsp can no longer call the hook.
        writer?.close()
        if let pageHook { cspandsp_rx_page_hook_free(pageHook) }
        if let pageSource { cspandsp_tx_page_source_free(pageSource) }
    }

    /// A sender's per-step work for its page source: once spandsp started sending (t4_tx_init,
    /// which also read the first page) and the document is fit to feed, puts the source in place;
    /// when T.30 reaches the post-page exchange of a page, asks for the next page's decoding.
    /// No lock once the document's fitness is known (one per page then, to queue the decoding).
    func feedPages() {
        guard let reader, let pageSource, feedablePages != 0 else { return }
        if feedablePages < 0 {
            guard let known = reader.fitness else { return }
            feedablePages = known
            if known == 0 { return }
        }
        _ = cspandsp_tx_page_source_install(t30, pageSource, Int32(feedablePages - 1))
        let current = Int(cspandsp_t30_tx_current_page(t30))
        guard current >= 0, current + 1 < feedablePages, prefetched < current + 1 else { return }
        let phase = self.phase
        if phase == .dSending || phase == .dReceiving {
            prefetched = current + 1
            reader.prefetch(current + 1)
        }
    }

    /// Rows of a received page a channel keeps before handing them to the writer (3.5 KB at A4 width).
    static let rowsHeldAtMost: Int32 = 16

    /// The owner calls this after each step it runs spandsp for. A receiver: puts the page hook in
    /// place once spandsp started receiving the document (its t4_rx_init clears any handler; a
    /// page ends many steps after reception starts, so the hook is always there by then), and
    /// after a page ended gives the ECM frame buffer back. A sender: `feedPages`.
    @inline(__always)
    func armPageHooks() {
        if let pageHook {
            _ = cspandsp_rx_page_hook_install(t30, pageHook)
            // The rows decoded so far go to the writer: a channel holds at most a few dozen rows
            // of its page (an ECM block decodes at once, and is handed over right after).
            _ = cspandsp_rx_page_hook_drain(pageHook, Self.rowsHeldAtMost)
            if let writer, writer.pageEndedThisStep {
                // The page's blocks are committed: the ECM frames are dead until the next block.
                writer.pageEndedThisStep = false
                _ = cspandsp_t30_release_ecm_buffer(t30)
            }
        }
        if reader != nil { feedPages() }
    }

    /// Installs the handlers; `self` must outlive the T.30 state (the owning terminal guarantees it).
    func installHandlers() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        t30_set_phase_b_handler(t30, { _, user, _ in
            Unmanaged<T30Session>.fromOpaque(user!).takeUnretainedValue().phaseB()
            return Int32(T30_ERR_OK)
        }, me)
        t30_set_phase_d_handler(t30, { _, user, _ in
            Unmanaged<T30Session>.fromOpaque(user!).takeUnretainedValue().pageConfirmed()
            return Int32(T30_ERR_OK)
        }, me)
        t30_set_phase_e_handler(t30, { _, user, code in
            Unmanaged<T30Session>.fromOpaque(user!).takeUnretainedValue().phaseE(code: Int(code))
        }, me)
    }

    /// Where T.30 is now (spandsp's private `t30_state_t.phase`, read through the shim).
    var phase: T30Phase { T30Phase(rawValue: Int(cspandsp_t30_phase(t30))) }

    private func phaseB() {
        negotiated = true
        guard let progress else { return }
        var stats = t30_stats_t()
        t30_get_transfer_statistics(t30, &stats)
        progress.update(bitRate: Int(stats.bit_rate))
    }

    private func pageConfirmed() {
        var stats = t30_stats_t()
        t30_get_transfer_statistics(t30, &stats)
        pagesDone = Int(job.isSending ? stats.pages_tx : stats.pages_rx)
        progress?.update(pages: pagesDone)
        progress?.update(bitRate: Int(stats.bit_rate))
    }

    private func phaseE(code: Int) {
        completion = T30Result(rawValue: code)
        finalResult = snapshot(result: T30Result(rawValue: code))
    }

    /// Ends the session now (call dropped); spandsp runs phase E, closing the received TIFF with the
    /// pages accepted so far (spandsp: t30_terminate).
    func terminate() {
        if completion == nil { t30_terminate(t30) }
        if finalResult == nil { finalResult = snapshot(result: .callDropped) }
    }

    /// Queues the end of the received document (no more pages) and runs `then` once every page
    /// is in the TIFF and the file is closed: on the writer's queue, or at once when no page was
    /// queued (or the job sends).
    func closeDocument(then: (@Sendable () -> Void)? = nil) {
        if let writer { writer.close(then: then) } else { then?() }
    }

    /// Queues the end of the received document and waits for it (never on a media shard).
    func closeDocumentAndWait() { writer?.waitUntilClosed() }

    /// Pages fed to spandsp's encoder by the reader (see `SentPageReader.fed`).
    var pagesFed: (ahead: Int, late: Int) { reader?.fed ?? (0, 0) }

    /// Waits for pages being decoded ahead (tests on a manual clock).
    func waitForPreparedPages() { reader?.waitForPending() }

    /// Bytes of the ECM frame buffer in memory now (see cspandsp_t30_resident_ecm_bytes).
    var residentECMBytes: Int { Int(cspandsp_t30_resident_ecm_bytes(t30)) }

    /// Bytes of page buffer spandsp holds now (see cspandsp_t30_t4_image_bytes).
    var pageBufferBytes: Int { Int(cspandsp_t30_t4_image_bytes(t30)) }

    /// The statistics now, as a value.
    func snapshot(result: T30Result) -> FaxTransferResult {
        var stats = t30_stats_t()
        t30_get_transfer_statistics(t30, &stats)
        let transferred = Int(job.isSending ? stats.pages_tx : stats.pages_rx)
        let total = job.isSending ? max(Int(stats.pages_in_file), transferred) : transferred
        let remote = t30_get_rx_ident(t30).map { String(cString: $0) } ?? ""
        return FaxTransferResult(
            result: result, bitRate: Int(stats.bit_rate), ecm: stats.error_correcting_mode != 0,
            pagesTransferred: transferred, pagesTotal: total,
            xResolution: Int(stats.x_resolution), yResolution: Int(stats.y_resolution),
            width: Int(stats.width), length: Int(stats.length),
            compression: Self.compressionName(Int(stats.encoding)),
            badRows: Int(stats.bad_rows), longestBadRowRun: Int(stats.longest_bad_row_run),
            ecmRetries: Int(stats.error_correcting_mode_retries),
            remoteStationID: remote.trimmingSpaces())
    }

    static func compressionName(_ encoding: Int) -> String {
        switch encoding {
        case Int(T4_COMPRESSION_ITU_T4_1D.rawValue): return "T.4 1D"
        case Int(T4_COMPRESSION_ITU_T4_2D.rawValue): return "T.4 2D"
        case Int(T4_COMPRESSION_ITU_T6.rawValue): return "T.6"
        case Int(T4_COMPRESSION_NONE.rawValue): return "none"
        default: return "encoding \(encoding)"
        }
    }
}

extension String {
    /// Station identifiers arrive space padded to 20 characters (T.30 5.3.6.2.4).
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
