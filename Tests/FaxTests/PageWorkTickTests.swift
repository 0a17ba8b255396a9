import ChildProcess
import Fax
import FaxdTesting
import Foundation
import Media
import Testing

/// The per-page image work inside one media tick (issue 20): faxd-bench's letter (light, dense,
/// light page) between two terminals on the manual clock, each tick timed per side with the
/// thread CPU clock, once with spandsp reading and writing the TIFFs itself (as before issue 20)
/// and once with faxd's page reader and writer. The figures are printed, not asserted (a
/// benchmark, not a timed test); the checks are that every page arrives bit for bit.
@Suite struct PageWorkTickTests {
    static func spandspAlone() -> FaxOptions {
        var options = FaxOptions()
        options.receivedPagesWrittenBySpanDSP = true
        options.sentPagesReadBySpanDSP = true
        return options
    }

    @Test(arguments: [true, false])
    func t38DenseLetterPerTick(spandspAlone: Bool) throws {
        let dir = Fixtures.scratchDirectory("tick-t38")
        let outcome = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/rx.tif",
                                            options: spandspAlone ? Self.spandspAlone() : FaxOptions(), timeSides: true)
        #expect(outcome.sender.result == .ok, "\(outcome.sender.result)")
        #expect(outcome.receiver.pagesTransferred == 3)
        #expect(PageCheck.compare(sent: Fixtures.benchLetter, received: dir + "/rx.tif") == [])
        print(String(format: "page work per tick, T.38 bench letter, %@: sender max %.2f ms (tick %d), receiver max %.2f ms (tick %d); call %.1f s, CPU on the tick thread: sender %.1f ms, receiver %.1f ms",
                     spandspAlone ? "spandsp reads/writes the TIFFs" : "faxd page reader/writer",
                     outcome.senderMaxTickCPUSeconds * 1e3, outcome.senderMaxTick,
                     outcome.receiverMaxTickCPUSeconds * 1e3, outcome.receiverMaxTick, outcome.seconds,
                     outcome.senderCPUSeconds * 1e3, outcome.receiverCPUSeconds * 1e3))
    }

    @Test(arguments: [true, false])
    func audioDenseLetterPerTick(spandspAlone: Bool) throws {
        let dir = Fixtures.scratchDirectory("tick-audio")
        let options = spandspAlone ? Self.spandspAlone() : FaxOptions()
        let sender = try AudioFaxTerminal(job: .send(path: Fixtures.benchLetter), callingParty: true, options: options)
        let receiver = try AudioFaxTerminal(job: .receive(path: dir + "/rx.tif"), callingParty: false, options: options)
        let outcome = AudioBackToBack.run(sender: sender, receiver: receiver, timeSides: true)
        #expect(outcome.sender.result == .ok, "\(outcome.sender.result)")
        #expect(outcome.receiver.pagesTransferred == 3)
        #expect(PageCheck.compare(sent: Fixtures.benchLetter, received: dir + "/rx.tif") == [])
        print(String(format: "page work per tick, G.711 bench letter, %@: sender max %.2f ms, receiver max %.2f ms; call %.1f s, CPU on the tick thread: sender %.1f ms, receiver %.1f ms",
                     spandspAlone ? "spandsp reads/writes the TIFFs" : "faxd page reader/writer",
                     outcome.senderMaxTickCPUSeconds * 1e3, outcome.receiverMaxTickCPUSeconds * 1e3, outcome.seconds,
                     outcome.senderCPUSeconds * 1e3, outcome.receiverCPUSeconds * 1e3))
    }
}

/// Pages after the first are decoded ahead and fed to spandsp's encoder (issue 20): the receiver
/// gets the same pages as when spandsp reads the TIFF itself.
@Suite struct SentPageReaderTests {
    @Test(arguments: [true, false])
    func sameLineEitherWay(ecm: Bool) throws {
        let dir = Fixtures.scratchDirectory("page-reader")
        var fed = FaxOptions(ecm: ecm, stationID: "reader test")
        fed.headerInfo = "faxd page reader"
        var read = fed
        read.sentPagesReadBySpanDSP = true
        for (name, options) in [("fed", fed), ("read", read)] {
            let sender = try AudioFaxTerminal(job: .send(path: Fixtures.benchLetter), callingParty: true, options: options)
            let receiver = try AudioFaxTerminal(job: .receive(path: dir + "/\(name).tif"), callingParty: false, options: options)
            let outcome = AudioBackToBack.run(sender: sender, receiver: receiver)
            #expect(outcome.sender.result == .ok && outcome.receiver.pagesTransferred == 3, "\(name): \(outcome.sender.result)")
            let (ahead, late) = sender.pagesFed
            #expect(name == "fed" ? (ahead == 2 && late == 0) : (ahead == 0 && late == 0), "\(name): \(ahead) ahead, \(late) late")
        }
        // Same header line, same pages; without the header, the sent pages themselves.
        #expect(PageCheck.compare(sent: dir + "/read.tif", received: dir + "/fed.tif") == [])
    }

    @Test func resumedSendFeedsTheRemainingPages() throws {
        let dir = Fixtures.scratchDirectory("page-reader-resume")
        var options = FaxOptions()
        options.firstPage = 1
        let outcome = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/rx.tif", options: options)
        #expect(outcome.sender.result == .ok, "\(outcome.sender.result)")
        #expect(outcome.receiver.pagesTransferred == 2)
        let sent = try TIFFDocument(path: Fixtures.benchLetter).pages()
        let received = try TIFFDocument(path: dir + "/rx.tif").pages()
        #expect(received.count == 2)
        if received.count == 2 {
            #expect(received[0].differingRows(from: sent[1]) == 0)
            #expect(received[1].differingRows(from: sent[2]) == 0)
        }
    }

    /// A document whose pages differ in resolution is read by spandsp, page by page, as before.
    @Test func mixedResolutionsAreReadBySpanDSP() throws {
        let dir = Fixtures.scratchDirectory("page-reader-mixed")
        let mixed = dir + "/mixed.tif"
        let light = Fixtures.threePageLight, fine = Fixtures.threePageFine
        let result = try ChildProcess.run("tiffcp", [fine + ",0", light + ",0", fine + ",1", mixed])
        #expect(result.status == 0, "\(result.stderr)")
        let sender = try AudioFaxTerminal(job: .send(path: mixed), callingParty: true, options: FaxOptions())
        let receiver = try AudioFaxTerminal(job: .receive(path: dir + "/rx.tif"), callingParty: false, options: FaxOptions())
        let outcome = AudioBackToBack.run(sender: sender, receiver: receiver)
        #expect(outcome.sender.result == .ok, "\(outcome.sender.result)")
        #expect(outcome.receiver.pagesTransferred == 3)
        #expect(sender.pagesFed.ahead == 0 && sender.pagesFed.late == 0)
        #expect(PageCheck.compare(sent: mixed, received: dir + "/rx.tif") == [])
    }
}
