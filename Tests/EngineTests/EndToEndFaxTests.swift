import Engine
import Fax
import FaxdTesting
import Foundation
import SIP
import Testing

/// Real faxes between two engines over 127.0.0.1: sofia-sip on real sockets, RTP over UDP, spandsp
/// on both ends, the received TIFF checked page by page. The cases run concurrently.
@Suite struct EndToEndFaxTests {
    @Test(arguments: [(true, AudioCodec.pcmu), (false, .pcmu), (true, .pcma), (false, .pcma)])
    func threePageFaxArrivesIntact(ecm: Bool, codec: AudioCodec) async throws {
        // Both engines share this process, so when a loaded 2-core machine holds the process for
        // longer than the 60 ms jitter buffer, each receiver plays out slots the other's catch-up
        // has not sent yet, and counts them lost, as it would over a network that lost them.
        // Without ECM that damages rows; with ECM a long enough hole can end the call. Such a run is
        // told apart by the engines' own counters and the fax is sent again, up to 3 times; a
        // failure with no loss counted on either side fails at once. (A stall of faxd alone loses
        // nothing on its receive side: its catch-up ticks find the packets waiting in the socket.)
        for attempt in 1...3 {
            let started = Date()
            let receiver = try TestEngine(label: "rx") { $0.trunks[0].codecs = [codec] }
            let sender = try TestEngine(label: "tx") { $0.trunks[0].codecs = [codec] }
            defer {
                sender.stop()
                receiver.stop()
            }
            var options = sender.daemon.configuration.fax.options
            options.ecm = ecm
            options.stationID = "15550001111"
            let outcome = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "+1-555-123-4567"),
                                                                      document: Fixtures.threePageFine, options: options)))
            let received = try #require(await receiver.outcomes.next(count: 1, timeout: 30).first)
            let rx = try #require(received.media), tx = try #require(outcome.media)
            print("e2e ecm=\(ecm) \(codec.encodingName) run \(attempt) media: rx \(rx.packetsReceived) packets, \(rx.lateOrLost20ms) frames with loss, \(rx.jitterLate) late; tx \(tx.packetsReceived) packets, \(tx.lateOrLost20ms) frames with loss, \(tx.jitterLate) late")
            let file = try #require(received.file)
            let damage = PageCheck.compare(sent: Fixtures.threePageFine, received: file)
            let intact = outcome.success && received.success && received.pagesTransferred == 3 && damage.isEmpty
            if !intact, rx.lateOrLost20ms + tx.lateOrLost20ms > 0, attempt < 3 {
                print("e2e ecm=\(ecm) \(codec.encodingName) run \(attempt): \(rx.lateOrLost20ms) + \(tx.lateOrLost20ms) frames lost to this machine's scheduling, and it shows (\(received.t30Name); \(damage)); sending again")
                continue
            }

            #expect(outcome.success, "sender: \(outcome.t30Name) \(outcome.detail ?? "")")
            #expect(outcome.pagesTransferred == 3 && outcome.pagesTotal == 3)
            #expect(outcome.sipStatus == 200)
            #expect(outcome.codec == codec.encodingName)
            #expect(outcome.ecm == ecm)
            #expect(outcome.cedDetected, "the sender hears the receiver's CED")
            #expect(received.success, "receiver: \(received.t30Name) \(received.detail ?? "")")
            #expect(received.direction == .inbound)
            #expect(received.localNumber == "15551234567", "DID normalised from the Request-URI")
            #expect(received.pagesTransferred == 3)
            #expect(received.badRows == 0)
            #expect(received.remoteStationID == "15550001111")
            #expect(received.cngDetected, "the receiver hears the sender's CNG")
            #expect(received.hangupCause == .faxComplete, "receiver: \(received.hangupCause) \(received.detail ?? "")")
            #expect(outcome.hangupCause == .faxComplete, "sender: \(outcome.hangupCause) \(outcome.detail ?? "")")
            #expect(file.hasPrefix(receiver.directory + "/fax_files/rx/"))
            #expect(damage == [], "frames with loss: receiver \(rx.lateOrLost20ms), sender \(tx.lateOrLost20ms)")
            #expect(receiver.daemon.orchestrator.activeCalls == 0)
            #expect(eventually { receiver.daemon.media.activeChannels == 0 })
            print("e2e ecm=\(ecm) \(codec.encodingName): \(String(format: "%.1f", Date().timeIntervalSince(started))) s, \(outcome.bitRate) bit/s \(outcome.compression)")
            return
        }
    }
}
