#if canImport(Glibc)
import Glibc
#endif

/// Turns a fax TIFF into a PDF 1.4 without decoding it: each page becomes one image XObject whose
/// stream is the page's CCITT data as stored, behind /CCITTFaxDecode (PDF 1.7 §7.4.6, §8.9.5).
/// Pages the filter cannot take as they are (several strips, other compressions) are re-encoded
/// as T.6 first (see `TIFFDocument.codedPage`).
public enum FaxPDF {
    /// The Producer written in the document information dictionary (PDF 1.7 §14.3.3).
    public static let producer = "faxd"

    /// Writes `document` as a PDF at `path`: to a temporary file beside it, flushed, then renamed
    /// over `path`, so a crash never leaves a partial PDF under the final name
    /// (POSIX: open O_EXCL, fsync, rename).
    public static func write(_ document: TIFFDocument, to path: String) throws(FaxError) {
        try writeAtomically(data(for: document), to: path)
    }

    /// The PDF for every page of `document`; throws naming the page when one cannot be used.
    public static func data(for document: TIFFDocument) throws(FaxError) -> [UInt8] {
        let pages = try document.codedPages()
        guard !pages.isEmpty else {
            throw FaxError(.documentUnsuitable, "\(FileName.shown(document.path)): has no pages; a PDF needs at least one")
        }
        return data(pages: pages)
    }

    /// The PDF for `pages`, one page each, sized so each image pixel is 1/dpi inch
    /// (PDF 1.7 §7.7.3.3 Page Objects, §8.9.5 Image Dictionaries, §7.4.6 CCITTFaxDecode).
    public static func data(pages: [FaxCodedPage]) -> [UInt8] {
        // Objects: 1 catalog, 2 page tree, 3 info, then per page: page, content stream, image.
        let firstPage = 4
        var pdf = PDFWriter(objectCount: 3 + 3 * pages.count,
                            reserving: pages.reduce(0) { $0 + $1.bytes.count })
        pdf.object(1, "<< /Type /Catalog /Pages 2 0 R >>")
        let kids = pages.indices.map { "\(firstPage + 3 * $0) 0 R" }.joined(separator: " ")
        pdf.object(2, "<< /Type /Pages /Kids [\(kids)] /Count \(pages.count) >>")
        pdf.object(3, "<< /Producer \(PDFWriter.literal(producer)) >>")
        for (index, page) in pages.enumerated() {
            let pageObject = firstPage + 3 * index
            let contents = pageObject + 1, image = pageObject + 2
            // Points are 1/72 inch: a 204x98 dpi page is as tall as a 204x196 one with half the rows.
            let width = points(page.width, dpi: page.xDPI), height = points(page.height, dpi: page.yDPI)
            pdf.object(pageObject, """
                << /Type /Page /Parent 2 0 R /MediaBox [0 0 \(width) \(height)] \
                /Resources << /XObject << /Im0 \(image) 0 R >> >> /Contents \(contents) 0 R >>
                """)
            pdf.stream(contents, dictionary: "", data: Array("q \(width) 0 0 \(height) 0 0 cm /Im0 Do Q\n".utf8))
            pdf.stream(image, dictionary: """
                /Type /XObject /Subtype /Image /Width \(page.width) /Height \(page.height) \
                /ColorSpace /DeviceGray /BitsPerComponent 1 /ImageMask false \
                /Filter /CCITTFaxDecode /DecodeParms << /K \(page.k) /Columns \(page.width) \
                /Rows \(page.height) /BlackIs1 \(page.blackIs1) /EncodedByteAlign \(page.encodedByteAlign) \
                /EndOfLine \(page.endOfLine) >>
                """, data: page.bytes)
        }
        return pdf.finish(root: 1, info: 3)
    }

    /// `pixels` at `dpi` in points, rounded down to 1/10000: a renderer at the page's dpi then
    /// makes exactly `pixels` (pdftoppm takes the ceiling, so rounding up would add a column).
    static func points(_ pixels: Int, dpi: Double) -> String {
        PDFWriter.number((Double(pixels) * 72 / dpi * 10_000).rounded(.down) / 10_000)
    }

    /// Writes `bytes` to a fresh temporary file next to `path`, fsyncs it and renames it to `path`
    /// (POSIX: open O_CREAT|O_EXCL, write, fsync, rename).
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(FaxError) {
        func failure(_ what: String, _ code: Int32) -> FaxError {
            FaxError(.destinationUnwritable, "\(FileName.shown(path)): cannot write the PDF (\(what): \(String(cString: strerror(code))))")
        }
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<8 {
            temporary = "\(path).\(getpid()).\(UInt32.random(in: .min ... .max)).tmp"
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw failure("creating \(temporary)", errno) }
        var problem: (String, Int32)?
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    problem = ("writing", errno)
                    return
                }
                done += n
            }
        }
        if problem == nil, fsync(fd) != 0 { problem = ("flushing", errno) }
        if close(fd) != 0, problem == nil { problem = ("closing", errno) }
        if problem == nil, rename(temporary, path) != 0 { problem = ("renaming \(temporary)", errno) }
        if let (what, code) = problem {
            unlink(temporary)
            throw failure(what, code)
        }
    }
}
