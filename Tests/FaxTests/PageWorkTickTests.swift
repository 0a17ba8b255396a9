import Fax
import FaxdTesting
import Media
import Testing

/// The per-page image work inside one media tick (issue 20): faxd-bench's letter (light, dense,
/// light page) between two terminals on the manual clock, each tick timed per side with the
/// thread CPU clock. The figures are printed, not asserted (a benchmark, not a timed test); the
/// checks are that every page arrives bit for bit.
@Suite struct PageWorkTickTests {
    @Test func t38DenseLetterPerTick() throws {
        let dir = Fixtures.scratchDirectory("tick-t38")
        let outcome = try T38BackToBack.run(document: Fixtures.benchLetter, receivePath: dir + "/rx.tif",
                                            timeSides: true)
        #expect(outcome.sender.result == .ok, "\(outcome.sender.result)")
        #expect(outcome.receiver.pagesTransferred == 3)
        #expect(PageCheck.compare(sent: Fixtures.benchLetter, received: dir + "/rx.tif") == [])
        print(String(format: "page work per tick, T.38 bench letter: sender max %.2f ms (tick %d), receiver max %.2f ms (tick %d); call %.1f s, CPU sender %.1f ms, receiver %.1f ms",
                     outcome.senderMaxTickCPUSeconds * 1e3, outcome.senderMaxTick,
                     outcome.receiverMaxTickCPUSeconds * 1e3, outcome.receiverMaxTick, outcome.seconds,
                     outcome.senderCPUSeconds * 1e3, outcome.receiverCPUSeconds * 1e3))
    }

    @Test func audioDenseLetterPerTick() throws {
        let dir = Fixtures.scratchDirectory("tick-audio")
        let sender = try AudioFaxTerminal(job: .send(path: Fixtures.benchLetter), callingParty: true, options: FaxOptions())
        let receiver = try AudioFaxTerminal(job: .receive(path: dir + "/rx.tif"), callingParty: false, options: FaxOptions())
        let outcome = AudioBackToBack.run(sender: sender, receiver: receiver, timeSides: true)
        #expect(outcome.sender.result == .ok, "\(outcome.sender.result)")
        #expect(outcome.receiver.pagesTransferred == 3)
        #expect(PageCheck.compare(sent: Fixtures.benchLetter, received: dir + "/rx.tif") == [])
        print(String(format: "page work per tick, G.711 bench letter: sender max %.2f ms, receiver max %.2f ms; call %.1f s, CPU sender %.1f ms, receiver %.1f ms",
                     outcome.senderMaxTickCPUSeconds * 1e3, outcome.receiverMaxTickCPUSeconds * 1e3, outcome.seconds,
                     outcome.senderCPUSeconds * 1e3, outcome.receiverCPUSeconds * 1e3))
    }
}

/// What libtiff's decoding of each page of the letter costs by itself (what a sending spandsp
/// does first when it starts a page: TIFFReadScanline row by row).
@Suite struct PageDecodeCostTests {
    @Test func letterDecodePerPage() throws {
        let document = try TIFFDocument(path: Fixtures.benchLetter)
        var figures: [String] = []
        for index in 0..<document.pageCount {
            let started = ThreadCPUClock.nanoseconds()
            let page = try document.page(index)
            figures.append(String(format: "page %d %.2f ms (%dx%d)", index + 1,
                                  Double(ThreadCPUClock.nanoseconds() - started) / 1e6, page.width, page.height))
        }
        print("libtiff decode of the bench letter: " + figures.joined(separator: ", "))
    }
}
