import CSpanDSP
@testable import Fax
import FaxdTesting
import Foundation
import Testing

/// The page writer takes a received page in pieces as spandsp decodes it (issue 20): a page T.30
/// started again (RTN) keeps only its second start, and a page the call ended in the middle of
/// stays out of the document, as with spandsp writing the TIFF itself.
@Suite struct ReceivedPagePiecesTests {
    /// One piece of `page`: rows `first ..< first + count`, the page's end when `final`.
    static func piece(_ page: FaxPageImage, first: Int, count: Int, final: Bool) -> UnsafeMutablePointer<cspandsp_rx_page_t> {
        let piece = UnsafeMutablePointer<cspandsp_rx_page_t>.allocate(capacity: 1)
        piece.initialize(to: cspandsp_rx_page_t())
        let bytes = count * page.rowBytes
        let image = malloc(max(1, bytes))!.assumingMemoryBound(to: UInt8.self)
        page.bits.withUnsafeBufferPointer { image.update(from: $0.baseAddress! + first * page.rowBytes, count: bytes) }
        piece.pointee.image = image
        piece.pointee.first_row = Int32(first)
        piece.pointee.rows = Int32(count)
        piece.pointee.final = final ? 1 : 0
        piece.pointee.bytes_per_row = Int32(page.rowBytes)
        piece.pointee.width = Int32(page.width)
        piece.pointee.length = Int32(first + count)
        piece.pointee.x_resolution = Int32((page.xDPI * 100 / 2.54).rounded())
        piece.pointee.y_resolution = Int32((page.yDPI * 100 / 2.54).rounded())
        piece.pointee.output_compression = Int32(COMPRESSION_CCITT_T4)
        piece.pointee.output_t4_options = Int32(GROUP3OPT_2DENCODING | GROUP3OPT_FILLBITS)
        piece.pointee.now = Int64(time(nil))
        return piece
    }

    /// Hands `rows` of `page` to `writer` in pieces of `size`, the last one final if `final`.
    static func feed(_ writer: ReceivedDocumentWriter, _ page: FaxPageImage, rows: Int, size: Int, final: Bool) {
        var first = 0
        while first < rows {
            let count = min(size, rows - first)
            writer.append(piece(page, first: first, count: count, final: final && first + count == rows))
            first += count
        }
    }

    @Test func aRestartedPageKeepsItsSecondStartAndACutOffPageIsLeftOut() throws {
        let pages = try TIFFDocument(path: Fixtures.threePageLight).pages()
        let path = Fixtures.scratchDirectory("page-pieces") + "/rx.tif"
        let writer = ReceivedDocumentWriter(path: path)
        Self.feed(writer, pages[0], rows: pages[0].height, size: 17, final: true)
        // Page two starts, T.30 answers RTN, and the page comes again (other content here).
        Self.feed(writer, pages[1], rows: 500, size: 33, final: false)
        Self.feed(writer, pages[2], rows: pages[2].height, size: 1000, final: true)
        // Page three: the call drops after 700 rows.
        Self.feed(writer, pages[1], rows: 700, size: 64, final: false)
        writer.waitUntilClosed()
        let written = try TIFFDocument(path: path).pages()
        #expect(written.count == 2)
        #expect(written.first?.differingRows(from: pages[0]) == 0)
        #expect(written.last?.differingRows(from: pages[2]) == 0)
        // Nothing but the document in its directory: the pages' scratch files are unnamed
        // (O_TMPFILE), so no named file may appear beside it.
        let directory = (path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["rx.tif"])
    }
}
