import ChildProcess
import Fax
import FaxdTesting
import Foundation
import Media
import Testing

/// Received pages are written to the TIFF by faxd's page writer off the media tick (issue 20),
/// from the page image spandsp hands over at the page's end: the same file spandsp would have
/// written, and no page image kept by the terminal between pages.
@Suite struct ReceivedPageWriterTests {
    /// `tiffdump` of a file without the two tags that carry the time of writing (DateTime, and
    /// FaxRecvTime: whole seconds of wall clock since the page started).
    static func dump(_ path: String) throws -> [String] {
        let result = try ChildProcess.run("tiffdump", [path])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
            .filter { !$0.contains("(306)") && !$0.hasPrefix("34910 ") && !$0.hasPrefix(path) }
    }

    @Test(arguments: [true, false])
    func sameFileAsSpanDSPWrites(ecm: Bool) throws {
        let dir = Fixtures.scratchDirectory("page-writer")
        var byWriter = FaxOptions(ecm: ecm, stationID: "writer test")
        byWriter.headerInfo = "faxd page writer"
        var bySpanDSP = byWriter
        bySpanDSP.receivedPagesWrittenBySpanDSP = true
        let a = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/writer.tif", options: byWriter)
        let b = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/spandsp.tif", options: bySpanDSP)
        #expect(a.receiver.pagesTransferred == 3 && b.receiver.pagesTransferred == 3)
        // (Each page got a header line, so it is not the sent page.)
        #expect(PageCheck.compare(sent: dir + "/spandsp.tif", received: dir + "/writer.tif") == [])
        let writer = try Self.dump(dir + "/writer.tif"), spandsp = try Self.dump(dir + "/spandsp.tif")
        #expect(writer == spandsp)
        #expect(!writer.isEmpty)
        let size = { (p: String) in (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? -1 }
        #expect(size(dir + "/writer.tif") == size(dir + "/spandsp.tif"))
        // spandsp's scratch file (it wrote no page to it) is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["spandsp.tif", "writer.tif"])
    }

    /// spandsp keeps a page's whole decoded image until the page ends (455 KB at fine resolution);
    /// with the page hook draining it after every step, a receiver holds a few dozen rows.
    @Test(arguments: [true, false]) func aReceiverHoldsAFewRowsNeverThePage(ecm: Bool) throws {
        let dir = Fixtures.scratchDirectory("page-buffer")
        var inline = FaxOptions()
        inline.ecm = ecm
        inline.receivedPagesWrittenBySpanDSP = true
        var options = FaxOptions()
        options.ecm = ecm
        let before = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/a.tif", options: inline)
        let after = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/b.tif", options: options)
        #expect(before.receiver.pagesTransferred == 3 && after.receiver.pagesTransferred == 3)
        #expect(PageCheck.compare(sent: Fixtures.benchLetter, received: dir + "/b.tif") == [])
        print("receiver page image (ECM \(ecm)): spandsp writing held up to \(before.receiverPageBufferMaxBytes) bytes; drained by the page hook: up to \(after.receiverPageBufferMaxBytes) bytes")
        #expect(before.receiverPageBufferMaxBytes > 400_000)
        // The buffer spandsp grows 100 rows at a time (21.6 KB at A4 width), in whole memory pages.
        #expect(after.receiverPageBufferMaxBytes <= 32 * 1024)
    }
}
