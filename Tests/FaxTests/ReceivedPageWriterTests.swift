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

    @Test func noPageImageHeldBetweenPages() throws {
        let dir = Fixtures.scratchDirectory("page-buffer")
        var inline = FaxOptions()
        inline.receivedPagesWrittenBySpanDSP = true
        let before = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/a.tif", options: inline)
        let after = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/b.tif")
        #expect(before.receiver.pagesTransferred == 3 && after.receiver.pagesTransferred == 3)
        print("receiver page image: spandsp writing held up to \(before.receiverPageBufferMaxBytes) bytes for \(before.receiverPageBufferTicks) ticks; page writer: up to \(after.receiverPageBufferMaxBytes) bytes for \(after.receiverPageBufferTicks) ticks (of \(Int(after.seconds * 50)))")
        // spandsp keeps the image from the first page to the end of the call; with the writer it
        // exists only while a page spans more than one ECM block.
        #expect(before.receiverPageBufferTicks > Int(before.seconds * 50) / 2)
        #expect(after.receiverPageBufferTicks < before.receiverPageBufferTicks / 2)
    }
}
