internal import CSpanDSP
#if canImport(Glibc)
import Glibc
#endif

/// One page's image still in its CCITT coding, with what PDF's CCITTFaxDecode filter needs to
/// decode it (PDF 1.7 §7.4.6, Table 11 "Optional parameters for the CCITTFaxDecode filter").
public struct FaxCodedPage: Sendable, Equatable {
    /// The coding scheme of `bytes` (TIFF 6.0 §11 Compression 3 and 4, Group3Options bit 0).
    public enum Coding: Sendable, Equatable {
        /// ITU-T T.4 one-dimensional (MH), each row after an EOL.
        case t4OneDimensional
        /// ITU-T T.4 two-dimensional (MR), each EOL followed by a 1-D/2-D tag bit.
        case t4TwoDimensional
        /// ITU-T T.6 (MMR), no EOLs.
        case t6
    }

    /// Where `bytes` came from (libtiff: TIFFReadRawStrip, or TIFFWriteEncodedStrip for a re-encoding).
    public enum Origin: Sendable, Equatable {
        /// The page's one strip as stored (bit order made MSB first if the file was LSB first).
        case rawStrip
        /// The page was decoded and re-encoded as T.6, for the reason given (several strips,
        /// a compression PDF cannot take as is).
        case reencoded(reason: String)
    }

    /// Columns (pixels per row).
    public var width: Int
    /// Rows.
    public var height: Int
    /// Horizontal resolution in dots per inch (converted if the TIFF states centimetres).
    public var xDPI: Double
    /// Vertical resolution in dots per inch (converted if the TIFF states centimetres).
    public var yDPI: Double
    /// True when a 0 pixel is white (TIFF PhotometricInterpretation 0, MinIsWhite).
    public var minIsWhite: Bool
    /// How `bytes` are coded.
    public var coding: Coding
    /// T.4 only: fill bits pad each EOL to end on a byte boundary (TIFF Group3Options bit 2).
    public var fillBits: Bool
    /// The coded image, most significant bit first (TIFF FillOrder 1).
    public var bytes: [UInt8]
    /// Whether `bytes` are the file's own strip or a re-encoding.
    public var origin: Origin

    /// The filter's /K: -1 for T.6, 0 for T.4 1-D, positive for T.4 2-D (PDF 1.7 §7.4.6, Table 11).
    /// For 2-D it is the row count: at most K-1 rows follow a 1-D row in 2-D, and the tag bit after
    /// each EOL says which coding a row uses, so no row count can be exceeded.
    public var k: Int {
        switch coding {
        case .t6: return -1
        case .t4OneDimensional: return 0
        case .t4TwoDimensional: return max(1, height)
        }
    }

    /// The filter's /EndOfLine: false. T.6 has no EOLs, and for T.4 a decoder always accepts EOLs
    /// (it requires them only when this is true), so false decodes every TIFF's T.4 whether its
    /// writer put an EOL before each row or not (PDF 1.7 §7.4.6, Table 11).
    public var endOfLine: Bool { false }

    /// The filter's /EncodedByteAlign: false, even when TIFF fill bits pad each EOL to end on a
    /// byte boundary. Those are T.4 fill, zeros before an EOL that every decoder skips, whereas
    /// true asks the decoder to jump to a byte boundary after each row, before the EOL that
    /// starts mid-byte: on such data pdf.js's ccitt.js then loses rows, and Ghostscript 10 and
    /// PDFium do too unless EndOfLine is true; false decodes in all of them and in poppler
    /// (PDF 1.7 §7.4.6, Table 11; ITU-T T.4 §4.1.3 fill; TIFF 6.0 §11 Group3Options bit 2).
    public var encodedByteAlign: Bool { false }

    /// The filter's /BlackIs1: the codes' black runs decode to 1 bits; those are black only when
    /// the TIFF says 0 is black (PDF 1.7 §7.4.6, Table 11; TIFF 6.0 §3 PhotometricInterpretation).
    public var blackIs1: Bool { !minIsWhite }

    /// Memberwise.
    public init(width: Int, height: Int, xDPI: Double, yDPI: Double, minIsWhite: Bool, coding: Coding,
                fillBits: Bool, bytes: [UInt8], origin: Origin) {
        self.width = width
        self.height = height
        self.xDPI = xDPI
        self.yDPI = yDPI
        self.minIsWhite = minIsWhite
        self.coding = coding
        self.fillBits = fillBits
        self.bytes = bytes
        self.origin = origin
    }
}

extension TIFFDocument {
    /// Page `index` (0-based) as CCITT-coded bytes: the page's one T.4/T.6 strip unchanged (bit
    /// order aside), else the page decoded and re-encoded as T.6 (libtiff: TIFFReadRawStrip).
    public func codedPage(_ index: Int) throws(FaxError) -> FaxCodedPage {
        try RawStripReader(document: self).codedPage(index)
    }

    /// Every page as `codedPage` gives it, reading the file once.
    public func codedPages() throws(FaxError) -> [FaxCodedPage] {
        let reader = try RawStripReader(document: self)
        var pages: [FaxCodedPage] = []
        pages.reserveCapacity(pageCount)
        for index in 0..<pageCount { pages.append(try reader.codedPage(index)) }
        return pages
    }
}

/// Reads a document's pages as coded strips through the document's own libtiff handle (each
/// call selects its page's directory, as `page(i)` does).
private final class RawStripReader {
    private let tiff: OpaquePointer
    private let document: TIFFDocument
    private var path: String { document.path }

    init(document: TIFFDocument) throws(FaxError) {
        tiff = document.tiff
        self.document = document
    }

    func codedPage(_ index: Int) throws(FaxError) -> FaxCodedPage {
        let (width, height) = try document.layout(index)
        let page = "\(FileName.shown(path)): page \(index + 1)"
        var compression: UInt16 = 1, photometric: UInt16 = 0, fillOrder: UInt16 = 1
        var xres: Float = 0, yres: Float = 0, unit: UInt16 = 2
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_COMPRESSION), &compression)
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_PHOTOMETRIC), &photometric)
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_FILLORDER), &fillOrder)
        _ = cspandsp_tiff_get_float(tiff, UInt32(TIFFTAG_XRESOLUTION), &xres)
        _ = cspandsp_tiff_get_float(tiff, UInt32(TIFFTAG_YRESOLUTION), &yres)
        _ = cspandsp_tiff_get_u16(tiff, UInt32(TIFFTAG_RESOLUTIONUNIT), &unit)
        guard width > 0, height > 0 else {
            throw FaxError(.documentUnsuitable, "\(page) is \(width)x\(height) pixels; it has no image")
        }
        let perInch: Double = unit == UInt16(RESUNIT_CENTIMETER) ? 2.54 : 1
        // A fax TIFF without resolution tags is taken as fine (204x196 dpi), the usual case.
        let xDPI = xres > 0 ? Double(xres) * perInch : 204
        let yDPI = yres > 0 ? Double(yres) * perInch : 196

        // Group3Options/Group4Options are codec tags: libtiff knows them only for their compression.
        var coding: FaxCodedPage.Coding?
        var fillBits = false
        var unusable = ""
        switch UInt32(compression) {
        case UInt32(COMPRESSION_CCITTFAX3):
            var options: UInt32 = 0
            _ = cspandsp_tiff_get_u32(tiff, UInt32(TIFFTAG_GROUP3OPTIONS), &options)
            if options & UInt32(GROUP3OPT_UNCOMPRESSED) != 0 {
                unusable = "its T.4 data may use uncompressed mode, which not every PDF reader decodes (mupdf refuses it)"
            } else {
                coding = options & UInt32(GROUP3OPT_2DENCODING) != 0 ? .t4TwoDimensional : .t4OneDimensional
                fillBits = options & UInt32(GROUP3OPT_FILLBITS) != 0
            }
        case UInt32(COMPRESSION_CCITTFAX4):
            var options: UInt32 = 0
            _ = cspandsp_tiff_get_u32(tiff, UInt32(TIFFTAG_GROUP4OPTIONS), &options)
            if options & UInt32(GROUP4OPT_UNCOMPRESSED) != 0 {
                unusable = "its T.6 data may use uncompressed mode, which not every PDF reader decodes (mupdf refuses it)"
            } else {
                coding = .t6
            }
        default:
            unusable = "its compression (\(compression)) is not T.4 or T.6"
        }
        let strips = Int(TIFFNumberOfStrips(tiff))
        if coding != nil, strips != 1 {
            coding = nil
            unusable = "it is stored in \(strips) strips"
        }
        let minIsWhite = photometric != UInt16(PHOTOMETRIC_MINISBLACK)

        guard let coding else {
            let image = try document.page(index)
            let bytes = try T6Encoder.encode(image, page: page)
            return FaxCodedPage(width: image.width, height: image.height, xDPI: xDPI, yDPI: yDPI,
                                minIsWhite: true, coding: .t6, fillBits: false, bytes: bytes,
                                origin: .reencoded(reason: unusable))
        }
        var bytes = try Self.rawStrip(tiff, page: page, fileSize: document.fileSize)
        if fillOrder == UInt16(FILLORDER_LSB2MSB) { Self.reverseBits(&bytes) }
        return FaxCodedPage(width: Int(width), height: Int(height), xDPI: xDPI, yDPI: yDPI,
                            minIsWhite: minIsWhite, coding: coding, fillBits: fillBits, bytes: bytes,
                            origin: .rawStrip)
    }

    /// Strip 0 of the current directory as stored (libtiff: TIFFRawStripSize64, TIFFReadRawStrip).
    static func rawStrip(_ tiff: OpaquePointer, page: String, fileSize: UInt64 = UInt64(Int32.max)) throws(FaxError) -> [UInt8] {
        let size = TIFFRawStripSize64(tiff, 0)
        guard size > 0, size != UInt64.max, size < UInt64(Int32.max) else {
            throw FaxError(.documentUnsuitable, "\(page): its strip has no readable size (StripByteCounts)")
        }
        // A forged StripByteCounts must not make faxd allocate gigabytes (found by faxd-fuzz).
        guard size <= fileSize else {
            throw FaxError(.documentUnreadable, "\(page): its strip claims \(size) bytes but the file has \(fileSize)")
        }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let read = bytes.withUnsafeMutableBytes { TIFFReadRawStrip(tiff, 0, $0.baseAddress, tmsize_t(size)) }
        guard read == tmsize_t(size) else {
            throw FaxError(.documentUnreadable, "\(page): its strip cannot be read (\(size) bytes expected, TIFFReadRawStrip gave \(read)); the file may be truncated")
        }
        return bytes
    }

    /// Each byte with its bit order reversed (TIFF FillOrder 2 to 1).
    static func reverseBits(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBufferPointer { buffer in
            reversedBits.withUnsafeBufferPointer { table in
                for i in buffer.indices { buffer[i] = table[Int(buffer[i])] }
            }
        }
    }

    /// `reversedBits[b]` is `b` with bit 0 and bit 7 swapped, 1 and 6, and so on.
    static let reversedBits: [UInt8] = (0..<256).map { value in
        var b = UInt8(value), r: UInt8 = 0
        for _ in 0..<8 { r = (r << 1) | (b & 1); b >>= 1 }
        return r
    }
}

/// Re-encodes a decoded page as T.6 by writing a one-strip G4 TIFF in memory and reading its
/// strip back (libtiff: TIFFClientOpen, TIFFWriteEncodedStrip, TIFFReadRawStrip).
private enum T6Encoder {
    static func encode(_ image: FaxPageImage, page: String) throws(FaxError) -> [UInt8] {
        let file = MemoryFile()
        defer { withExtendedLifetime(file) {} }
        let handle = Unmanaged.passUnretained(file).toOpaque()
        guard let out = file.open(handle, mode: "w") else {
            throw FaxError(.documentUnsuitable, "\(page): cannot re-encode it as T.6 (libtiff could not open its memory TIFF)")
        }
        var ok = cspandsp_tiff_set_u32(out, UInt32(TIFFTAG_IMAGEWIDTH), UInt32(image.width)) == 1
        ok = ok && cspandsp_tiff_set_u32(out, UInt32(TIFFTAG_IMAGELENGTH), UInt32(image.height)) == 1
        ok = ok && cspandsp_tiff_set_u16(out, UInt32(TIFFTAG_BITSPERSAMPLE), 1) == 1
        ok = ok && cspandsp_tiff_set_u16(out, UInt32(TIFFTAG_SAMPLESPERPIXEL), 1) == 1
        ok = ok && cspandsp_tiff_set_u16(out, UInt32(TIFFTAG_PLANARCONFIG), UInt16(PLANARCONFIG_CONTIG)) == 1
        ok = ok && cspandsp_tiff_set_u16(out, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(PHOTOMETRIC_MINISWHITE)) == 1
        ok = ok && cspandsp_tiff_set_u16(out, UInt32(TIFFTAG_FILLORDER), UInt16(FILLORDER_MSB2LSB)) == 1
        ok = ok && cspandsp_tiff_set_u16(out, UInt32(TIFFTAG_COMPRESSION), UInt16(COMPRESSION_CCITTFAX4)) == 1
        ok = ok && cspandsp_tiff_set_u32(out, UInt32(TIFFTAG_ROWSPERSTRIP), UInt32(image.height)) == 1
        // FaxPageImage rows are packed MSB first with 1 = black: MinIsWhite's own layout.
        let written = image.bits.withUnsafeBytes {
            TIFFWriteEncodedStrip(out, 0, UnsafeMutableRawPointer(mutating: $0.baseAddress), tmsize_t($0.count))
        }
        ok = ok && written >= 0 && TIFFWriteDirectory(out) == 1
        TIFFClose(out)
        guard ok else {
            throw FaxError(.documentUnsuitable, "\(page): cannot re-encode it as T.6 (libtiff refused the \(image.width)x\(image.height) page)")
        }
        file.position = 0
        guard let back = file.open(handle, mode: "rm") else {
            throw FaxError(.documentUnsuitable, "\(page): cannot re-encode it as T.6 (libtiff could not read its memory TIFF back)")
        }
        defer { TIFFClose(back) }
        return try RawStripReader.rawStrip(back, page: page)
    }

    /// A growable byte buffer libtiff reads and writes through client procedures; the procedures
    /// are non-capturing and find the buffer through the client data handle.
    final class MemoryFile {
        var bytes: [UInt8] = []
        var position = 0

        func open(_ handle: UnsafeMutableRawPointer, mode: String) -> OpaquePointer? {
            TIFFClientOpen("faxd-t6", mode, handle, { handle, buffer, size in
                let file = Unmanaged<MemoryFile>.fromOpaque(handle!).takeUnretainedValue()
                let n = max(0, min(Int(size), file.bytes.count - file.position))
                if n > 0, let buffer {
                    file.bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + file.position, byteCount: n) }
                }
                file.position += n
                return tmsize_t(n)
            }, { handle, buffer, size in
                let file = Unmanaged<MemoryFile>.fromOpaque(handle!).takeUnretainedValue()
                let n = Int(size)
                guard n > 0, let buffer else { return 0 }
                if file.bytes.count < file.position + n {
                    file.bytes.append(contentsOf: repeatElement(0, count: file.position + n - file.bytes.count))
                }
                file.bytes.withUnsafeMutableBytes { ($0.baseAddress! + file.position).copyMemory(from: buffer, byteCount: n) }
                file.position += n
                return size
            }, { handle, offset, whence in
                let file = Unmanaged<MemoryFile>.fromOpaque(handle!).takeUnretainedValue()
                let base: Int
                switch whence {
                case SEEK_CUR: base = file.position
                case SEEK_END: base = file.bytes.count
                default: base = 0
                }
                let target = base + Int(Int64(bitPattern: offset))
                guard target >= 0 else { return UInt64.max }
                file.position = target
                return toff_t(target)
            }, { _ in 0 }, { handle in
                toff_t(Unmanaged<MemoryFile>.fromOpaque(handle!).takeUnretainedValue().bytes.count)
            }, { _, _, _ in 0 }, { _, _, _ in })
        }
    }
}
