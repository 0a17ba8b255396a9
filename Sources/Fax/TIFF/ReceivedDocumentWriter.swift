internal import CSpanDSP
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Writes a received fax's pages to its multi-page TIFF away from the media shard.
///
/// spandsp 0.0.6 keeps a received page's whole decoded image and, at the page's end, compresses
/// it (T.4 2D) and writes it with its directory to the TIFF inside the call that ended the page:
/// one media tick of several milliseconds per page. The terminal's page hook takes that image
/// over instead (`cspandsp_rx_page_hook_install`), and this writer does what spandsp's TIFF
/// writer did, with the same tags, the same one strip per page and the same page numbering, on
/// a utility queue. Pages of one document are written in order on one serial queue (chosen by
/// path, so a call that moves from audio to T.38 keeps its file's writes in order); the image is
/// freed once written, so between pages a receiving channel holds no page image at all.
///
/// The shard side (`append`, `close`) only queues work; `waitUntilClosed` blocks and is for
/// callers that are not on a shard.
final class ReceivedDocumentWriter: @unchecked Sendable {
    /// The TIFF writing queues, shared by every receiving terminal of the process.
    private static let queues: [DispatchQueue] = (0..<2).map {
        DispatchQueue(label: "faxd-tiff-write-\($0)", qos: .utility)
    }

    private let path: String
    private let queue: DispatchQueue
    // Queue-confined (after `init`):
    private var tiff: OpaquePointer?
    private var pagesWritten = 0
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
        var hash: UInt64 = 1469598103934665603
        for byte in path.utf8 { hash = (hash ^ UInt64(byte)) &* 1099511628211 }
        queue = Self.queues[Int(hash % UInt64(Self.queues.count))]
    }

    /// Takes a page handed over by spandsp (owner's thread): queues its write; the page's memory
    /// is freed after it.
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
        if tiff == nil {
            cspandsp_tiff_quiet()
            tiff = TIFFOpen(path, "w")
            if tiff == nil {
                failures += 1
                return
            }
        }
        guard let tiff else { return }
        let p = page.pointee
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
        // Resolutions in dots per inch, rounded (spandsp converts its pixels per metre so).
        let inch: Float = 2.54
        _ = cspandsp_tiff_set_float(tiff, UInt32(TIFFTAG_XRESOLUTION), (Float(p.x_resolution) / 100 * inch + 0.5).rounded(.down))
        _ = cspandsp_tiff_set_float(tiff, UInt32(TIFFTAG_YRESOLUTION), (Float(p.y_resolution) / 100 * inch + 0.5).rounded(.down))
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
        let bytes = Int(p.length) * Int(p.bytes_per_row)
        if TIFFWriteEncodedStrip(tiff, 0, p.image, tmsize_t(bytes)) < 0 { failures += 1 }
        _ = TIFFWriteDirectory(tiff)
    }

    private func setText(_ tiff: OpaquePointer, _ tag: UInt32, _ bytes: UnsafeRawBufferPointer) {
        _ = cspandsp_tiff_set_string(tiff, tag, bytes.baseAddress!.assumingMemoryBound(to: CChar.self))
    }

    private func finish() {
        guard !closed else { return }
        closed = true
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
