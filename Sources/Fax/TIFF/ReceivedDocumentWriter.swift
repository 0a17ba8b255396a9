internal import CSpanDSP
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Writes a received fax's pages to its multi-page TIFF away from the media shard.
///
/// spandsp 0.0.6 keeps a received page's whole decoded image and, at the page's end, compresses
/// it (T.4 2D) and writes it with its directory to the TIFF inside the call that ended the page:
/// one media tick of several milliseconds per page, and 455 KB per channel for a fine page. The
/// terminal's page hook takes the rows over instead, a few at a time while the page arrives
/// (`cspandsp_rx_page_hook_drain` after each step, the rest at the page's end), and this writer
/// compresses them as they come (libtiff's CCITT encoder into an unnamed scratch file beside the
/// document: `cspandsp_page_encoder_*`)
/// and, once the page ended, writes it as one raw strip with the tags, page numbering and
/// compressed bytes spandsp's TIFF writer would have written. A page T.30 discarded (RTN) or
/// the call dropped in the middle of never reaches the TIFF, as with spandsp.
/// Pages of one document are written in order on one serial queue (chosen by path, so a call
/// that moves from audio to T.38 keeps its file's writes in order); each piece's rows are freed
/// once compressed, so a receiving channel holds a few rows of its page.
///
/// The shard side (`append`, `close`) only queues work; `waitUntilClosed` blocks and is for
/// callers that are not on a shard.
final class ReceivedDocumentWriter: @unchecked Sendable {
    /// The TIFF writing queues, shared by every receiving terminal of the process.
    private static let queues: [DispatchQueue] = (0..<2).map {
        DispatchQueue(label: "faxd-tiff-write-\($0)", qos: .utility)
    }

    private let path: String
    /// Where the page being received is compressed to (an unnamed scratch file).
    private let directory: String
    private let queue: DispatchQueue
    // Queue-confined (after `init`):
    private var tiff: OpaquePointer?
    private var pagesWritten = 0
    /// The page being received, compressed so far (it also knows whether every piece arrived);
    /// nil between pages.
    private var encoder: OpaquePointer?
    private var closed = false
    /// Pages libtiff refused (spandsp logged such a failure and carried on; so does the writer).
    private var failures = 0
    // Owner-confined (the terminal's thread):
    /// Set when spandsp handed a page over; the owning session clears it after the step.
    var pageEndedThisStep = false
    private var queued = false
    private var closeQueued = false

    init(path: String) {
        self.path = path
        directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var hash: UInt64 = 1469598103934665603
        for byte in path.utf8 { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
        queue = Self.queues[Int(hash % UInt64(Self.queues.count))]
    }

    /// Takes a piece of a page handed over by spandsp (owner's thread): queues its compression
    /// (and the page's write at its end); the piece's memory is freed after it.
    func append(_ page: UnsafeMutablePointer<cspandsp_rx_page_t>) {
        queued = true
        let address = UInt(bitPattern: page)
        queue.async { [self] in
            let page = UnsafeMutablePointer<cspandsp_rx_page_t>(bitPattern: address)!
            write(page)
            cspandsp_rx_page_free(page)
        }
    }

    /// Queues the end of the document (owner's thread; idempotent) and runs `then` after it, on
    /// the writer's queue, or at once on the caller's thread when no page was ever queued.
    func close(then: (@Sendable () -> Void)? = nil) {
        guard queued else {
            closeQueued = true
            then?()
            return
        }
        if !closeQueued {
            closeQueued = true
            queue.async { [self] in finish() }
        }
        if let then { queue.async(execute: then) }
    }

    /// Queues the end of the document and waits for it (never on a media shard).
    func waitUntilClosed() {
        close()
        if queued { queue.sync {} }
    }

    // MARK: - On the writer's queue

    private func write(_ page: UnsafeMutablePointer<cspandsp_rx_page_t>) {
        if closed { return }
        let p = page.pointee
        if p.first_row == 0 || encoder == nil {
            // A page starts (or starts again: T.30 threw the earlier rows away).
            if let encoder { cspandsp_page_encoder_free(encoder) }
            encoder = cspandsp_page_encoder_new(directory, p.width, p.output_compression, p.output_t4_options, Self.dpi(p.x_resolution), Self.dpi(p.y_resolution))
        }
        guard let encoder else {
            if p.final != 0 { failures += 1 }
            return
        }
        if p.rows > 0 { _ = cspandsp_page_encoder_rows(encoder, p.first_row, p.image, p.rows, p.bytes_per_row) }
        guard p.final != 0 else { return }
        defer {
            cspandsp_page_encoder_free(encoder)
            self.encoder = nil
        }
        var strip: UnsafePointer<UInt8>?
        var size = 0
        var rows: UInt32 = 0
        guard cspandsp_page_encoder_finish(encoder, &strip, &size, &rows) == 0, rows == UInt32(p.length), let strip else {
            failures += 1
            return
        }
        writePage(p, strip: strip, size: size)
    }

    /// The page's directory and its strip, compressed already.
    private func writePage(_ p: cspandsp_rx_page_t, strip: UnsafePointer<UInt8>, size: Int) {
        if tiff == nil {
            cspandsp_tiff_quiet()
            tiff = TIFFOpen(path, "w")
            if tiff == nil {
                failures += 1
                return
            }
        }
        guard let tiff else { return }
        let compression = UInt32(p.output_compression)
        _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_COMPRESSION), UInt16(compression))
        if compression == UInt32(COMPRESSION_CCITT_T4) {
            _ = cspandsp_tiff_set_u32(tiff, UInt32(TIFFTAG_T4OPTIONS), UInt32(p.output_t4_options))
            _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_FAXMODE), UInt16(FAXMODE_CLASSF))
        }
        _ = cspandsp_tiff_set_u32(tiff, UInt32(TIFFTAG_IMAGEWIDTH), UInt32(p.width))
        _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_BITSPERSAMPLE), 1)
        _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_ORIENTATION), UInt16(ORIENTATION_TOPLEFT))
        _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_SAMPLESPERPIXEL), 1)
        if compression == UInt32(COMPRESSION_CCITT_T4) || compression == UInt32(COMPRESSION_CCITT_T6) {
            // One strip for the whole page, as spandsp writes it.
            _ = cspandsp_tiff_set_u32(tiff, UInt32(TIFFTAG_ROWSPERSTRIP), UInt32.max)
        } else {
            _ = cspandsp_tiff_set_u32(tiff, UInt32(TIFFTAG_ROWSPERSTRIP), TIFFDefaultStripSize(tiff, 0))
        }
        _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_PLANARCONFIG), UInt16(PLANARCONFIG_CONTIG))
        _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(PHOTOMETRIC_MINISWHITE))
        _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_FILLORDER), UInt16(FILLORDER_LSB2MSB))
        _ = cspandsp_tiff_set_float(tiff, UInt32(TIFFTAG_XRESOLUTION), Self.dpi(p.x_resolution))
        _ = cspandsp_tiff_set_float(tiff, UInt32(TIFFTAG_YRESOLUTION), Self.dpi(p.y_resolution))
        _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_RESOLUTIONUNIT), UInt16(RESUNIT_INCH))
        _ = cspandsp_tiff_set_string(tiff, UInt32(TIFFTAG_SOFTWARE), cspandsp_tiff_software())
        var host = [CChar](repeating: 0, count: 257)
        if gethostname(&host, 256) == 0 {
            _ = cspandsp_tiff_set_string(tiff, UInt32(TIFFTAG_HOSTCOMPUTER), host)
        }
        // The texts spandsp had, even empty ones (it sets a tag for every text it was given).
        if p.present & 1 != 0 { withUnsafeBytes(of: p.dcs) { setText(tiff, UInt32(TIFFTAG_FAXDCS), $0) } }
        if p.present & 2 != 0 { withUnsafeBytes(of: p.sub_address) { setText(tiff, UInt32(TIFFTAG_FAXSUBADDRESS), $0) } }
        if p.present & 4 != 0 { withUnsafeBytes(of: p.far_ident) { setText(tiff, UInt32(TIFFTAG_IMAGEDESCRIPTION), $0) } }
        if p.present & 8 != 0 { withUnsafeBytes(of: p.vendor) { setText(tiff, UInt32(TIFFTAG_MAKE), $0) } }
        if p.present & 16 != 0 { withUnsafeBytes(of: p.model) { setText(tiff, UInt32(TIFFTAG_MODEL), $0) } }
        var now = time_t(p.now)
        var parts = tm()
        localtime_r(&now, &parts)
        let stamp = four(Int(parts.tm_year) + 1900) + "/" + two(Int(parts.tm_mon) + 1) + "/" + two(Int(parts.tm_mday))
            + " " + two(Int(parts.tm_hour)) + ":" + two(Int(parts.tm_min)) + ":" + two(Int(parts.tm_sec))
        _ = cspandsp_tiff_set_string(tiff, UInt32(TIFFTAG_DATETIME), stamp)
        _ = cspandsp_tiff_set_u32(tiff, UInt32(TIFFTAG_FAXRECVTIME), UInt32(truncatingIfNeeded: p.receive_seconds))
        _ = cspandsp_tiff_set_u32(tiff, UInt32(TIFFTAG_IMAGELENGTH), UInt32(p.length))
        // Page n of 1 for now; `finish` puts in the total once it is known.
        _ = cspandsp_tiff_set_u16_pair(tiff, UInt32(TIFFTAG_PAGENUMBER), UInt16(truncatingIfNeeded: pagesWritten), 1)
        pagesWritten += 1
        if compression == UInt32(COMPRESSION_CCITT_T4) {
            if p.bad_rows > 0 {
                _ = cspandsp_tiff_set_u32(tiff, UInt32(TIFFTAG_BADFAXLINES), UInt32(p.bad_rows))
                _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_CLEANFAXDATA), UInt16(CLEANFAXDATA_REGENERATED))
                _ = cspandsp_tiff_set_u32(tiff, UInt32(TIFFTAG_CONSECUTIVEBADFAXLINES), UInt32(p.longest_bad_row_run))
            } else {
                _ = cspandsp_tiff_set_u16(tiff, UInt32(TIFFTAG_CLEANFAXDATA), UInt16(CLEANFAXDATA_CLEAN))
            }
        }
        if TIFFWriteRawStrip(tiff, 0, UnsafeMutableRawPointer(mutating: strip), tmsize_t(size)) < 0 { failures += 1 }
        _ = TIFFWriteDirectory(tiff)
    }

    /// Dots per inch from spandsp's pixels per metre, rounded as spandsp's TIFF writer does.
    private static func dpi(_ pixelsPerMetre: Int32) -> Float { (Float(pixelsPerMetre) / 100 * 2.54 + 0.5).rounded(.down) }

    private func setText(_ tiff: OpaquePointer, _ tag: UInt32, _ bytes: UnsafeRawBufferPointer) {
        _ = cspandsp_tiff_set_string(tiff, tag, bytes.baseAddress!.assumingMemoryBound(to: CChar.self))
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        // A page the call ended in the middle of stays out of the document.
        if let encoder { cspandsp_page_encoder_free(encoder) }
        encoder = nil
        guard let tiff else { return }
        if pagesWritten > 1 {
            // Every page said "of 1"; now the total is known.
            for index in 0..<pagesWritten {
                _ = TIFFSetDirectory(tiff, tdir_t(index))
                _ = cspandsp_tiff_set_u16_pair(tiff, UInt32(TIFFTAG_PAGENUMBER), UInt16(truncatingIfNeeded: index),
                                               UInt16(truncatingIfNeeded: pagesWritten))
                _ = TIFFWriteDirectory(tiff)
            }
        }
        TIFFClose(tiff)
        self.tiff = nil
    }
}

private func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
private func four(_ value: Int) -> String {
    let digits = "\(value)"
    return String(repeating: " ", count: max(0, 4 - digits.count)) + digits
}
