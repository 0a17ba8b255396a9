import Fax
import FaxdTesting
import Foundation
import ChildProcess
import Testing

@Suite struct AudioBackToBackTests {
    @Test(arguments: [true, false])
    func threePagesArriveIntact(ecm: Bool) throws {
        let dir = Fixtures.scratchDirectory("b2b")
        let rxPath = dir + "/rx.tif"
        var options = FaxOptions(ecm: ecm, stationID: "faxd sender")
        let sender = try AudioFaxTerminal(job: .send(path: Fixtures.threePageFine), callingParty: true, options: options)
        options.stationID = "faxd receiver"
        let receiver = try AudioFaxTerminal(job: .receive(path: rxPath), callingParty: false, options: options)
        let outcome = AudioBackToBack.run(sender: sender, receiver: receiver)
        #expect(outcome.sender.result == .ok, "sender: \(outcome.sender.result)")
        #expect(outcome.receiver.result == .ok, "receiver: \(outcome.receiver.result)")
        #expect(outcome.sender.pagesTransferred == 3)
        #expect(outcome.receiver.pagesTransferred == 3)
        #expect(outcome.sender.ecm == ecm)
        #expect(outcome.receiver.remoteStationID == "faxd sender")
        #expect(outcome.sender.remoteStationID == "faxd receiver")
        #expect(outcome.receiverTones.cng, "receiver should hear the sender's CNG")
        #expect(outcome.senderTones.ced, "sender should hear the receiver's CED")
        let sent = try TIFFDocument(path: Fixtures.threePageFine).pages()
        let received = try TIFFDocument(path: rxPath).pages()
        try #require(received.count == 3)
        for (index, (a, b)) in zip(sent, received).enumerated() {
            #expect(a.width == b.width && a.height == b.height, "page \(index + 1) size")
            #expect(a.differingRows(from: b) == 0, "page \(index + 1) differs")
            #expect(a.blackPixels > 1000, "page \(index + 1) has content")
        }
        print("back-to-back ecm=\(ecm): \(outcome.seconds) s of call, \(outcome.sender.bitRate) bit/s, \(outcome.sender.compression)")
    }

    /// Named by its file name only: the message can reach an API client (issue 18).
    @Test func missingDocumentIsRejectedWithItsName() {
        #expect(throws: FaxError.self) {
            _ = try AudioFaxTerminal(job: .send(path: "/nonexistent/doc.tif"), callingParty: true, options: FaxOptions())
        }
        #expect { _ = try AudioFaxTerminal(job: .send(path: "/nonexistent/doc.tif"), callingParty: true, options: FaxOptions()) }
            throws: { "\($0)".hasPrefix("doc.tif: cannot read the file") && !"\($0)".contains("/nonexistent") }
    }

    /// A page that is not a fax width is refused from its tags, before any call, naming the page.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gs"), "needs ghostscript"))
    func pageOfTheWrongWidthIsRefused() throws {
        let path = Fixtures.scratchDirectory("width") + "/narrow.tif"
        let gs = try ChildProcess.run("/usr/bin/gs", ["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffg4", "-r204x196", "-g1000x200",
                                                      "-sOutputFile=\(path)", "-c", "showpage"])
        try #require(gs.status == 0, "\(gs.stderr)")
        #expect { _ = try AudioFaxTerminal(job: .send(path: path), callingParty: true, options: FaxOptions()) }
            throws: { "\($0)".contains("page 1 is 1000 pixels wide") }
    }
}
