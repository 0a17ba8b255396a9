internal import CSpanDSP
#if canImport(Glibc)
import Glibc
#endif

/// One decoded fax page: a 1-bit raster, rows packed MSB first, 1 = black.
public struct FaxPageImage: Sendable, Equatable {
    /// Pixels per row.
    public var width: Int
    /// Rows.
    public var height: Int
    /// Horizontal resolution in dots per inch as the TIFF states it.
    public var xDPI: Double
    /// Vertical resolution in dots per inch as the TIFF states it.
    public var yDPI: Double
    /// TIFF compression tag value (3 = T.4, 4 = T.6).
    public var compression: Int
    /// Bytes per packed row.
    public var rowBytes: Int { (width + 7) / 8 }
    /// Packed rows, `rowBytes * height` bytes, 1 = black.
    public var bits: [UInt8]

    /// Rows that differ from `other` (rows missing from the shorter page count as different).
    public func differingRows(from other: FaxPageImage) -> Int {
        guard width == other.width else { return max(height, other.height) }
        let common = min(height, other.height)
        var differing = abs(height - other.height)
        for row in 0..<common {
            let a = row * rowBytes
            if bits[a..<(a + rowBytes)] != other.bits[a..<(a + rowBytes)] { differing += 1 }
        }
        return differing
    }

    /// Number of black pixels, handy to tell a blank page from a page with content.
    public var blackPixels: Int { bits.reduce(0) { $0 + $1.nonzeroBitCount } }
}

/// A multi-page TIFF opened for reading (libtiff: TIFFOpen, TIFFReadScanline). Owns its `TIFF*`.
public final class TIFFDocument {
    /// The libtiff handle; the module's readers (`codedPage`) share it, never outside `Fax`.
    let tiff: OpaquePointer
    /// The file it was opened from.
    public let path: String
    /// Its size in bytes when opened (a bound for what any strip can hold).
    public let fileSize: UInt64

    /// Opens `path`; throws a `FaxError` naming the file when libtiff cannot read it.
    public init(path: String) throws(FaxError) {
        cspandsp_tiff_quiet()
        // Opened here, not by TIFFOpen, so the open's errno is ours to read: out of descriptors
        // (EMFILE under a connection flood) is temporary, while a file libtiff cannot parse is not.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FaxError.opening(path, errno: errno, "cannot read the file") }
        guard let tiff = TIFFFdOpen(fd, path, "r") else {
            close(fd)
            throw FaxError(.documentUnreadable, "\(FileName.shown(path)): not a TIFF file libtiff can read")
        }
        self.tiff = tiff
        self.path = path
        var info = stat()
        fileSize = stat(path, &info) == 0 ? UInt64(info.st_size) : UInt64(Int32.max)
    }

    deinit { TIFFClose(tiff) }

    /// Number of pages (TIFF directories).
    public var pageCount: Int { Int(TIFFNumberOfDirectories(tiff)) }

    /// Selects page `index` and reads its tags only (no image data); throws unless it is bilevel.
    func layout(_ index: Int) throws(FaxError) -> (width: UInt32, height: UInt32) {
        guard index >= 0, index < pageCount, TIFFSetDirectory(tiff, tdir_t(index)) == 1 else {
            throw FaxError(.documentUnsuitable, "\(FileName.shown(path)): has no page \(index + 1) (it has \(pageCount))")
        }
        var width: UInt32 = 0, height: UInt32 = 0
        var bitsPerSample: UInt16 = 1, samplesPerPixel: UInt16 = 1
        _ = cspandsp_tiff_get_u32(tiff, UInt32(TIFFTAG_IMAGEWIDTH), &width)
        _ = cspandsp_tiff_get_u32(tiff, UInt32(TIFFTAG_IMAGELENGTH), &height)
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_BITSPERSAMPLE), &bitsPerSample)
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_SAMPLESPERPIXEL), &samplesPerPixel)
        guard bitsPerSample == 1, samplesPerPixel == 1 else {
            throw FaxError(.documentUnsuitable,
                           "\(FileName.shown(path)): page \(index + 1) has \(bitsPerSample) bits per sample and \(samplesPerPixel) samples per pixel; fax needs bilevel (1 bit, 1 sample)")
        }
        // No fax page is larger (A3 at R16 is 4864 x about 9000): forged sizes must not make faxd
        // allocate gigabytes for a page image (found by faxd-fuzz).
        guard width > 0, width <= 16_384, height > 0, height <= 65_536 else {
            throw FaxError(.documentUnsuitable, "\(FileName.shown(path)): page \(index + 1) is \(width)x\(height) pixels; no fax page is that size")
        }
        return (width, height)
    }

    /// Width in pixels of page `index`, from its tags (fast: no image data is decoded).
    public func pageWidth(_ index: Int) throws(FaxError) -> Int { Int(try layout(index).width) }

    /// Decodes page `index` (0-based) into a packed 1-bit raster, 1 = black.
    public func page(_ index: Int) throws(FaxError) -> FaxPageImage {
        let (width, height) = try layout(index)
        var photometric: UInt16 = 0, compression: UInt16 = 1
        var xres: Float = 0, yres: Float = 0, unit: UInt16 = 2
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_PHOTOMETRIC), &photometric)
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_COMPRESSION), &compression)
        _ = cspandsp_tiff_get_float(tiff, UInt32(TIFFTAG_XRESOLUTION), &xres)
        _ = cspandsp_tiff_get_float(tiff, UInt32(TIFFTAG_YRESOLUTION), &yres)
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_RESOLUTIONUNIT), &unit)
        let rowBytes = (Int(width) + 7) / 8
        let scanline = Int(TIFFScanlineSize(tiff))
        var bits = [UInt8](repeating: 0, count: rowBytes * Int(height))
        var row = [UInt8](repeating: 0, count: max(scanline, rowBytes))
        let invert = photometric == UInt16(PHOTOMETRIC_MINISBLACK)
        for y in 0..<Int(height) {
            let ok = row.withUnsafeMutableBytes { TIFFReadScanline(tiff, $0.baseAddress, UInt32(y), 0) }
            guard ok == 1 else {
                throw FaxError(.documentUnsuitable, "\(FileName.shown(path)): page \(index + 1) row \(y) cannot be decoded")
            }
            let base = y * rowBytes
            for i in 0..<rowBytes { bits[base + i] = invert ? ~row[i] : row[i] }
            // Bits past the row width are padding; clear them so comparisons ignore them.
            if width % 8 != 0 { bits[base + rowBytes - 1] &= UInt8(truncatingIfNeeded: 0xFF << (8 - Int(width % 8))) }
        }
        let perInch: Double = unit == UInt16(RESUNIT_CENTIMETER) ? 2.54 : 1
        return FaxPageImage(width: Int(width), height: Int(height), xDPI: Double(xres) * perInch,
                            yDPI: Double(yres) * perInch, compression: Int(compression), bits: bits)
    }

    /// Decodes every page.
    public func pages() throws(FaxError) -> [FaxPageImage] {
        var result: [FaxPageImage] = []
        for i in 0..<pageCount { result.append(try page(i)) }
        return result
    }
}

/// Checks a job's document before a session starts, so a bad file fails with a clear reason
/// instead of a T.30 error half a minute into the call. Tags only: it runs on the SIP thread for
/// every outbound call and T.38 switch, and decoding every row there cost milliseconds.
public enum FaxDocumentCheck {
    /// Page widths spandsp 0.0.6 can send at R8 (A4/Letter, B4, A3).
    static let faxWidths: Set<Int> = [1728, 2048, 2432, 3456, 4096, 4864]

    /// Checks a document to send (pages, fax widths) by its tags; returns its page count.
    @discardableResult
    public static func sendablePages(_ path: String) throws(FaxError) -> Int {
        let document = try TIFFDocument(path: path)
        guard document.pageCount > 0 else { throw FaxError(.documentUnsuitable, "\(FileName.shown(path)): has no pages") }
        for index in 0..<document.pageCount {
            let width = try document.pageWidth(index)
            guard faxWidths.contains(width) else {
                throw FaxError(.documentUnsuitable,
                               "\(FileName.shown(path)): page \(index + 1) is \(width) pixels wide; fax pages are 1728 (A4/Letter at R8), 2048 (B4), 2432 (A3), or twice those at R16")
            }
        }
        return document.pageCount
    }

    static func validate(_ job: FaxJob) throws(FaxError) {
        switch job {
        case .send(let path):
            try sendablePages(path)
        case .receive(let path):
            var directory = path
            if let slash = path.lastIndex(of: "/") { directory = String(path[..<slash]) } else { directory = "." }
            if directory.isEmpty { directory = "/" }
            guard access(directory, W_OK) == 0 else {
                throw FaxError(.destinationUnwritable, "\(directory): cannot write received faxes here (\(String(cString: strerror(errno))))")
            }
        }
    }
}
